/// The one place that turns an image file's bytes into RGB: the format is read from the
/// content, never from a file name, because standard input and C callers have none.
public enum ImageDecoder {
    /// A bound on the bytes read, so that a runaway stream or a huge file stops early. It
    /// covers every binary PPM/PGM within RGBImage.maxPixels (600 MB at 16-bit RGB), but not
    /// every PNG: 1e8 pixels of 16-bit RGBA stored uncompressed are 800 MB.
    public static let maxFileBytes = 700 << 20

    /// `exifOrientation`: turn the image as its EXIF Orientation tag says (transformers'
    /// `load_image` does; `Image.open` and the processor, our reference, do not).
    public static func read(_ data: [UInt8], exifOrientation: Bool) throws(ImageError) -> RGBImage {
        let image = try read(data)
        guard exifOrientation, let o = ExifOrientation.read(data) else { return image }
        return image.oriented(o)
    }

    public static func read(_ data: [UInt8]) throws(ImageError) -> RGBImage {
        if PNGReader.isPNG(data) { return try PNGReader.read(data) }
        if JPEGReader.isJPEG(data) { return try JPEGReader.read(data) }
        if let other = unsupportedFormat(data) {
            throw .unsupported("\(other) images are not supported yet: convert the image to PNG, JPEG or PPM first")
        }
        // Everything else goes to the PNM reader, whose messages say what was expected.
        return try PNMReader.read(data)
    }

    /// The name of a format recognised by its signature that we do not decode.
    static func unsupportedFormat(_ d: [UInt8]) -> String? {
        func starts(_ s: [UInt8], at offset: Int = 0) -> Bool {
            d.count >= offset + s.count && Array(d[offset..<(offset + s.count)]) == s
        }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return "GIF" }
        if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return "WebP" }
        if starts(Array("BM".utf8)) { return "BMP" }
        if starts([0x49, 0x49, 0x2a, 0x00]) || starts([0x4d, 0x4d, 0x00, 0x2a]) { return "TIFF" }
        if starts(Array("ftyp".utf8), at: 4) {
            let brands = ["heic", "heix", "hevc", "heim", "heis", "mif1", "msf1"]
            if brands.contains(where: { starts(Array($0.utf8), at: 8) }) { return "HEIC/HEIF" }
            if starts(Array("avif".utf8), at: 8) || starts(Array("avis".utf8), at: 8) { return "AVIF" }
        }
        return nil
    }
}
