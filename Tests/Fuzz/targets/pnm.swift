@testable import BLIP2Edge

/// The image decoders behind ImageDecoder (PNG, PPM/PGM, the format sniffing), then preprocessing of whatever they accept (resized to a small,
/// odd size so that every input stays fast).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNM(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let image = try? ImageDecoder.read(Array(UnsafeBufferPointer(start: data, count: size))) else { return 0 }
    var settings = ImagePreprocessing()
    settings.width = 7
    settings.height = 5
    if image.width * image.height <= 1 << 20 {
        _ = ImageProcessor(settings).pixelValues(image)
    }
    return 0
}
