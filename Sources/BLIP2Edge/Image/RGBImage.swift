/// An 8-bit RGB image, rows top to bottom, pixels interleaved (R, G, B).
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    /// Limits on what we accept from a file or caller: far beyond any camera (a 100-
    /// megapixel image is 300 MB of RGB), small enough that sizes cannot overflow or make
    /// us allocate without bound.
    public static let maxDimension = 32_768
    public static let maxPixels = 100_000_000

    public init(width: Int, height: Int, pixels: [UInt8]) throws(ImageError) {
        try Self.checkSize(width: width, height: height)
        guard pixels.count == width * height * 3 else {
            throw .invalid("expected \(width * height * 3) bytes of RGB for \(width)x\(height), got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// For sizes the caller has already checked.
    init(unchecked width: Int, _ height: Int, _ pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    static func checkSize(width: Int, height: Int) throws(ImageError) {
        guard width >= 1, height >= 1 else { throw .invalid("image size \(width)x\(height) is empty") }
        guard width <= maxDimension, height <= maxDimension, width * height <= maxPixels else {
            throw .invalid("image size \(width)x\(height) exceeds the limit of \(maxDimension) per side and \(maxPixels / 1_000_000) megapixels")
        }
    }
}

public enum ImageError: Error, Equatable, CustomStringConvertible {
    case invalid(String)
    case notPNM(String)
    case truncated(String)
    /// A format we recognise but do not decode.
    case unsupported(String)

    public var description: String {
        switch self {
        case let .invalid(m): m
        case let .notPNM(m): "not a PPM/PGM image: \(m)"
        case let .truncated(m): "image data is truncated: \(m)"
        case let .unsupported(m): m
        }
    }
}
