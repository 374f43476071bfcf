/// The end of the file: coefficients to samples, then samples to RGB. Progressive files
/// whose low-frequency coefficients are not all fully refined get libjpeg-turbo 3.x's block
/// smoothing (jdcoefct.c decompress_smooth_data), which Pillow leaves on: coefficients 1...9
/// that are still zero are estimated from the DC values of a 5x5 neighbourhood of blocks
/// and, when a component has no AC data at all, its DC too. A complete progressive file is
/// not smoothed and decodes exactly like its baseline twin.
extension JPEGDecoder {
    mutating func finish() throws(ImageError) -> RGBImage {
        guard let frame, scans > 0 else { throw .invalid("JPEG: no image data before the EOI marker") }
        if !singleScan, let coefficients {
            planes = frame.components.map { JPEGBuffer<UInt8>(zeroed: $0.blocksAcross * $0.blocksDown * 64) }
            let smooth = frame.progressive && smoothingUseful(frame)
            let workspace = UnsafeMutablePointer<Int16>.allocate(capacity: 64)
            let block = UnsafeMutablePointer<Int16>.allocate(capacity: 64)
            defer {
                workspace.deallocate()
                block.deallocate()
            }
            for (ci, c) in frame.components.enumerated() {
                // A component no scan coded has no table: libjpeg's IDCT multiplies by zero.
                let quant = c.quant ?? JPEGBuffer<Int32>(zeroed: 64)
                let qp = UnsafePointer(quant.pointer)
                let stride = c.blocksAcross * 8
                let plane = planes[ci].pointer
                let base = coefficients.pointer + c.coefficientOffset
                if smooth {
                    smoothComponent(c, frame, base, qp, block, workspace, plane)
                    continue
                }
                for by in 0..<c.heightInBlocks {
                    for bx in 0..<c.widthInBlocks {
                        JPEGInverseDCT.transform(base + (by * c.blocksAcross + bx) * 64, qp, workspace,
                                                 plane + by * 8 * stride + bx * 8, stride)
                    }
                }
            }
        }
        let jpegPlanes = zip(frame.components, planes).map { c, p in
            JPEGPlane(samples: p.pointer, stride: c.blocksAcross * 8, width: c.sampleWidth, height: c.sampleHeight,
                      hRatio: frame.maxH / c.h, vRatio: frame.maxV / c.v)
        }
        let space = frame.colorSpace(sawJFIF: sawJFIF, adobeTransform: adobeTransform)
        let pixels = JPEGColor.rgb(planes: jpegPlanes, space: space, width: frame.width, height: frame.height)
        return RGBImage(unchecked: frame.width, frame.height, pixels)
    }

    /// Natural-order positions of zigzag coefficients 1...9, the ones smoothing estimates.
    static let smoothedPositions = [1, 8, 16, 9, 2, 3, 10, 17, 24]

    /// libjpeg's smoothing_ok: every component has a table with nonzero entries for the DC and
    /// coefficients 1...9 and at least some DC bits, and some coefficient 1...9 of some
    /// component is not known to full precision.
    func smoothingUseful(_ frame: JPEGFrame) -> Bool {
        var useful = false
        for c in frame.components {
            guard let q = c.quant?.pointer, q[0] != 0, Self.smoothedPositions.allSatisfy({ q[$0] != 0 }) else { return false }
            guard c.coefBits[0] >= 0 else { return false }
            if c.coefBits[1...9].contains(where: { $0 != 0 }) { useful = true }
        }
        return useful
    }

    func smoothComponent(_ c: JPEGComponent, _ frame: JPEGFrame, _ base: UnsafeMutablePointer<Int16>, _ q: UnsafePointer<Int32>,
                         _ work: UnsafeMutablePointer<Int16>, _ workspace: UnsafeMutablePointer<Int16>, _ plane: UnsafeMutablePointer<UInt8>) {
        let total = frame.mcusDown
        let stride = c.blocksAcross * 8
        let lastColumn = c.widthInBlocks - 1
        let current = c.coefBits
        let previous = scans > 1 ? c.previousCoefBits : [Int](repeating: -1, count: 64)
        let q00 = Int(q[0])
        let qs = Self.smoothedPositions.map { Int(q[$0]) }
        let dc = UnsafeMutablePointer<Int>.allocate(capacity: 25)
        defer { dc.deallocate() }
        for outRow in 0..<total {
            // In the last iMCU row only the real block rows; libjpeg also numbers the rows
            // of that iMCU row with this smaller count, which decides the edges below.
            var blockRows = c.v
            if outRow == total - 1 {
                blockRows = c.heightInBlocks % c.v
                if blockRows == 0 { blockRows = c.v }
            }
            let imageBlockRows = blockRows * total
            // Rows after the data of the last scan ran short are smoothed as before that scan.
            let bits = outRow > frame.lastGoodRow ? previous : current
            let changeDC = (1...9).allSatisfy { bits[$0] == -1 }
            for br in 0..<blockRows {
                let imageBlockRow = outRow * blockRows + br
                let row = outRow * c.v + br
                let above = imageBlockRow > 0 ? row - 1 : row
                let above2 = imageBlockRow > 1 ? row - 2 : above
                let below = imageBlockRow < imageBlockRows - 1 ? row + 1 : row
                let below2 = imageBlockRow < imageBlockRows - 2 ? row + 2 : below
                let rows = [above2, above, row, below, below2]
                for bx in 0...lastColumn {
                    // dc[5r + k]: the DC of the block r-2 rows and k-2 columns away, edges repeated.
                    for r in 0..<5 {
                        for k in 0..<5 {
                            let x = min(max(bx + k - 2, 0), lastColumn)
                            dc[5 * r + k] = Int(base[(rows[r] * c.blocksAcross + x) * 64])
                        }
                    }
                    let blockPointer = base + (row * c.blocksAcross + bx) * 64
                    work.update(from: blockPointer, count: 64)
                    Self.estimate(work, dc, bits, changeDC, q00, qs)
                    JPEGInverseDCT.transform(work, q, workspace, plane + row * 8 * stride + bx * 8, stride)
                }
            }
        }
    }

    /// The estimates of decompress_smooth_data, DC01...DC25 being dc[0]...dc[24].
    static func estimate(_ w: UnsafeMutablePointer<Int16>, _ dc: UnsafeMutablePointer<Int>, _ bits: [Int], _ changeDC: Bool,
                         _ q00: Int, _ qs: [Int]) {
        @inline(__always) func d(_ n: Int) -> Int { dc[n - 1] }
        func apply(_ index: Int, _ pos: Int, _ sum: Int) {
            let al = bits[index]
            guard al != 0 && w[pos] == 0 else { return }
            let q = qs[index - 1]
            let num = q00 * sum
            var pred: Int
            if num >= 0 {
                pred = ((q << 7) + num) / (q << 8)
                if al > 0 && pred >= 1 << al { pred = (1 << al) - 1 }
            } else {
                pred = ((q << 7) - num) / (q << 8)
                if al > 0 && pred >= 1 << al { pred = (1 << al) - 1 }
                pred = -pred
            }
            w[pos] = Int16(truncatingIfNeeded: Int32(truncatingIfNeeded: pred))
        }
        if changeDC {
            apply(1, 1, -d(1) - d(2) + d(4) + d(5) - 3 * d(6) + 13 * d(7) - 13 * d(9) + 3 * d(10) - 3 * d(11) + 38 * d(12)
                  - 38 * d(14) + 3 * d(15) - 3 * d(16) + 13 * d(17) - 13 * d(19) + 3 * d(20) - d(21) - d(22) + d(24) + d(25))
            apply(2, 8, -d(1) - 3 * d(2) - 3 * d(3) - 3 * d(4) - d(5) - d(6) + 13 * d(7) + 38 * d(8) + 13 * d(9) - d(10)
                  + d(16) - 13 * d(17) - 38 * d(18) - 13 * d(19) + d(20) + d(21) + 3 * d(22) + 3 * d(23) + 3 * d(24) + d(25))
            apply(3, 16, d(3) + 2 * d(7) + 7 * d(8) + 2 * d(9) - 5 * d(12) - 14 * d(13) - 5 * d(14) + 2 * d(17) + 7 * d(18)
                  + 2 * d(19) + d(23))
            apply(4, 9, -d(1) + d(5) + 9 * d(7) - 9 * d(9) - 9 * d(17) + 9 * d(19) + d(21) - d(25))
            apply(5, 2, 2 * d(7) - 5 * d(8) + 2 * d(9) + d(11) + 7 * d(12) - 14 * d(13) + 7 * d(14) + d(15) + 2 * d(17)
                  - 5 * d(18) + 2 * d(19))
            apply(6, 3, d(7) - d(9) + 2 * d(12) - 2 * d(14) + d(17) - d(19))
            apply(7, 10, d(7) - 3 * d(8) + d(9) - d(17) + 3 * d(18) - d(19))
            apply(8, 17, d(7) - d(9) - 3 * d(12) + 3 * d(14) + d(17) - d(19))
            apply(9, 24, d(7) + 2 * d(8) + d(9) - d(17) - 2 * d(18) - d(19))
            // The DC itself, always (coefficient 0 has some bits, or there is no smoothing).
            let num = q00 * (-2 * d(1) - 6 * d(2) - 8 * d(3) - 6 * d(4) - 2 * d(5) - 6 * d(6) + 6 * d(7) + 42 * d(8)
                             + 6 * d(9) - 6 * d(10) - 8 * d(11) + 42 * d(12) + 152 * d(13) + 42 * d(14) - 8 * d(15)
                             - 6 * d(16) + 6 * d(17) + 42 * d(18) + 6 * d(19) - 6 * d(20) - 2 * d(21) - 6 * d(22)
                             - 8 * d(23) - 6 * d(24) - 2 * d(25))
            let pred = num >= 0 ? ((q00 << 7) + num) / (q00 << 8) : -(((q00 << 7) - num) / (q00 << 8))
            w[0] = Int16(truncatingIfNeeded: Int32(truncatingIfNeeded: pred))
        } else {
            apply(1, 1, -7 * d(11) + 50 * d(12) - 50 * d(14) + 7 * d(15))
            apply(2, 8, -7 * d(3) + 50 * d(8) - 50 * d(18) + 7 * d(23))
            apply(3, 16, -d(3) + 13 * d(8) - 24 * d(13) + 13 * d(18) - d(23))
            apply(4, 9, d(10) + d(16) - 10 * d(17) + 10 * d(19) - d(2) - d(20) + d(22) - d(24) + d(4) - d(6) + 10 * d(7) - 10 * d(9))
            apply(5, 2, -d(11) + 13 * d(12) - 24 * d(13) + 13 * d(14) - d(15))
        }
    }
}
