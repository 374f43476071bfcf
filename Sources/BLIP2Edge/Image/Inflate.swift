/// zlib (RFC 1950) around DEFLATE (RFC 1951), for PNG's image data. Our own so that the
/// library keeps no dependencies. The input comes from files we did not make, so every code,
/// length and distance is checked, and the output is bounded by the caller before it grows.
enum Inflate {
    /// The inflated bytes of one complete zlib stream. Output past `limit` bytes is an error
    /// raised before the bytes are stored, so a decompression bomb costs at most `limit`.
    /// Bytes after the Adler-32 trailer are ignored, as zlib does. With
    /// `trailerMayBeMissing`, a stream cut inside its trailer is accepted unchecked: Pillow
    /// stops feeding zlib once the image is complete, so only a present, wrong checksum fails.
    static func zlib(_ data: [UInt8], limit: Int, trailerMayBeMissing: Bool = false) throws(ImageError) -> [UInt8] {
        guard data.count >= 2 else { throw .truncated("the zlib stream ends inside its header") }
        let cmf = Int(data[0]), flg = Int(data[1])
        guard cmf & 0x0f == 8 else { throw .invalid("zlib: compression method \(cmf & 0x0f) is not deflate") }
        guard cmf >> 4 <= 7 else { throw .invalid("zlib: window size 2^\((cmf >> 4) + 8) exceeds 32 KiB") }
        guard (cmf << 8 | flg) % 31 == 0 else { throw .invalid("zlib: the header check bits are wrong") }
        // A preset dictionary is something a PNG decoder cannot supply.
        guard flg & 0x20 == 0 else { throw .invalid("zlib: the stream needs a preset dictionary") }
        var state = Inflater(bits: BitReader(data: data, position: 2), limit: limit)
        try state.run()
        let p = state.bits.alignedBytePosition()
        guard data.count - p >= 4 else {
            if trailerMayBeMissing { return state.output }
            throw .truncated("the zlib stream ends before its Adler-32 checksum")
        }
        let stored = UInt32(data[p]) << 24 | UInt32(data[p + 1]) << 16 | UInt32(data[p + 2]) << 8 | UInt32(data[p + 3])
        guard adler32(state.output) == stored else { throw .invalid("zlib: the Adler-32 checksum does not match the data") }
        return state.output
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        var i = 0
        // 5552 is the most bytes whose sums cannot overflow 32 bits before the modulo.
        while i < bytes.count {
            let end = min(bytes.count, i + 5552)
            while i < end {
                a &+= UInt32(bytes[i])
                b &+= a
                i += 1
            }
            a %= 65521
            b %= 65521
        }
        return b << 16 | a
    }
}

/// Least-significant-bit-first reading, as DEFLATE packs its bits.
struct BitReader {
    let data: [UInt8]
    var position: Int
    /// Bits read from `data` but not yet consumed; bits above `count` are zero.
    var buffer: UInt64 = 0
    var count = 0

    init(data: [UInt8], position: Int) {
        self.data = data
        self.position = position
    }

    mutating func fill() {
        while count <= 56 && position < data.count {
            buffer |= UInt64(data[position]) << UInt64(count)
            position += 1
            count += 8
        }
    }

    mutating func take(_ n: Int) throws(ImageError) -> Int {
        if count < n {
            fill()
            guard count >= n else { throw .truncated("the compressed data ends inside a block") }
        }
        let v = Int(buffer & ((1 << UInt64(n)) - 1))
        buffer >>= UInt64(n)
        count -= n
        return v
    }

    /// The next n bits, zero-padded past the end of the data; `drop` then says whether they were real.
    mutating func peek(_ n: Int) -> Int {
        if count < n { fill() }
        return Int(buffer & ((1 << UInt64(n)) - 1))
    }

    mutating func drop(_ n: Int) throws(ImageError) {
        guard n <= count else { throw .truncated("the compressed data ends inside a code") }
        buffer >>= UInt64(n)
        count -= n
    }

    /// Discards the bits left in the current byte and returns the position of the next whole byte.
    mutating func alignedBytePosition() -> Int {
        let wholeBytes = count / 8
        position -= wholeBytes
        buffer = 0
        count = 0
        return position
    }
}

/// A canonical Huffman code: a lookup table indexed by the next `fastBits` bits (reversed, as
/// DEFLATE stores codes) for the codes that short, and for longer ones a walk over the code
/// lengths (puff.c's `decode`). A single table over all 15 bits would cost up to 32K stores
/// per block, and a block that sets up its tables and writes nothing is about 30 bytes.
struct HuffmanTable {
    static let fastBits = 9
    /// symbol << 4 | length for codes of at most `fastBits` bits; 0 otherwise.
    var table: [UInt16]
    var tableBits: Int
    var maxLength: Int
    /// Codes per length, and the symbols ordered by code (by length, then by symbol).
    var perLength: [Int]
    var symbols: [UInt16]

    /// zlib's rules: an over-subscribed code is an error; an incomplete one is allowed only
    /// when it is a single code of length 1 (or, for `canBeIncomplete == false`, never).
    init(lengths: ArraySlice<UInt8>, canBeIncomplete: Bool) throws(ImageError) {
        var perLength = [Int](repeating: 0, count: 16)
        for l in lengths { perLength[Int(l)] += 1 }
        perLength[0] = 0
        var left = 1
        var maxLength = 0
        for len in 1...15 {
            left <<= 1
            left -= perLength[len]
            guard left >= 0 else { throw .invalid("deflate: a Huffman code is over-subscribed") }
            if perLength[len] > 0 { maxLength = len }
        }
        if left > 0 && maxLength > 0 && (!canBeIncomplete || maxLength != 1) {
            throw .invalid("deflate: a Huffman code is incomplete")
        }
        self.init(checkedLengths: lengths)
    }

    /// Lengths that form a complete code (or a single code of length 1).
    init(checkedLengths lengths: ArraySlice<UInt8>) {
        perLength = [Int](repeating: 0, count: 16)
        for l in lengths { perLength[Int(l)] += 1 }
        perLength[0] = 0
        maxLength = perLength.lastIndex { $0 > 0 } ?? 0
        tableBits = min(maxLength, Self.fastBits)
        table = [UInt16](repeating: 0, count: 1 << tableBits)
        var offsets = [Int](repeating: 0, count: 16)
        for len in 1..<15 { offsets[len + 1] = offsets[len] + perLength[len] }
        symbols = [UInt16](repeating: 0, count: offsets[15] + perLength[15])
        var next = [Int](repeating: 0, count: 16)
        var code = 0
        for len in 1..<16 {
            code = (code + perLength[len - 1]) << 1
            next[len] = code
        }
        for (i, l) in lengths.enumerated() where l > 0 {
            let len = Int(l)
            symbols[offsets[len]] = UInt16(i)
            offsets[len] += 1
            guard len <= tableBits else { continue }
            var reversed = 0
            var c = next[len]
            next[len] += 1
            for _ in 0..<len {
                reversed = reversed << 1 | c & 1
                c >>= 1
            }
            let entry = UInt16(i << 4 | len)
            var j = reversed
            while j < table.count {
                table[j] = entry
                j += 1 << len
            }
        }
    }

    func decode(_ bits: inout BitReader) throws(ImageError) -> Int {
        let entry = Int(table[bits.peek(tableBits)])
        let len = entry & 15
        if len > 0 {
            try bits.drop(len)
            return entry >> 4
        }
        if maxLength > tableBits {
            // Canonical codes of one length are consecutive: `first` is the first code of
            // length `len`, `index` the position of its symbol in `symbols`.
            let peeked = bits.peek(maxLength)
            var code = 0, first = 0, index = 0
            for len in 1...maxLength {
                code |= peeked >> (len - 1) & 1
                let count = perLength[len]
                if code - first < count {
                    try bits.drop(len)
                    return Int(symbols[index + code - first])
                }
                index += count
                first = (first + count) << 1
                code <<= 1
            }
        }
        if bits.count < maxLength { throw .truncated("the compressed data ends inside a code") }
        throw .invalid("deflate: a bit pattern is not a code of the block's Huffman table")
    }
}

struct Inflater {
    var bits: BitReader
    let limit: Int
    var output: [UInt8] = []

    init(bits: BitReader, limit: Int) {
        self.bits = bits
        self.limit = limit
        // Room for a typical ratio, never the whole limit: the limit is a bound, not an estimate.
        output.reserveCapacity(min(limit, max(1 << 16, bits.data.count * 4)))
    }

    static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distanceExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    static let codeLengthOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    // Both fixed codes are complete.
    static let fixedLiterals: HuffmanTable = {
        let lengths = [UInt8](repeating: 8, count: 144) + [UInt8](repeating: 9, count: 112)
            + [UInt8](repeating: 7, count: 24) + [UInt8](repeating: 8, count: 8)
        return HuffmanTable(checkedLengths: lengths[...])
    }()
    static let fixedDistances = HuffmanTable(checkedLengths: [UInt8](repeating: 5, count: 32)[...])

    mutating func run() throws(ImageError) {
        var last = false
        while !last {
            last = try bits.take(1) == 1
            switch try bits.take(2) {
            case 0: try stored()
            case 1: try codes(Self.fixedLiterals, Self.fixedDistances)
            case 2:
                let (literals, distances) = try dynamicTables()
                try codes(literals, distances)
            default: throw .invalid("deflate: block type 3 does not exist")
            }
        }
    }

    mutating func reserve(_ n: Int) throws(ImageError) {
        guard output.count + n <= limit else {
            throw .invalid("the compressed image data inflates to more than the \(limit) bytes its header allows")
        }
    }

    mutating func stored() throws(ImageError) {
        var p = bits.alignedBytePosition()
        let data = bits.data
        guard data.count - p >= 4 else { throw .truncated("the compressed data ends inside a stored block's header") }
        let len = Int(data[p]) | Int(data[p + 1]) << 8
        let nlen = Int(data[p + 2]) | Int(data[p + 3]) << 8
        guard len == nlen ^ 0xffff else { throw .invalid("deflate: a stored block's length check fails") }
        p += 4
        guard data.count - p >= len else { throw .truncated("the compressed data ends inside a stored block") }
        try reserve(len)
        output.append(contentsOf: data[p..<(p + len)])
        bits.position = p + len
    }

    mutating func dynamicTables() throws(ImageError) -> (HuffmanTable, HuffmanTable) {
        let nlit = try bits.take(5) + 257
        let ndist = try bits.take(5) + 1
        let nclen = try bits.take(4) + 4
        guard nlit <= 286, ndist <= 30 else { throw .invalid("deflate: too many length or distance codes") }
        var clens = [UInt8](repeating: 0, count: 19)
        for i in 0..<nclen { clens[Self.codeLengthOrder[i]] = UInt8(try bits.take(3)) }
        let clTable = try HuffmanTable(lengths: clens[...], canBeIncomplete: false)
        var lengths = [UInt8](repeating: 0, count: nlit + ndist)
        var i = 0
        while i < lengths.count {
            let sym = try clTable.decode(&bits)
            if sym < 16 {
                lengths[i] = UInt8(sym)
                i += 1
                continue
            }
            var value: UInt8 = 0
            let repeats: Int
            switch sym {
            case 16:
                guard i > 0 else { throw .invalid("deflate: a repeated code length has nothing before it") }
                value = lengths[i - 1]
                repeats = 3 + (try bits.take(2))
            case 17: repeats = 3 + (try bits.take(3))
            default: repeats = 11 + (try bits.take(7))
            }
            guard i + repeats <= lengths.count else { throw .invalid("deflate: code lengths run past the table") }
            for _ in 0..<repeats {
                lengths[i] = value
                i += 1
            }
        }
        guard lengths[256] > 0 else { throw .invalid("deflate: the block has no end-of-block code") }
        return (try HuffmanTable(lengths: lengths[0..<nlit], canBeIncomplete: true),
                try HuffmanTable(lengths: lengths[nlit...], canBeIncomplete: true))
    }

    mutating func codes(_ literals: HuffmanTable, _ distances: HuffmanTable) throws(ImageError) {
        while true {
            let sym = try literals.decode(&bits)
            if sym < 256 {
                try reserve(1)
                output.append(UInt8(sym))
                continue
            }
            if sym == 256 { return }
            let li = sym - 257
            guard li < 29 else { throw .invalid("deflate: length code \(sym) does not exist") }
            let length = Self.lengthBase[li] + (try bits.take(Self.lengthExtra[li]))
            let di = try distances.decode(&bits)
            guard di < 30 else { throw .invalid("deflate: distance code \(di) does not exist") }
            let distance = Self.distanceBase[di] + (try bits.take(Self.distanceExtra[di]))
            guard distance <= output.count else { throw .invalid("deflate: a distance reaches before the start of the data") }
            try reserve(length)
            var from = output.count - distance
            for _ in 0..<length {
                output.append(output[from])
                from += 1
            }
        }
    }
}
