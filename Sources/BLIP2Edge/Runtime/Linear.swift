import CKernels

/// y = x W^T + b over any weight storage type: the one Linear every tower uses.
struct Linear {
    let weight: Weight
    let bias: UnsafePointer<Float>?
    let name: String

    init(_ model: ModelFile, _ prefix: String, bias: Bool = true) {
        weight = model.weight(prefix + ".weight")
        self.bias = bias ? model.floats(prefix + ".bias") : nil
        name = prefix
    }

    /// A convolution weight [out, c, kh, kw] is a Linear over its flattened patches: the
    /// storage is contiguous, so rows of c * kh * kw elements lie one after another.
    var outFeatures: Int { weight.shape.first ?? 1 }
    var inFeatures: Int { weight.shape.dropFirst().reduce(1, *) }

    /// x: [rows, inFeatures] -> y: [rows, outFeatures].
    func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, pool: ThreadPool) throws {
        let rc = ck_matmul(pool.handle, weight.ckType, weight.data, x, bias, y, Int32(rows), Int32(outFeatures), Int32(inFeatures))
        if rc != 0 { throw RuntimeError.kernelRejected(what: name) }
    }
}

extension Linear {
    /// Linears of one input as one kernel call (ck_matmul_multi: q, k and v): the input is
    /// quantized once and the threads meet once instead of once per projection. Each output is
    /// what its own call would give.
    static func apply(_ x: UnsafePointer<Float>, rows: Int, _ outputs: (Linear, UnsafeMutablePointer<Float>)...,
                      pool: ThreadPool) throws {
        guard let first = outputs.first?.0 else { return }
        try withUnsafeTemporaryAllocation(of: ck_matmul_output.self, capacity: outputs.count) { outs in
            for (i, (linear, y)) in outputs.enumerated() {
                precondition(linear.inFeatures == first.inFeatures, "Linear.apply: inputs of different widths")
                outs[i] = ck_matmul_output(type: linear.weight.ckType, w: linear.weight.data, bias: linear.bias, y: y,
                                           m: Int32(linear.outFeatures))
            }
            let rc = ck_matmul_multi(pool.handle, x, Int32(rows), Int32(first.inFeatures), outs.baseAddress, Int32(outputs.count))
            if rc != 0 { throw RuntimeError.kernelRejected(what: outputs.map(\.0.name).joined(separator: ", ")) }
        }
    }
}

/// LayerNorm with its weight and bias.
struct LayerNorm {
    let weight: UnsafePointer<Float>
    let bias: UnsafePointer<Float>
    let eps: Float

    init(_ model: ModelFile, _ prefix: String, eps: Float) {
        weight = model.floats(prefix + ".weight")
        bias = model.floats(prefix + ".bias")
        self.eps = eps
    }

    func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, dim: Int, into y: UnsafeMutablePointer<Float>) {
        ck_layernorm(x, y, Int32(rows), Int32(dim), weight, bias, eps)
    }
}

/// A float buffer owned by whoever holds it, sized once and reused.
final class Buffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(_ count: Int) {
        self.count = max(count, 1)
        pointer = .allocate(capacity: self.count)
        pointer.initialize(repeating: 0, count: self.count)
    }

    deinit { pointer.deallocate() }

    var const: UnsafePointer<Float> { UnsafePointer(pointer) }
    subscript(row r: Int, width w: Int) -> UnsafeMutablePointer<Float> { pointer + r * w }
}

/// x += y, element-wise.
@inline(__always)
func addInPlace(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { x[i] += y[i] }
}

/// Scaled dot-product attention of every head (scale head_dim^-0.5), rows laid out
/// [tokens, heads * headDim] with the given row strides; `causal` for OPT's cache, where the
/// queries are the last `queries` of `keys` positions.
func attention(q: UnsafePointer<Float>, ldq: Int, k: UnsafeRawPointer, ldk: Int, v: UnsafeRawPointer, ldv: Int,
               kvType: ck_type = CK_TYPE_F32, into out: UnsafeMutablePointer<Float>, ldo: Int,
               queries: Int, keys: Int, heads: Int, headDim: Int, causal: Bool, pool: ThreadPool, what: String) throws {
    var p = ck_attention_params(q: q, ldq: Int32(ldq), k: k, ldk: Int32(ldk), v: v, ldv: Int32(ldv), kv_type: kvType,
                                o: out, ldo: Int32(ldo), n_q: Int32(queries), n_kv: Int32(keys), n_heads: Int32(heads),
                                head_dim: Int32(headDim), scale: 1 / Float(headDim).squareRoot(), mask: nil, causal: causal ? 1 : 0)
    guard ck_attention(pool.handle, &p) == 0 else { throw RuntimeError.kernelRejected(what: what) }
}
