#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension T5Weights.FeedForwardWeights {
    /// wo(act(wi_0 x) * wi_1 x) for `rows` rows of x, into `out` [rows, d]. `gate` and `up`
    /// are scratch of [rows, d_ff] each.
    func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, activation: T5Config.Activation,
                        gate: UnsafeMutablePointer<Float>, up: UnsafeMutablePointer<Float>,
                        into out: UnsafeMutablePointer<Float>, pool: ThreadPool) throws {
        try Linear.apply(x, rows: rows, (wi0, gate), (wi1, up), pool: pool)
        let n = rows * wi0.outFeatures
        switch activation {
        case .gelu: Kernels.gelu(gate, count: n)
        case .geluTanh: Self.geluTanh(gate, count: n)
        }
        for i in 0..<n { gate[i] *= up[i] }
        try wo(UnsafePointer(gate), rows: rows, into: out, pool: pool)
    }

    /// transformers' NewGELUActivation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    static func geluTanh(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let c = Float((2 / Double.pi).squareRoot())
        for i in 0..<count {
            let v = x[i]
            x[i] = 0.5 * v * (1 + tanhf(c * (v + 0.044715 * v * v * v)))
        }
    }
}
