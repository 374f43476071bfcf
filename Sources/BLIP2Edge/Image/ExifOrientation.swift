/// The EXIF Orientation tag (0x0112) of a JPEG (APP1 "Exif") or PNG (eXIf chunk), and the
/// turn it asks for. Neither `PIL.Image.open` nor transformers' BLIP processor applies it (the
/// reference pixels are the stored ones); transformers' `load_image` does, with
/// `ImageOps.exif_transpose`. So it is opt-in: a phone photo comes out upright, as that helper
/// gives it.
public enum ExifOrientation {
    /// The tag's value (1-8) if the file has one we can read; nil for anything else. A damaged
    /// EXIF block is ignored rather than refused, as Pillow ignores it.
    public static func read(_ data: [UInt8]) -> Int? {
        guard let tiff = exifBlock(data) else { return nil }
        return orientation(tiff: data, tiff)
    }

    /// Where the TIFF structure lies.
    static func exifBlock(_ d: [UInt8]) -> Range<Int>? {
        if PNGReader.isPNG(d) {
            var at = 8
            while at + 12 <= d.count {
                let length = Int(d[at]) << 24 | Int(d[at + 1]) << 16 | Int(d[at + 2]) << 8 | Int(d[at + 3])
                let type = String(decoding: d[(at + 4)..<(at + 8)], as: UTF8.self)
                guard length <= d.count - at - 12 else { return nil }
                if type == "eXIf" { return (at + 8)..<(at + 8 + length) }
                if type == "IDAT" || type == "IEND" { return nil } // Pillow reads eXIf before the image data
                at += 12 + length
            }
            return nil
        }
        guard JPEGReader.isJPEG(d) else { return nil }
        var at = 2
        while at + 4 <= d.count, d[at] == 0xFF {
            let marker = d[at + 1]
            if marker == 0xDA || marker == 0xD9 { return nil } // scans begin: no more headers
            let length = Int(d[at + 2]) << 8 | Int(d[at + 3])
            guard length >= 2, at + 2 + length <= d.count else { return nil }
            let body = (at + 4)..<(at + 2 + length)
            if marker == 0xE1, body.count >= 6, Array(d[body.lowerBound..<(body.lowerBound + 6)]) == [0x45, 0x78, 0x69, 0x66, 0, 0] {
                return (body.lowerBound + 6)..<body.upperBound
            }
            at += 2 + length
        }
        return nil
    }

    /// IFD0's Orientation entry: a SHORT, count 1, value 1-8.
    static func orientation(tiff d: [UInt8], _ r: Range<Int>) -> Int? {
        guard r.count >= 8 else { return nil }
        let little: Bool
        switch (d[r.lowerBound], d[r.lowerBound + 1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ o: Int) -> Int? {
            guard o >= 0, o + 2 <= r.count else { return nil }
            let a = Int(d[r.lowerBound + o]), b = Int(d[r.lowerBound + o + 1])
            return little ? a | b << 8 : a << 8 | b
        }
        func u32(_ o: Int) -> Int? {
            guard let lo = u16(little ? o : o + 2), let hi = u16(little ? o + 2 : o) else { return nil }
            return hi << 16 | lo
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return nil }
        for i in 0..<count {
            let entry = ifd + 2 + 12 * i
            guard let tag = u16(entry) else { return nil }
            guard tag == 0x0112 else { continue }
            guard u16(entry + 2) == 3, u32(entry + 4) == 1, let value = u16(entry + 8), (1...8).contains(value) else { return nil }
            return value
        }
        return nil
    }
}

extension RGBImage {
    /// The image turned as EXIF orientation `o` asks (PIL's exif_transpose: 2 mirror, 3 rotate
    /// 180, 4 flip, 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90
    /// counter-clockwise); 1 and unknown values leave it as it is.
    public func oriented(_ o: Int) -> RGBImage {
        guard (2...8).contains(o) else { return self }
        let swaps = o >= 5
        let (w, h) = swaps ? (height, width) : (width, height)
        var out = [UInt8](repeating: 0, count: pixels.count)
        for y in 0..<h {
            for x in 0..<w {
                // The source pixel (sx, sy) of output pixel (x, y).
                let (sx, sy): (Int, Int) = switch o {
                case 2: (width - 1 - x, y)
                case 3: (width - 1 - x, height - 1 - y)
                case 4: (x, height - 1 - y)
                case 5: (y, x)
                case 6: (y, height - 1 - x)
                case 7: (width - 1 - y, height - 1 - x)
                default: (width - 1 - y, x) // 8
                }
                let s = 3 * (sy * width + sx), t = 3 * (y * w + x)
                out[t] = pixels[s]
                out[t + 1] = pixels[s + 1]
                out[t + 2] = pixels[s + 2]
            }
        }
        return RGBImage(unchecked: w, h, out)
    }
}
