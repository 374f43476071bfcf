/// Reads PNG into the 8-bit RGB that transformers' BLIP processor resizes when given
/// `PIL.Image.open(path)`: Pillow's samples for the file's mode (16-bit samples keep their
/// high byte, gray 16 clips at 255, low-depth gray is scaled), then the processor's own RGB
/// step, which composites an alpha band or a tRNS colour over white with Pillow's
/// alpha_composite rounding. Ancillary chunks (gAMA, iCCP, ...) change nothing, as in Pillow.
/// CRCs are checked for the chunks before the image data only, and data after the image data
/// is not read, and a stream cut inside its Adler-32 trailer is accepted, because Pillow does
/// the same: files it opens, we open. One difference: Pillow also accepts a stream cut after
/// the last pixel but before its end-of-block code; we call that truncated.
public enum PNGReader {
    static let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]

    public static func isPNG(_ data: [UInt8]) -> Bool { data.count >= 8 && Array(data[0..<8]) == signature }

    public static func read(_ data: [UInt8]) throws(ImageError) -> RGBImage {
        guard isPNG(data) else { throw .invalid("not a PNG image: the signature is missing") }
        var header: Header?
        var palette: [UInt8] = []
        var transparency: [UInt8]?
        var compressed: [UInt8] = []
        var position = 8
        var inImageData = false
        while true {
            guard data.count - position >= 8 else {
                if inImageData { break }
                throw .truncated("the file ends before the image data")
            }
            let length = Int(readUInt32(data, position))
            let type = Array(data[(position + 4)..<(position + 8)])
            let name = String(decoding: type, as: UTF8.self)
            guard type.allSatisfy({ ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) }) else {
                if inImageData { break }
                throw .invalid("PNG: a chunk type is not four letters")
            }
            guard length <= Int(Int32.max) else { throw .invalid("PNG: chunk \(name) declares \(length) bytes") }
            let body = position + 8
            let isImageData = name == "IDAT"
            if inImageData && !isImageData { break }
            if isImageData && data.count - body < length {
                // What is there is used: whether it suffices is the zlib stream's to say.
                guard header != nil else { throw .invalid("PNG: the first chunk is IDAT, not IHDR") }
                compressed.append(contentsOf: data[body...])
                break
            }
            guard data.count - body >= length + (isImageData ? 0 : 4) else {
                throw .truncated("the file ends inside the \(name) chunk")
            }
            if !isImageData {
                let crc = readUInt32(data, body + length)
                guard CRC32.of(data[(position + 4)..<(body + length)]) == crc else {
                    throw .invalid("PNG: the CRC of the \(name) chunk does not match")
                }
            }
            let content = data[body..<(body + length)]
            if header == nil && name != "IHDR" { throw .invalid("PNG: the first chunk is \(name), not IHDR") }
            switch name {
            case "IHDR":
                guard header == nil else { throw .invalid("PNG: more than one IHDR chunk") }
                header = try Header(Array(content))
            case "PLTE": palette = Array(content.prefix(768))
            case "tRNS": transparency = Array(content)
            case "IDAT":
                guard header != nil else { throw .invalid("PNG: IDAT before IHDR") }
                compressed.append(contentsOf: content)
                inImageData = true
            case "IEND": throw .truncated("the file has no image data")
            default: break
            }
            position = body + length + 4
        }
        guard let header else { throw .truncated("the file ends before the IHDR chunk") }
        if header.colorType == 3 && palette.count < 3 { throw .invalid("PNG: a palette image without a PLTE chunk") }
        let raw = try Inflate.zlib(compressed, limit: header.rawBytes, trailerMayBeMissing: true)
        guard raw.count == header.rawBytes else {
            throw .truncated("the image data inflates to \(raw.count) bytes, \(header.width)x\(header.height) needs \(header.rawBytes)")
        }
        var pixels = PixelSink(header: header, palette: palette, transparency: try header.transparencyRule(transparency))
        try header.unfilterPasses(raw) { row, x0, dx, y in pixels.store(row: row, x0: x0, dx: dx, y: y) }
        return pixels.finish()
    }

    static func readUInt32(_ d: [UInt8], _ p: Int) -> UInt32 {
        UInt32(d[p]) << 24 | UInt32(d[p + 1]) << 16 | UInt32(d[p + 2]) << 8 | UInt32(d[p + 3])
    }

    struct Header {
        let width: Int
        let height: Int
        let bitDepth: Int
        let colorType: Int
        let interlaced: Bool

        init(_ b: [UInt8]) throws(ImageError) {
            guard b.count >= 13 else { throw .invalid("PNG: the IHDR chunk has \(b.count) bytes, not 13") }
            let w = Int(readUInt32(b, 0)), h = Int(readUInt32(b, 4))
            try RGBImage.checkSize(width: w, height: h)
            width = w
            height = h
            bitDepth = Int(b[8])
            colorType = Int(b[9])
            let allowed: [Int: [Int]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
            guard let depths = allowed[colorType] else { throw .invalid("PNG: unknown colour type \(colorType)") }
            guard depths.contains(bitDepth) else { throw .invalid("PNG: bit depth \(bitDepth) is not allowed for colour type \(colorType)") }
            guard b[11] == 0 else { throw .invalid("PNG: unknown filter method \(b[11])") }
            // Pillow takes any non-zero interlace method as Adam7.
            interlaced = b[12] != 0
            channels = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType] ?? 1
            rawBytes = 0 // set, so that self is whole before the methods below read it
            rawBytes = passes.reduce(0) { total, p in
                let (w, h) = passSize(p)
                return w == 0 || h == 0 ? total : total + h * (1 + rowBytes(w))
            }
        }

        let channels: Int
        /// Filtered scanlines, each with its filter byte; empty passes have none. Sizes are
        /// bounded by checkSize (at most 10^8 pixels of 8 bytes), so no product overflows.
        private(set) var rawBytes: Int
        var bitsPerPixel: Int { channels * bitDepth }
        /// The filter's byte distance to the "left" pixel.
        var filterStride: Int { max(1, bitsPerPixel / 8) }

        static let adam7: [(x0: Int, y0: Int, dx: Int, dy: Int)] = [
            (0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2),
        ]
        var passes: [(x0: Int, y0: Int, dx: Int, dy: Int)] { interlaced ? Self.adam7 : [(0, 0, 1, 1)] }

        func passSize(_ p: (x0: Int, y0: Int, dx: Int, dy: Int)) -> (w: Int, h: Int) {
            (width > p.x0 ? (width - p.x0 + p.dx - 1) / p.dx : 0, height > p.y0 ? (height - p.y0 + p.dy - 1) / p.dy : 0)
        }

        func rowBytes(_ w: Int) -> Int { (w * bitsPerPixel + 7) / 8 }


        func unfilterPasses(_ raw: [UInt8], _ store: (ArraySlice<UInt8>, Int, Int, Int) -> Void) throws(ImageError) {
            var offset = 0
            let bpp = filterStride
            for p in passes {
                let (w, h) = passSize(p)
                guard w > 0 && h > 0 else { continue }
                let n = rowBytes(w)
                var previous = [UInt8](repeating: 0, count: n)
                var current = [UInt8](repeating: 0, count: n)
                for r in 0..<h {
                    let filter = raw[offset]
                    let src = offset + 1
                    switch filter {
                    case 0:
                        for i in 0..<n { current[i] = raw[src + i] }
                    case 1:
                        for i in 0..<n { current[i] = raw[src + i] &+ (i >= bpp ? current[i - bpp] : 0) }
                    case 2:
                        for i in 0..<n { current[i] = raw[src + i] &+ previous[i] }
                    case 3:
                        for i in 0..<n {
                            let left = i >= bpp ? Int(current[i - bpp]) : 0
                            current[i] = raw[src + i] &+ UInt8((left + Int(previous[i])) >> 1)
                        }
                    case 4:
                        for i in 0..<n {
                            let a = i >= bpp ? Int(current[i - bpp]) : 0
                            let b = Int(previous[i])
                            let c = i >= bpp ? Int(previous[i - bpp]) : 0
                            let pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c)
                            let predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                            current[i] = raw[src + i] &+ UInt8(predictor)
                        }
                    default: throw .invalid("PNG: unknown filter type \(filter) on a scanline")
                    }
                    store(current[...], p.x0, p.dx, p.y0 + r * p.dy)
                    swap(&previous, &current)
                    offset += 1 + n
                }
            }
        }

        /// What the tRNS chunk means once Pillow has read it; nil when the image has none.
        func transparencyRule(_ chunk: [UInt8]?) throws(ImageError) -> Transparency? {
            guard let chunk else { return nil }
            func u16(_ i: Int) -> Int { Int(chunk[i]) << 8 | Int(chunk[i + 1]) }
            switch colorType {
            case 3:
                // One alpha per palette entry; entries past the chunk stay opaque.
                var alpha = [UInt8](repeating: 255, count: 256)
                for (i, a) in chunk.prefix(256).enumerated() { alpha[i] = a }
                return .paletteAlpha(alpha)
            // Pillow keeps the chunk's 16-bit value (0 or 255 for 1-bit, whose mode is "1"), and
            // its convert("RGBA") (convert_transparent, rgbT2rgba in Convert.c) compares each
            // pixel, already converted to 8-bit RGB, with the value's low byte: gray 2/4/8-bit
            // scaled to 0...255, gray 16-bit clipped at 255, RGB 16-bit as its high bytes.
            // So a key of 300 marks the pixels of 44, one of 4000 those of 160.
            case 0:
                guard chunk.count >= 2 else { throw .invalid("PNG: the tRNS chunk is shorter than a gray value") }
                if bitDepth == 1 { return .gray(u16(0) != 0 ? 255 : 0) }
                return .gray(UInt8(u16(0) & 0xff))
            case 2:
                guard chunk.count >= 6 else { throw .invalid("PNG: the tRNS chunk is shorter than an RGB value") }
                return .rgb(UInt8(u16(0) & 0xff), UInt8(u16(2) & 0xff), UInt8(u16(4) & 0xff))
            default:
                return nil
            }
        }
    }

    enum Transparency {
        case paletteAlpha([UInt8])
        /// The 8-bit value (per band for RGB) whose pixels become transparent.
        case gray(UInt8)
        case rgb(UInt8, UInt8, UInt8)
    }

    /// Turns unfiltered scanlines into Pillow's samples and then the processor's RGB.
    struct PixelSink {
        let header: Header
        let palette: [UInt8]
        let transparency: Transparency?
        var rgb: [UInt8]
        var alpha: [UInt8]

        init(header: Header, palette: [UInt8], transparency: Transparency?) {
            self.header = header
            self.palette = palette
            self.transparency = transparency
            let n = header.width * header.height
            rgb = [UInt8](repeating: 0, count: n * 3)
            let hasAlpha = header.colorType == 4 || header.colorType == 6 || transparency != nil
            alpha = hasAlpha ? [UInt8](repeating: 255, count: n) : []
        }

        func sample(_ row: ArraySlice<UInt8>, _ index: Int) -> Int {
            let base = row.startIndex
            switch header.bitDepth {
            case 8: return Int(row[base + index])
            case 16: return Int(row[base + 2 * index]) << 8 | Int(row[base + 2 * index + 1])
            default:
                let bit = index * header.bitDepth
                let byte = Int(row[base + bit / 8])
                return byte >> (8 - header.bitDepth - bit % 8) & ((1 << header.bitDepth) - 1)
            }
        }

        mutating func store(row: ArraySlice<UInt8>, x0: Int, dx: Int, y: Int) {
            let w = header.width
            let channels = header.channels
            var x = x0
            var i = 0
            while x < w {
                let o = y * w + x
                let s = i * channels
                // The value Pillow stores for each band of its mode.
                func stored(_ c: Int) -> Int {
                    let v = sample(row, s + c)
                    switch header.bitDepth {
                    case 16: return header.colorType == 0 ? v : v >> 8
                    case 8: return v
                    default: return header.colorType == 3 ? v : v * 255 / ((1 << header.bitDepth) - 1)
                    }
                }
                var r = 0, g = 0, b = 0, a = 255
                switch header.colorType {
                case 0:
                    r = min(stored(0), 255); g = r; b = r
                    if case let .gray(t) = transparency, r == Int(t) { a = 0 }
                case 2:
                    r = stored(0); g = stored(1); b = stored(2)
                    if case let .rgb(tr, tg, tb) = transparency, r == Int(tr), g == Int(tg), b == Int(tb) { a = 0 }
                case 3:
                    let index = stored(0)
                    if 3 * index + 2 < palette.count {
                        r = Int(palette[3 * index]); g = Int(palette[3 * index + 1]); b = Int(palette[3 * index + 2])
                    }
                    if case let .paletteAlpha(table) = transparency { a = Int(table[index]) }
                case 4:
                    r = stored(0); g = r; b = r; a = stored(1)
                default:
                    r = stored(0); g = stored(1); b = stored(2); a = stored(3)
                }
                rgb[3 * o] = UInt8(r)
                rgb[3 * o + 1] = UInt8(g)
                rgb[3 * o + 2] = UInt8(b)
                if !alpha.isEmpty { alpha[o] = UInt8(a) }
                x += dx
                i += 1
            }
        }

        /// Pillow's alpha_composite of the image over opaque white, in its fixed point
        /// (AlphaComposite.c with a destination alpha of 255), then the alpha dropped.
        consuming func finish() -> RGBImage {
            if !alpha.isEmpty {
                for o in 0..<alpha.count {
                    let a = Int(alpha[o])
                    for c in 0..<3 {
                        if a == 0 {
                            rgb[3 * o + c] = 255
                            continue
                        }
                        let coef1 = a * 128, coef2 = (255 - a) * 128
                        let t = Int(rgb[3 * o + c]) * coef1 + 255 * coef2 + (0x80 << 7)
                        rgb[3 * o + c] = UInt8((((t >> 8) + t) >> 8) >> 7)
                    }
                }
            }
            return RGBImage(unchecked: header.width, header.height, rgb)
        }
    }
}

/// The CRC-32 of PNG chunks (ISO 3309, reflected, polynomial 0xEDB88320).
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func of(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = 0xffff_ffff
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xff)] ^ (c >> 8) }
        return c ^ 0xffff_ffff
    }
}
