/// y = x W^T + b over any weight storage type: the one Linear every tower uses.
struct Linear {
    let weight: Weight
    let bias: UnsafePointer<Float>?
    /// The checkpoint name, for error messages.
    let name: String

    var outFeatures: Int { weight.rows }
    var inFeatures: Int { weight.columns }

    /// x: [rows, inFeatures] -> y: [rows, outFeatures].
    func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, pool: ThreadPool) throws {
        try Kernels.matmul(weight, bias: bias, x, rows: rows, into: y, pool: pool, what: name)
    }

    /// Linears of one input as one kernel call (q, k and v): the input is quantized once and
    /// the threads meet once instead of once per projection. Each output is what its own call
    /// would give.
    static func apply(_ x: UnsafePointer<Float>, rows: Int, _ outputs: (Linear, UnsafeMutablePointer<Float>)...,
                      pool: ThreadPool) throws {
        guard let first = outputs.first?.0 else { return }
        try Kernels.matmul(x, rows: rows, columns: first.inFeatures, outputs.map { ($0.0.weight, $0.0.bias, $0.1) },
                           pool: pool, what: outputs.map(\.0.name).joined(separator: ", "))
    }
}
