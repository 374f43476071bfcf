/// JPEG's entropy-coded bits, read the way libjpeg-turbo reads them, because corrupt data must
/// come out as Pillow's image does: once a marker ends the data, every further bit reads as
/// zero and the scan is flagged as short of data (the decoders then leave the remaining blocks
/// of the restart interval alone); an impossible code reads as symbol 0 after 17 bits.
struct JPEGBitReader {
    let data: UnsafeBufferPointer<UInt8>
    /// The next byte not yet in `buffer`.
    var position: Int
    /// Unconsumed bits, most significant first; bits below `count` are zero, which is what a
    /// read past the data gets.
    var buffer: UInt64 = 0
    var count = 0
    /// The marker that ended the entropy-coded data (libjpeg's `unread_marker`), or 0.
    var marker: UInt8 = 0
    /// Set when a read needed bits the data did not have (libjpeg's `insufficient_data`).
    var insufficient = false
    /// A read needed bits past the end of the file (not past a marker): the data is truncated.
    var neededPastEnd = false
    /// When set, every code and magnitude read is logged (JPEGTruncation replays them).
    var recorder: JPEGTruncation.Recorder?

    init(data: UnsafeBufferPointer<UInt8>, position: Int) {
        self.data = data
        self.position = position
    }

    /// Loads whole bytes until at least 57 bits are buffered or a marker stops the data.
    /// FF 00 is a data byte FF; FF FF ... FF 00 is one too, as libjpeg accepts it.
    @inline(__always)
    mutating func fill() {
        while count <= 56 && marker == 0 {
            guard position < data.count else { return }
            var c = data[position]
            position += 1
            if c == 0xff {
                var next: UInt8 = 0xff
                while next == 0xff {
                    guard position < data.count else { return }
                    next = data[position]
                    position += 1
                }
                if next != 0 {
                    marker = next
                    return
                }
                c = 0xff
            }
            buffer |= UInt64(c) << UInt64(56 - count)
            count += 8
        }
    }

    /// The reads below need at most 32 bits between refills (a code of up to 16 or 17 bits
    /// and a magnitude of up to 15); a refill leaves at least 57 unless the data has ended,
    /// and past the end the buffer reads as zeros, which is what libjpeg reads there.
    @inline(__always)
    mutating func ensure32() {
        if count < 32 { fill() }
    }

    @inline(__always)
    mutating func consume(_ n: Int) {
        buffer <<= UInt64(n)
        count -= n
        if count < 0 { ranShort() }
    }

    /// The read went past the real bits: libjpeg's "insufficient data" (and truncation when
    /// no marker ended the data).
    @inline(never)
    mutating func ranShort() {
        if marker == 0 { neededPastEnd = true }
        insufficient = true
        count = 0
    }

    @inline(__always)
    mutating func bits(_ n: Int) -> Int {
        guard n > 0 else { return 0 }
        ensure32()
        let v = Int(truncatingIfNeeded: buffer >> UInt64(64 - n))
        consume(n)
        return v
    }

    /// A coefficient of `n` magnitude bits (JPEG's EXTEND: the values with a leading 0 bit
    /// are negative); the caller has called ensure32 since the last read that could empty it.
    @inline(__always)
    mutating func magnitude(_ n: Int) -> Int {
        guard n > 0 else { return 0 }
        let v = Int(truncatingIfNeeded: buffer >> UInt64(64 - n))
        consume(n)
        if let recorder { recorder.ops.append(Int8(-n)) }
        return v < 1 << (n - 1) ? v - (1 << n) + 1 : v
    }

    @inline(__always)
    mutating func signed(_ n: Int) -> Int {
        ensure32()
        return magnitude(n)
    }

    /// A Huffman symbol; the caller has called ensure32.
    @inline(__always)
    mutating func symbol(_ t: JPEGHuffmanLookup) -> Int {
        let e = Int(t.lookup[Int(truncatingIfNeeded: buffer >> UInt64(64 - JPEGHuffmanTable.lookahead))])
        if e != 0 {
            consume(e >> 8)
            if let recorder { recorder.ops.append(Int8(e >> 8)) }
            return e & 0xff
        }
        return decodeLong(t)
    }

    @inline(__always)
    mutating func decode(_ t: JPEGHuffmanLookup) -> Int {
        ensure32()
        return symbol(t)
    }

    /// Codes longer than the lookahead, compared length by length with the largest code of
    /// each length (JPEG's Figure F.16); a code no table has costs 17 bits and reads as 0.
    mutating func decodeLong(_ t: JPEGHuffmanLookup) -> Int {
        let code16 = Int(truncatingIfNeeded: buffer >> 48)
        for l in (JPEGHuffmanTable.lookahead + 1)...16 {
            let code = code16 >> (16 - l)
            if code <= Int(t.maxCode[l]) {
                consume(l)
                if let recorder { recorder.ops.append(Int8(l)) }
                return Int(t.symbols[(code + Int(t.valueOffset[l])) & 0xff])
            }
        }
        consume(17)
        if let recorder { recorder.ops.append(17) }
        return 0
    }

    /// Drops the bits left before a restart marker and reads the marker as libjpeg does
    /// (read_restart_marker and jpeg_resync_to_restart): the expected RSTn is swallowed;
    /// a marker further on is left unread, so the interval reads as zeros.
    mutating func restart(expected: Int) {
        buffer = 0
        count = 0
        if marker == 0 { marker = nextMarker() }
        if marker == 0 { neededPastEnd = true }
        while true {
            let m = Int(marker)
            if m == 0xd0 + expected {
                marker = 0
                break
            }
            let action: Int
            if m < 0xc0 {
                action = 2
            } else if m < 0xd0 || m > 0xd7 {
                action = 3
            } else if m == 0xd0 + (expected + 1) & 7 || m == 0xd0 + (expected + 2) & 7 {
                action = 3
            } else if m == 0xd0 + (expected - 1) & 7 || m == 0xd0 + (expected - 2) & 7 {
                action = 2
            } else {
                action = 1
            }
            if action == 1 {
                marker = 0
                break
            }
            if action == 3 { break }
            marker = nextMarker()
            if marker == 0 {
                neededPastEnd = true
                break
            }
        }
        if marker == 0 { insufficient = false }
    }

    /// Skips to the next marker, as libjpeg's next_marker does between segments; 0 if the
    /// file ends first.
    mutating func nextMarker() -> UInt8 {
        while position < data.count {
            if data[position] != 0xff {
                position += 1
                continue
            }
            while position < data.count && data[position] == 0xff { position += 1 }
            guard position < data.count else { break }
            let c = data[position]
            position += 1
            if c != 0 { return c }
        }
        return 0
    }
}

/// Pointers into a JPEGHuffmanTable's storage, valid while the table lives.
struct JPEGHuffmanLookup {
    let lookup: UnsafePointer<UInt16>
    let maxCode: UnsafePointer<Int32>
    let valueOffset: UnsafePointer<Int32>
    let symbols: UnsafePointer<UInt8>
}

/// One DHT table, ready for decoding: a 9-bit lookahead table for the short codes and, for
/// the rest, the largest code of each length (libjpeg's derived table, with the same checks).
/// The arrays live in one allocation that the hot loop reads through `lookupView` without
/// reference counting.
final class JPEGHuffmanTable {
    static let lookahead = 9
    /// lookup (512 UInt16: length << 8 | symbol per 9-bit prefix that starts with a short
    /// code, else 0), maxCode and valueOffset (18 Int32 each, per length; maxCode -1 when a
    /// length has no codes), symbols (256 bytes, zero past the table's own).
    private let storage: UnsafeMutableRawPointer
    let view: JPEGHuffmanLookup

    /// `counts` holds the number of codes of each length 1...16; `values` the symbols.
    init(counts: [Int], values: [UInt8], isDC: Bool) throws(ImageError) {
        guard values.count <= 256 else { throw .invalid("JPEG: a Huffman table has more than 256 codes") }
        var sizes: [Int] = []
        for l in 1...16 { sizes += [Int](repeating: l, count: counts[l - 1]) }
        // Canonical codes (JPEG's Figure C.2); no length may run out of codes, and the
        // all-ones code of a length stays unused.
        var codes = [Int](repeating: 0, count: sizes.count)
        var code = 0
        var p = 0
        for l in 1...16 {
            while p < sizes.count && sizes[p] == l {
                codes[p] = code
                code += 1
                p += 1
            }
            guard code < 1 << l else { throw .invalid("JPEG: a Huffman table has more codes than its lengths allow") }
            code <<= 1
        }
        if isDC, values.contains(where: { $0 > 15 }) {
            throw .invalid("JPEG: a DC Huffman table has a symbol above 15")
        }
        let lookupCount = 1 << Self.lookahead
        storage = .allocate(byteCount: lookupCount * 2 + 2 * 18 * 4 + 256, alignment: 8)
        let maxCode = (storage + lookupCount * 2).bindMemory(to: Int32.self, capacity: 36)
        let valueOffset = maxCode + 18
        let lookup = storage.bindMemory(to: UInt16.self, capacity: lookupCount)
        let symbols = (storage + lookupCount * 2 + 2 * 18 * 4).bindMemory(to: UInt8.self, capacity: 256)
        lookup.initialize(repeating: 0, count: lookupCount)
        maxCode.initialize(repeating: -1, count: 18)
        valueOffset.initialize(repeating: 0, count: 18)
        symbols.initialize(repeating: 0, count: 256)
        for (i, v) in values.enumerated() { symbols[i] = v }
        p = 0
        for l in 1...16 where counts[l - 1] > 0 {
            valueOffset[l] = Int32(p - codes[p])
            p += counts[l - 1]
            maxCode[l] = Int32(codes[p - 1])
        }
        maxCode[17] = 0xfffff
        for (i, l) in sizes.enumerated() where l <= Self.lookahead {
            let first = codes[i] << (Self.lookahead - l)
            for j in 0..<(1 << (Self.lookahead - l)) { lookup[first + j] = UInt16(l << 8) | UInt16(values[i]) }
        }
        view = JPEGHuffmanLookup(lookup: lookup, maxCode: maxCode, valueOffset: valueOffset, symbols: symbols)
    }

    deinit { storage.deallocate() }

    /// The tables of JPEG's Annex K.3, which libjpeg uses for any table a file never
    /// defines (Motion-JPEG frames leave them out).
    static let standard: [(isDC: Bool, index: Int, counts: [Int], values: [UInt8])] = [
        (true, 0, [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], Array(0...11)),
        (true, 1, [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], Array(0...11)),
        (false, 0, [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d], [
            0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
            0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
            0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
            0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
            0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
            0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
            0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
            0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
            0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
            0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
            0xf9, 0xfa,
        ]),
        (false, 1, [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77], [
            0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
            0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
            0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
            0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
            0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
            0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
            0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
            0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
            0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
            0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
            0xf9, 0xfa,
        ]),
    ]
}
