/// T5's LayerNorm: scaling only, no centring and no bias, y = w * x / sqrt(mean(x^2) + eps),
/// with the mean in float32 as transformers' T5LayerNorm takes it.
struct RMSNorm {
    let weight: UnsafePointer<Float>
    let dim: Int
    let eps: Float

    func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let xr = x + r * dim, yr = y + r * dim
            var sum: Float = 0
            for i in 0..<dim { sum += xr[i] * xr[i] }
            let scale = 1 / (sum / Float(dim) + eps).squareRoot()
            for i in 0..<dim { yr[i] = weight[i] * (xr[i] * scale) }
        }
    }
}
