/// Reads PPM and PGM images (P6, P5 binary; P3, P2 plain text; maxval 1...65535; comments
/// wherever the format allows them) into 8-bit RGB, converting samples as Pillow does so
/// that our pixels equal those of a Python pipeline that opens the file with PIL:
/// v8 = round_half_even(v / maxval * 255). Gray becomes RGB by repetition. One deliberate
/// difference: Pillow opens gray images with maxval > 255 in 32-bit mode "I" and its RGB
/// conversion then clips every sample above 255 to white; we scale them like the others.
public enum PNMReader {
    public static func read(_ data: [UInt8]) throws(ImageError) -> RGBImage {
        var p = Parser(bytes: data)
        guard data.count >= 2, data[0] == UInt8(ascii: "P"), let kind = Kind(rawValue: data[1]) else {
            throw .notPNM("the file does not start with P2, P3, P5 or P6")
        }
        p.position = 2
        let width = try p.headerNumber("width")
        let height = try p.headerNumber("height")
        let maxval = try p.headerNumber("maxval")
        guard maxval >= 1 && maxval <= 65535 else {
            throw .invalid("maxval \(maxval) is outside 1...65535")
        }
        try RGBImage.checkSize(width: width, height: height)
        let channels = kind.isGray ? 1 : 3
        let samples = width * height * channels
        var values = [UInt8](repeating: 0, count: samples)
        // One lookup per possible sample value keeps the per-pixel work a table read.
        let table = (0...maxval).map { v -> UInt8 in
            maxval == 255 ? UInt8(v) : UInt8(min(255, (Double(v) / Double(maxval) * 255).rounded(.toNearestOrEven)))
        }
        if kind.isBinary {
            // Exactly one whitespace byte separates maxval from the raster.
            guard p.position < data.count, Parser.isSpace(data[p.position]) else {
                throw .truncated("no pixel data after the header")
            }
            p.position += 1
            let bytesPerSample = maxval > 255 ? 2 : 1
            let needed = samples * bytesPerSample
            guard data.count - p.position >= needed else {
                throw .truncated("\(width)x\(height) needs \(needed) bytes of pixels, the file has \(data.count - p.position)")
            }
            for i in 0..<samples {
                let o = p.position + i * bytesPerSample
                let v = bytesPerSample == 1 ? Int(data[o]) : Int(data[o]) << 8 | Int(data[o + 1])
                guard v <= maxval else { throw .invalid("sample \(v) exceeds maxval \(maxval)") }
                values[i] = table[v]
            }
        } else {
            for i in 0..<samples {
                guard let v = try p.number(allowComments: true) else {
                    throw .truncated("\(width)x\(height) needs \(samples) samples, the file has \(i)")
                }
                guard v <= maxval else { throw .invalid("sample \(v) exceeds maxval \(maxval)") }
                values[i] = table[v]
            }
        }
        if channels == 3 { return try RGBImage(width: width, height: height, pixels: values) }
        var rgb = [UInt8](repeating: 0, count: samples * 3)
        for i in 0..<samples {
            rgb[3 * i] = values[i]
            rgb[3 * i + 1] = values[i]
            rgb[3 * i + 2] = values[i]
        }
        return try RGBImage(width: width, height: height, pixels: rgb)
    }

    enum Kind: UInt8 {
        case plainGray = 50, plainRGB = 51, binaryGray = 53, binaryRGB = 54 // "2", "3", "5", "6"
        var isGray: Bool { self == .plainGray || self == .binaryGray }
        var isBinary: Bool { self == .binaryGray || self == .binaryRGB }
    }

    struct Parser {
        let bytes: [UInt8]
        var position = 0

        /// Netpbm's whitespace: blank, tab, CR, LF, vertical tab, form feed.
        static func isSpace(_ b: UInt8) -> Bool { b == 32 || (b >= 9 && b <= 13) }

        mutating func skipSpaceAndComments() {
            while position < bytes.count {
                if Self.isSpace(bytes[position]) {
                    position += 1
                } else if bytes[position] == UInt8(ascii: "#") {
                    while position < bytes.count && bytes[position] != 10 && bytes[position] != 13 { position += 1 }
                } else {
                    return
                }
            }
        }

        /// The next decimal number, nil at the end of the data.
        mutating func number(allowComments: Bool) throws(ImageError) -> Int? {
            skipSpaceAndComments()
            guard position < bytes.count else { return nil }
            var v = 0
            var digits = 0
            while position < bytes.count, bytes[position] >= 48, bytes[position] <= 57 {
                v = v * 10 + Int(bytes[position] - 48)
                digits += 1
                position += 1
                guard digits <= 9 else { throw .invalid("a number in the image has more than 9 digits") }
            }
            guard digits > 0 else { throw .invalid("unexpected byte 0x\(String(bytes[position], radix: 16)) where a number should be") }
            if position < bytes.count && !Self.isSpace(bytes[position]) && bytes[position] != UInt8(ascii: "#") {
                throw .invalid("unexpected byte 0x\(String(bytes[position], radix: 16)) after a number")
            }
            return v
        }

        mutating func headerNumber(_ what: String) throws(ImageError) -> Int {
            guard let v = try number(allowComments: true) else { throw .truncated("the header ends before the \(what)") }
            return v
        }
    }
}
