/// Reads baseline and progressive Huffman-coded 8-bit JPEG into the RGB that
/// `PIL.Image.open(path).convert("RGB")` gives with Pillow 13.0.0, which decodes with
/// libjpeg-turbo 3.2.0 at its defaults: the accurate integer IDCT, "fancy" upsampling, block
/// smoothing of progressive files whose low coefficients are not fully refined, and
/// libjpeg's choice of colour space (JFIF, then Adobe's transform flag, then component ids).
/// Damaged entropy-coded data decodes as libjpeg decodes it (zeros after a premature marker,
/// restart-marker resynchronisation), because Pillow ignores libjpeg's warnings and returns
/// that image. A file cut short is an error, never a partial image: a progressive or
/// multi-scan file needs its EOI marker (libjpeg reads it before any output), a single-scan
/// file needs the data of its last block (Pillow stops once it has all rows) and, when its
/// data runs to the end of the file, libjpeg's refills must not have reached that end
/// (JPEGTruncation.swift replays them).
/// Not decoded, each with its own error: 12-bit, lossless, arithmetic-coded and hierarchical
/// files (libjpeg-turbo reads some of these; we do not), and frames of other than 1, 3 or 4
/// components (Pillow refuses those).
public enum JPEGReader {
    public static func isJPEG(_ data: [UInt8]) -> Bool {
        data.count >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff
    }

    public static func read(_ data: [UInt8]) throws(ImageError) -> RGBImage {
        guard isJPEG(data) else { throw .invalid("not a JPEG image: it does not start with FF D8 FF") }
        return try data.withUnsafeBufferPointer { (buffer) throws(ImageError) -> RGBImage in
            var decoder = JPEGDecoder(data: buffer)
            return try decoder.run()
        }
    }
}

/// One component of the frame: its sampling, its tables, where its coefficients live.
struct JPEGComponent {
    let id: UInt8
    let h: Int
    let v: Int
    let quantIndex: Int
    /// The component's real size in samples (libjpeg's downsampled_width/height) and in blocks.
    var sampleWidth = 0, sampleHeight = 0
    var widthInBlocks = 0, heightInBlocks = 0
    /// Blocks in the coefficient array, padded to whole MCUs (interleaved scans code them).
    var blocksAcross = 0, blocksDown = 0
    /// The quantisation table in natural order, latched at the first scan that codes the
    /// component (libjpeg's latch_quant_tables: a later DQT does not change it).
    var quant: JPEGBuffer<Int32>?
    var dcTable = 0, acTable = 0
    /// Per coefficient: the lowest bit position known so far, -1 before any scan coded it
    /// (libjpeg's coef_bits, which decides block smoothing).
    var coefBits = [Int](repeating: -1, count: 64)
    /// coefBits before the latest scan that coded the component, for rows that scan left short.
    var previousCoefBits = [Int](repeating: -1, count: 64)
    var coefficientOffset = 0
}

struct JPEGFrame {
    let width: Int
    let height: Int
    let progressive: Bool
    var components: [JPEGComponent]
    let maxH: Int
    let maxV: Int
    let mcusAcross: Int
    let mcusDown: Int
    /// The last iMCU row the latest scan decoded before its data ran short.
    var lastGoodRow = 0

    init(segment s: ArraySlice<UInt8>, marker: UInt8) throws(ImageError) {
        let b = Array(s)
        guard b.count >= 6 else { throw .invalid("JPEG: the frame header (SOF) is too short") }
        let precision = Int(b[0])
        height = Int(b[1]) << 8 | Int(b[2])
        width = Int(b[3]) << 8 | Int(b[4])
        let n = Int(b[5])
        guard precision == 8 else { throw .unsupported("\(precision)-bit JPEG images are not supported (only 8-bit): convert the image to an 8-bit JPEG or PNG") }
        guard height > 0 else { throw .unsupported("JPEG images whose height is given by a DNL marker (height 0 in the frame header) are not supported: convert the image to PNG") }
        guard n == 1 || n == 3 || n == 4 else { throw .invalid("JPEG: \(n) components; only 1 (gray), 3 (colour) or 4 (CMYK) can be read") }
        guard b.count == 6 + 3 * n else { throw .invalid("JPEG: the frame header's length does not match its \(n) components") }
        try RGBImage.checkSize(width: width, height: height)
        progressive = marker == 0xc2
        var comps: [JPEGComponent] = []
        for i in 0..<n {
            let h = Int(b[7 + 3 * i] >> 4), v = Int(b[7 + 3 * i] & 15)
            guard (1...4).contains(h), (1...4).contains(v) else { throw .invalid("JPEG: sampling factors \(h)x\(v) are outside 1...4") }
            comps.append(JPEGComponent(id: b[6 + 3 * i], h: h, v: v, quantIndex: Int(b[8 + 3 * i])))
        }
        maxH = comps.map(\.h).max() ?? 1
        maxV = comps.map(\.v).max() ?? 1
        for c in comps where maxH % c.h != 0 || maxV % c.v != 0 {
            throw .unsupported("JPEG sampling factors that are not integer ratios (\(c.h)x\(c.v) against \(maxH)x\(maxV)) are not supported (nor by Pillow)")
        }
        mcusAcross = (width + 8 * maxH - 1) / (8 * maxH)
        mcusDown = (height + 8 * maxV - 1) / (8 * maxV)
        for i in comps.indices {
            let c = comps[i]
            comps[i].sampleWidth = (width * c.h + maxH - 1) / maxH
            comps[i].sampleHeight = (height * c.v + maxV - 1) / maxV
            comps[i].widthInBlocks = (comps[i].sampleWidth + 7) / 8
            comps[i].heightInBlocks = (comps[i].sampleHeight + 7) / 8
            comps[i].blocksAcross = mcusAcross * c.h
            comps[i].blocksDown = mcusDown * c.v
        }
        components = comps
    }

    /// libjpeg's choice (jdapimin.c default_decompress_parms): JFIF means YCbCr; else an
    /// Adobe marker's transform flag; else component ids 'R','G','B' mean RGB. Four
    /// components are YCCK only with Adobe transform 2 (or an unknown one).
    func colorSpace(sawJFIF: Bool, adobeTransform: Int?) -> JPEGColorSpace {
        switch components.count {
        case 1: return .gray
        case 3:
            if sawJFIF { return .yCbCr }
            if let t = adobeTransform { return t == 0 ? .rgb : .yCbCr }
            let ids = components.map(\.id)
            return ids == [82, 71, 66] ? .rgb : .yCbCr
        default:
            if let t = adobeTransform { return t == 0 ? .cmyk : .ycck }
            return .cmyk
        }
    }
}

/// The marker loop and the state it builds; JPEGEntropyDecoder.swift decodes the scans and
/// JPEGBlockSmoothing.swift turns coefficients into samples.
struct JPEGDecoder {
    let data: UnsafeBufferPointer<UInt8>
    var position = 2
    var frame: JPEGFrame?
    /// Quantisation tables in natural order.
    var quantTables: [[Int32]?] = [nil, nil, nil, nil]
    var dcSpecs: [(counts: [Int], values: [UInt8])?] = [nil, nil, nil, nil]
    var acSpecs: [(counts: [Int], values: [UInt8])?] = [nil, nil, nil, nil]
    var restartInterval = 0
    var sawJFIF = false
    var adobeTransform: Int?
    var scans = 0
    /// Set by the first scan: whether the whole image is in that one scan (decoded straight
    /// to samples) or coefficients are kept until the end of the file.
    var singleScan = false
    /// The single scan of such an image has been decoded with all its data.
    var singleScanDecoded = false
    /// The scan's data ran to the end of the file, with no marker after it.
    var scanDataReachedEnd = false
    /// Where the single scan's data starts and its state before decoding, to decode it again.
    var replay: (start: Int, state: ScanState)?
    var coefficients: JPEGBuffer<Int16>?
    var planes: [JPEGBuffer<UInt8>] = []

    init(data: UnsafeBufferPointer<UInt8>) {
        self.data = data
    }

    mutating func run() throws(ImageError) -> RGBImage {
        do {
            try readMarkers()
        } catch .truncated(let why) {
            // A single-scan image is complete once its scan is: Pillow has all its rows by
            // then and lets libjpeg's search for the EOI marker run out of data. Unless the
            // scan's data itself runs to the end of the file: then libjpeg's refills may
            // have hit the end first.
            guard singleScanDecoded else { throw .truncated(why) }
            if scanDataReachedEnd && !pillowFinishes() {
                throw .truncated("the JPEG data ends right after the last block, without an EOI marker, where Pillow's libjpeg reads past it")
            }
        }
        return try finish()
    }

    /// Reads markers up to EOI, decoding each scan on the way.
    mutating func readMarkers() throws(ImageError) {
        var pending: UInt8 = 0
        while true {
            let marker: UInt8
            if pending != 0 {
                marker = pending
                pending = 0
            } else {
                marker = try nextMarker()
            }
            switch marker {
            case 0xd9:
                return
            case 0xda:
                pending = try scan()
            case 0xd8:
                throw .invalid("JPEG: a second SOI marker")
            case 0xd0...0xd7:
                continue
            case 0x01:
                // libjpeg ignores TEM; Pillow's own header parser refuses it before the first scan.
                guard scans > 0 else { throw .invalid("JPEG: a TEM marker (0xFF01) in the header") }
            case 0xc0, 0xc1, 0xc2:
                guard frame == nil else { throw .invalid("JPEG: more than one frame header (SOF)") }
                frame = try JPEGFrame(segment: try segment(), marker: marker)
            case 0xc3:
                throw .unsupported("lossless JPEG images are not supported: convert the image to PNG")
            case 0xc9, 0xca, 0xcb:
                throw .unsupported("arithmetic-coded JPEG images are not supported: convert the image to a Huffman-coded JPEG or PNG")
            case 0xc5, 0xc6, 0xc7, 0xcd, 0xce, 0xcf:
                throw .unsupported("hierarchical (differential) JPEG images are not supported: convert the image to PNG")
            case 0xc8:
                throw .unsupported("JPEG extension (JPG marker) images are not supported: convert the image to PNG")
            case 0xc4:
                try defineHuffmanTables(try segment())
            case 0xdb:
                try defineQuantTables(try segment())
            case 0xdd:
                let s = try segment()
                guard s.count == 2 else { throw .invalid("JPEG: a DRI segment of \(s.count + 2) bytes, not 4") }
                restartInterval = Int(s[s.startIndex]) << 8 | Int(s[s.startIndex + 1])
            case 0xe0:
                // Only markers before the first scan count: libjpeg has chosen the colour space by then.
                let s = Array(try segment(lengthMayBeShort: true))
                // Pillow's header parser reads a JFIF segment's version (bytes 5-6) and fails without it.
                if scans == 0 && s.starts(with: Array("JFIF".utf8)) && s.count < 7 { throw .invalid("JPEG: a JFIF segment too short for its version") }
                if scans == 0 && s.count >= 14 && s.starts(with: [0x4a, 0x46, 0x49, 0x46, 0]) { sawJFIF = true }
            case 0xee:
                let s = Array(try segment(lengthMayBeShort: true))
                if scans == 0 && s.starts(with: Array("Adobe".utf8)) && s.count < 7 { throw .invalid("JPEG: an Adobe segment too short for its version") }
                if scans == 0 && s.count >= 12 && s.starts(with: [0x41, 0x64, 0x6f, 0x62, 0x65]) { adobeTransform = Int(s[11]) }
            case 0xcc:
                // DAC: arithmetic-coding conditioning, unused here but checked as libjpeg checks it.
                let s = Array(try segment())
                guard s.count % 2 == 0 else { throw .invalid("JPEG: a DAC segment of odd length") }
                for i in stride(from: 0, to: s.count, by: 2) {
                    let index = Int(s[i]), value = Int(s[i + 1])
                    guard index < 32 else { throw .invalid("JPEG: DAC table index \(index) is out of range") }
                    if index < 16 && value & 15 > value >> 4 { throw .invalid("JPEG: a DAC DC conditioning value with L > U") }
                }
            case 0xe1...0xed, 0xef, 0xfe, 0xdc:
                // Other APPn, COM, DNL: skipped as libjpeg does.
                _ = try segment(lengthMayBeShort: true)
            default:
                throw .invalid("JPEG: unknown marker 0x\(String(marker, radix: 16))")
            }
        }
    }

    /// libjpeg's next_marker: bytes before an FF are skipped, as are repeated FFs and FF 00.
    mutating func nextMarker() throws(ImageError) -> UInt8 {
        var reader = JPEGBitReader(data: data, position: position)
        let m = reader.nextMarker()
        position = reader.position
        guard m != 0 else { throw .truncated("the JPEG data ends before its EOI marker") }
        return m
    }

    /// The body of a marker segment (after its 2-byte length). libjpeg skips the segments it
    /// does not read (`lengthMayBeShort`) by their length less 2, so a length below 2 skips
    /// nothing; the others must be at least 2.
    mutating func segment(lengthMayBeShort: Bool = false) throws(ImageError) -> ArraySlice<UInt8> {
        guard data.count - position >= 2 else { throw .truncated("the JPEG data ends inside a marker segment") }
        let length = Int(data[position]) << 8 | Int(data[position + 1])
        if length < 2 && lengthMayBeShort {
            position += 2
            return []
        }
        guard length >= 2 else { throw .invalid("JPEG: a marker segment of length \(length)") }
        guard data.count - position >= length else { throw .truncated("the JPEG data ends inside a marker segment") }
        let body = ArraySlice(data[(position + 2)..<(position + length)])
        position += length
        return body
    }

    mutating func defineQuantTables(_ s: ArraySlice<UInt8>) throws(ImageError) {
        var p = s.startIndex
        while p < s.endIndex {
            let n = Int(s[p] & 15), wide = s[p] >> 4 != 0
            guard n < 4 else { throw .invalid("JPEG: quantisation table index \(n) is outside 0...3") }
            let size = wide ? 128 : 64
            guard s.endIndex - p - 1 >= size else { throw .invalid("JPEG: a DQT segment ends inside its table") }
            var table = [Int32](repeating: 0, count: 64)
            for k in 0..<64 {
                let v = wide ? Int32(s[p + 1 + 2 * k]) << 8 | Int32(s[p + 2 + 2 * k]) : Int32(s[p + 1 + k])
                table[JPEGDecoder.naturalOrder[k]] = v
            }
            quantTables[n] = table
            p += 1 + size
        }
    }

    mutating func defineHuffmanTables(_ s: ArraySlice<UInt8>) throws(ImageError) {
        var p = s.startIndex
        while p < s.endIndex {
            guard s.endIndex - p >= 17 else { throw .invalid("JPEG: a DHT segment ends inside its table") }
            let index = Int(s[p])
            let counts = (1...16).map { Int(s[p + $0]) }
            let total = counts.reduce(0, +)
            guard total <= 256, s.endIndex - p - 17 >= total else { throw .invalid("JPEG: a Huffman table has a bad symbol count") }
            let values = Array(s[(p + 17)..<(p + 17 + total)])
            let isAC = index & 0x10 != 0
            let slot = isAC ? index - 0x10 : index
            guard slot >= 0 && slot < 4 else { throw .invalid("JPEG: Huffman table index \(slot) is outside 0...3") }
            if isAC { acSpecs[slot] = (counts, values) } else { dcSpecs[slot] = (counts, values) }
            p += 17 + total
        }
    }

    /// Natural (row-major) position of each zigzag index, with 16 more entries of 63 so that a
    /// run past the end of a block lands on its last coefficient, as in libjpeg.
    static let naturalOrder: [Int] = [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
        12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
        35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
        58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
    ] + [Int](repeating: 63, count: 16)
}

/// A buffer of plain values that the decoder indexes by pointer; freed with its owner.
final class JPEGBuffer<T> {
    let pointer: UnsafeMutablePointer<T>
    let count: Int

    /// `T` is a plain integer type, so zero bytes are the value zero.
    init(zeroed count: Int) {
        self.count = count
        pointer = .allocate(capacity: Swift.max(count, 1))
        UnsafeMutableRawPointer(pointer).initializeMemory(as: UInt8.self, repeating: 0, count: Swift.max(count, 1) * MemoryLayout<T>.stride)
    }

    deinit { pointer.deallocate() }
}
