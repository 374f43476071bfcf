/// BLIP's image preprocessing (transformers' BlipImageProcessorPil): resize to the model's
/// size with Pillow's bicubic filter, rescale (8-bit value x factor in float64, rounded to
/// float32), normalize ((x - mean) / std in float32), channel-planar [3, height, width].
public struct ImageProcessor: Sendable {
    public let settings: ImagePreprocessing

    public init(_ settings: ImagePreprocessing) {
        self.settings = settings
    }

    public func pixelValues(_ image: RGBImage) -> [Float] {
        let s = settings
        let resized = s.doResize ? BicubicResize.resize(image, width: s.width, height: s.height) : image
        let plane = resized.width * resized.height
        var out = [Float](repeating: 0, count: 3 * plane)
        // The float32 mean and std numpy makes from the configuration's values.
        let mean = s.mean, std = s.std
        for i in 0..<plane {
            for c in 0..<3 {
                let v = resized.pixels[3 * i + c]
                var x = s.doRescale ? Float(Double(v) * s.rescaleFactor) : Float(v)
                if s.doNormalize { x = (x - mean[c]) / std[c] }
                out[c * plane + i] = x
            }
        }
        return out
    }
}
