/// The scans: sequential Huffman (jdhuff.c) and progressive (jdphuff.c), with libjpeg's
/// checks and its handling of damaged data, which Pillow passes through.
extension JPEGDecoder {
    /// Parses an SOS header and decodes its data; returns the marker that ended the data.
    mutating func scan() throws(ImageError) -> UInt8 {
        guard var frame else { throw .invalid("JPEG: a scan (SOS) before the frame header (SOF)") }
        let s = Array(try segment())
        let n = s.isEmpty ? 0 : Int(s[0])
        guard (1...4).contains(n), s.count == 4 + 2 * n else { throw .invalid("JPEG: a scan header (SOS) of the wrong length") }
        var members: [Int] = []
        for i in 0..<n {
            let id = s[1 + 2 * i], tables = Int(s[2 + 2 * i])
            // libjpeg looks for the id among the frame's components from position i on, so
            // a scan must list its components in frame order.
            guard let ci = frame.components.indices.first(where: { $0 >= i && frame.components[$0].id == id }),
                  !members.contains(ci) else {
                throw .invalid("JPEG: a scan names component \(id), which the frame lacks or the scan repeats")
            }
            members.append(ci)
            frame.components[ci].dcTable = tables >> 4
            frame.components[ci].acTable = tables & 15
        }
        let ss = Int(s[1 + 2 * n]), se = Int(s[2 + 2 * n]), ah = Int(s[3 + 2 * n] >> 4), al = Int(s[3 + 2 * n] & 15)
        scans += 1
        if scans == 1 {
            singleScan = !frame.progressive && n == frame.components.count
            try allocate(&frame)
            // Sequential files may leave out the Huffman tables: libjpeg then uses JPEG's
            // example tables for slots 0 and 1 (Motion-JPEG does this).
            if !frame.progressive {
                for t in JPEGHuffmanTable.standard where t.index < 2 {
                    if t.isDC && dcSpecs[t.index] == nil { dcSpecs[t.index] = (t.counts, t.values) }
                    if !t.isDC && acSpecs[t.index] == nil { acSpecs[t.index] = (t.counts, t.values) }
                }
            }
        } else if singleScan {
            throw .invalid("JPEG: a second scan after a scan that held the whole sequential image")
        }
        // Quantisation tables are latched by the first scan of each component.
        for ci in members where frame.components[ci].quant == nil {
            let q = frame.components[ci].quantIndex
            guard q < 4, let table = quantTables[q] else { throw .invalid("JPEG: component \(frame.components[ci].id) uses quantisation table \(q), which is not defined") }
            let latched = JPEGBuffer<Int32>(zeroed: 64)
            for k in 0..<64 { latched.pointer[k] = table[k] }
            frame.components[ci].quant = latched
        }
        if frame.progressive {
            let bad = ss == 0 ? se != 0 : (ss > se || se >= 64 || n != 1)
            guard !bad && (ah == 0 || al == ah - 1) && al <= 13 else {
                throw .invalid("JPEG: invalid progressive scan parameters Ss=\(ss) Se=\(se) Ah=\(ah) Al=\(al)")
            }
            for ci in members {
                for k in min(ss, 1)...max(se, 9) { frame.components[ci].previousCoefBits[k] = scans > 1 ? frame.components[ci].coefBits[k] : 0 }
                for k in ss...se { frame.components[ci].coefBits[k] = al }
            }
        }
        var dc: [JPEGHuffmanTable] = [], ac: [JPEGHuffmanTable] = []
        let needDC = !frame.progressive || (ss == 0 && ah == 0)
        let needAC = !frame.progressive || ss > 0
        for ci in members {
            let c = frame.components[ci]
            if needDC { dc.append(try table(dcSpecs, c.dcTable, isDC: true)) }
            if needAC { ac.append(try table(acSpecs, c.acTable, isDC: false)) }
        }
        let blocks = members.reduce(0) { $0 + frame.components[$1].h * frame.components[$1].v }
        guard n == 1 || blocks <= 10 else { throw .invalid("JPEG: an MCU of \(blocks) blocks (at most 10)") }
        self.frame = frame
        var reader = JPEGBitReader(data: data, position: position)
        var state = ScanState(members: members, dc: dc, ac: ac, ss: ss, se: se, ah: ah, al: al)
        if singleScan { replay = (position, state) }
        decodeScan(&reader, &state, frame)
        if reader.neededPastEnd { throw .truncated("the JPEG data ends inside a scan") }
        if state.overflow { throw .invalid("JPEG: a DC coefficient overflows 32 bits") }
        singleScanDecoded = singleScan
        self.frame?.lastGoodRow = state.lastGoodRow
        position = reader.position
        if reader.marker != 0 { return reader.marker }
        scanDataReachedEnd = true
        let marker = try nextMarker()
        scanDataReachedEnd = false
        return marker
    }

    func table(_ specs: [(counts: [Int], values: [UInt8])?], _ slot: Int, isDC: Bool) throws(ImageError) -> JPEGHuffmanTable {
        guard slot < 4, let spec = specs[slot] else {
            throw .invalid("JPEG: a scan uses \(isDC ? "DC" : "AC") Huffman table \(slot), which is not defined")
        }
        return try JPEGHuffmanTable(counts: spec.counts, values: spec.values, isDC: isDC)
    }

    /// Whether Pillow would finish this single-scan image, whose data runs to the end of the
    /// file: the scan decoded again with its reads logged, then JPEGTruncation's replay.
    mutating func pillowFinishes() -> Bool {
        guard let frame, let (start, fresh) = replay else { return true }
        var reader = JPEGBitReader(data: data, position: start)
        reader.recorder = JPEGTruncation.Recorder()
        var state = fresh
        decodeScan(&reader, &state, frame)
        let blocks = fresh.members.count == 1 ? 1 : fresh.members.reduce(0) { $0 + frame.components[$1].h * frame.components[$1].v }
        return JPEGTruncation.pillowFinishes(data: data, start: start, ops: reader.recorder?.ops ?? [], blocksInMCU: blocks,
                                             restartInterval: restartInterval)
    }

    /// Sample planes for a single-scan image, otherwise coefficient arrays (zeroed, as
    /// libjpeg's are) for all components; both sized by the frame, which checkSize bounded.
    mutating func allocate(_ frame: inout JPEGFrame) throws(ImageError) {
        if singleScan {
            planes = frame.components.map { JPEGBuffer<UInt8>(zeroed: $0.blocksAcross * $0.blocksDown * 64) }
        } else {
            var total = 0
            for i in frame.components.indices {
                frame.components[i].coefficientOffset = total
                total += frame.components[i].blocksAcross * frame.components[i].blocksDown * 64
            }
            coefficients = JPEGBuffer<Int16>(zeroed: total)
        }
    }

    struct ScanState {
        let members: [Int]
        /// Kept alive for the scan: the loop reads them through `Member`'s lookups.
        let dc: [JPEGHuffmanTable]
        let ac: [JPEGHuffmanTable]
        let ss: Int, se: Int, ah: Int, al: Int
        var endOfBandRun = 0
        /// The last iMCU row decoded before the data ran short (libjpeg's last_good_iMCU_row).
        var lastGoodRow = 0
        var overflow = false
    }

    /// What the MCU loop needs of one scan component, without reference-counted fields.
    struct Member {
        let h: Int, v: Int
        let widthInBlocks: Int, heightInBlocks: Int, blocksAcross: Int
        let coefficients: UnsafeMutablePointer<Int16>?
        let plane: UnsafeMutablePointer<UInt8>?
        let quant: UnsafePointer<Int32>?
        let dc: JPEGHuffmanLookup?
        let ac: JPEGHuffmanLookup?
    }

    /// Walks the scan's MCUs in order (interleaved: whole MCUs; one component: its real
    /// blocks), handling restart intervals, and decodes each block.
    func decodeScan(_ reader: inout JPEGBitReader, _ state: inout ScanState, _ frame: JPEGFrame) {
        let interleaved = state.members.count > 1
        let members: [Member] = state.members.enumerated().map { m, ci in
            let c = frame.components[ci]
            return Member(h: interleaved ? c.h : 1, v: interleaved ? c.v : 1, widthInBlocks: c.widthInBlocks,
                          heightInBlocks: c.heightInBlocks, blocksAcross: c.blocksAcross,
                          coefficients: coefficients.map { $0.pointer + c.coefficientOffset },
                          plane: singleScan ? planes[ci].pointer : nil, quant: c.quant.map { UnsafePointer($0.pointer) },
                          dc: m < state.dc.count ? state.dc[m].view : nil, ac: m < state.ac.count ? state.ac[m].view : nil)
        }
        let first = frame.components[state.members[0]]
        let across = interleaved ? frame.mcusAcross : first.widthInBlocks
        let down = interleaved ? frame.mcusDown : first.heightInBlocks
        let firstV = first.v
        var restartsLeft = restartInterval
        var nextRestart = 0
        let block = UnsafeMutablePointer<Int16>.allocate(capacity: 64)
        let workspace = UnsafeMutablePointer<Int16>.allocate(capacity: 64)
        let predictions = UnsafeMutablePointer<Int32>.allocate(capacity: 4)
        predictions.initialize(repeating: 0, count: 4)
        defer {
            block.deallocate()
            workspace.deallocate()
            predictions.deallocate()
        }
        // libjpeg skips whole MCUs once the data has run short (until the next restart),
        // except in DC refinement scans, which read zeros harmlessly.
        let alwaysDecode = frame.progressive && state.ss == 0 && state.ah > 0
        let progressive = frame.progressive
        JPEGDecoder.naturalOrder.withUnsafeBufferPointer { natural in
            members.withUnsafeBufferPointer { members in
                for my in 0..<down {
                    for mx in 0..<across {
                        if restartInterval > 0 {
                            if restartsLeft == 0 {
                                reader.restart(expected: nextRestart)
                                nextRestart = (nextRestart + 1) & 7
                                predictions.update(repeating: 0, count: 4)
                                state.endOfBandRun = 0
                                restartsLeft = restartInterval
                            }
                            restartsLeft -= 1
                        }
                        if !reader.insufficient { state.lastGoodRow = interleaved ? my : my / firstV }
                    if let recorder = reader.recorder { recorder.ops.append(0) }
                        let skip = reader.insufficient && !alwaysDecode
                        for m in 0..<members.count {
                            let c = members[m]
                            for yy in 0..<c.v {
                                for xx in 0..<c.h {
                                    let bx = mx * c.h + xx, by = my * c.v + yy
                                    if let plane = c.plane {
                                        block.update(repeating: 0, count: 64)
                                        if !skip, let dc = c.dc, let ac = c.ac {
                                            decodeSequential(&reader, block, dc, ac, &predictions[m], natural)
                                        }
                                        if bx < c.widthInBlocks && by < c.heightInBlocks, let q = c.quant {
                                            let stride = c.blocksAcross * 8
                                            JPEGInverseDCT.transform(block, q, workspace, plane + by * 8 * stride + bx * 8, stride)
                                        }
                                    } else if !skip, let coefficients = c.coefficients {
                                        let b = coefficients + (by * c.blocksAcross + bx) * 64
                                        decodeBlock(&reader, &state, c, &predictions[m], b, progressive, natural)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    func decodeBlock(_ reader: inout JPEGBitReader, _ state: inout ScanState, _ c: Member, _ prediction: inout Int32,
                     _ b: UnsafeMutablePointer<Int16>, _ progressive: Bool, _ natural: UnsafeBufferPointer<Int>) {
        if !progressive {
            guard let dc = c.dc, let ac = c.ac else { return }
            decodeSequential(&reader, b, dc, ac, &prediction, natural)
        } else if state.ss == 0 {
            if state.ah == 0 {
                // libjpeg stops on a DC value past 32 bits here (and lets it wrap in
                // sequential scans).
                guard let dc = c.dc else { return }
                let diff = reader.signed(reader.decode(dc))
                let (sum, overflow) = prediction.addingReportingOverflow(Int32(truncatingIfNeeded: diff))
                if overflow { state.overflow = true }
                prediction = sum
                b[0] = Int16(truncatingIfNeeded: Int(sum) << state.al)
            } else if reader.bits(1) != 0 {
                b[0] |= Int16(truncatingIfNeeded: 1 << state.al)
            }
        } else if let ac = c.ac {
            if state.ah == 0 {
                acFirst(&reader, &state, ac, b, natural)
            } else {
                acRefine(&reader, &state, ac, b, natural)
            }
        }
    }

    /// A whole block of a sequential scan; `b` must be zero (or hold what an earlier scan of
    /// the same component wrote, as in libjpeg).
    @inline(__always)
    func decodeSequential(_ reader: inout JPEGBitReader, _ b: UnsafeMutablePointer<Int16>, _ dc: JPEGHuffmanLookup,
                          _ ac: JPEGHuffmanLookup, _ prediction: inout Int32, _ natural: UnsafeBufferPointer<Int>) {
        reader.ensure32()
        let diff = reader.magnitude(reader.symbol(dc))
        prediction &+= Int32(truncatingIfNeeded: diff)
        b[0] = Int16(truncatingIfNeeded: prediction)
        var k = 1
        while k < 64 {
            reader.ensure32()
            let rs = reader.symbol(ac)
            let r = rs >> 4, s = rs & 15
            if s != 0 {
                k += r
                b[natural[k]] = Int16(truncatingIfNeeded: reader.magnitude(s))
                k += 1
            } else {
                if r != 15 { break }
                k += 16
            }
        }
    }

    func acFirst(_ reader: inout JPEGBitReader, _ state: inout ScanState, _ table: JPEGHuffmanLookup, _ b: UnsafeMutablePointer<Int16>,
                 _ natural: UnsafeBufferPointer<Int>) {
        if state.endOfBandRun > 0 {
            state.endOfBandRun -= 1
            return
        }
        var k = state.ss
        while k <= state.se {
            let rs = reader.decode(table)
            let r = rs >> 4, s = rs & 15
            if s != 0 {
                k += r
                b[natural[k]] = Int16(truncatingIfNeeded: reader.signed(s) << state.al)
            } else if r == 15 {
                k += 15
            } else {
                state.endOfBandRun = (1 << r) + reader.bits(r) - 1
                break
            }
            k += 1
        }
    }

    /// Successive approximation of AC coefficients (JPEG G.1.2.3): new coefficients of
    /// magnitude 1 << Al, correction bits for those already nonzero.
    func acRefine(_ reader: inout JPEGBitReader, _ state: inout ScanState, _ table: JPEGHuffmanLookup, _ b: UnsafeMutablePointer<Int16>,
                  _ natural: UnsafeBufferPointer<Int>) {
        let p1 = Int16(truncatingIfNeeded: 1 << state.al), m1 = Int16(truncatingIfNeeded: -1 << state.al)
        let se = state.se
        var k = state.ss
        @inline(__always) func correct(_ pos: Int) {
            if reader.bits(1) != 0 && b[pos] & p1 == 0 {
                b[pos] = b[pos] >= 0 ? b[pos] &+ p1 : b[pos] &+ m1
            }
        }
        if state.endOfBandRun == 0 {
            while k <= se {
                let rs = reader.decode(table)
                var r = rs >> 4
                let s = rs & 15
                var value: Int16 = 0
                if s != 0 {
                    value = reader.bits(1) != 0 ? p1 : m1
                } else if r != 15 {
                    state.endOfBandRun = (1 << r) + reader.bits(r)
                    break
                }
                // Past r zero coefficients (correcting the nonzero ones on the way) to the
                // one that becomes nonzero.
                repeat {
                    let pos = natural[k]
                    if b[pos] != 0 {
                        correct(pos)
                    } else {
                        r -= 1
                        if r < 0 { break }
                    }
                    k += 1
                } while k <= se
                if value != 0 { b[natural[k]] = value }
                k += 1
            }
        }
        if state.endOfBandRun > 0 {
            while k <= se {
                let pos = natural[k]
                if b[pos] != 0 { correct(pos) }
                k += 1
            }
            state.endOfBandRun -= 1
        }
    }
}
