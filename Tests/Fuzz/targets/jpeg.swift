@testable import BLIP2Edge

/// The JPEG reader on its own (markers, Huffman and progressive scans, smoothing, upsampling,
/// colour), then preprocessing of whatever it accepts (resized to a small, odd size so that
/// every input stays fast).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJPEG(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let image = try? JPEGReader.read(Array(UnsafeBufferPointer(start: data, count: size))) else { return 0 }
    var settings = ImagePreprocessing()
    settings.width = 7
    settings.height = 5
    if image.width * image.height <= 1 << 20 {
        _ = ImageProcessor(settings).pixelValues(image)
    }
    return 0
}
