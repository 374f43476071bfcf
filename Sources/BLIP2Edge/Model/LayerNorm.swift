/// LayerNorm over rows of `dim`, with its weight and bias.
struct LayerNorm {
    let weight: UnsafePointer<Float>
    let bias: UnsafePointer<Float>
    let dim: Int
    let eps: Float

    func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        Kernels.layerNorm(x, rows: rows, dim: dim, weight: weight, bias: bias, eps: eps, into: y)
    }
}
