import CKernels

/// The library's door to the C kernels (with `Attention` and `ThreadPool` beside it): Swift sizes become C integers here, a kernel's
/// refusal becomes an error naming what was running, and the pool is passed along.
enum Kernels {
    static func cType(_ t: GGMLType) -> ck_type { ck_type(rawValue: t.rawValue) }

    /// The instruction-set variant in use (chosen once per process; BLIP2_KERNELS may lower it).
    static var variant: String { String(cString: ck_variant_name(ck_active_variant())) }

    // MARK: - Products with weights

    /// y [rows, m] = x [rows, k] W^T (+ bias), W [m, k] in its file storage.
    static func matmul(_ w: Weight, bias: UnsafePointer<Float>?, _ x: UnsafePointer<Float>, rows: Int,
                       into y: UnsafeMutablePointer<Float>, pool: ThreadPool, what: @autoclosure () -> String) throws {
        let rc = ck_matmul(pool.handle, cType(w.type), w.data, x, bias, y, Int32(rows), Int32(w.rows), Int32(w.columns))
        if rc != 0 { throw RuntimeError.kernelRejected(what: what()) }
    }

    /// Several products of one x [rows, k] in one pass of the pool (ck_matmul_multi): x is
    /// quantized once and the threads meet once. Each output is what its own `matmul` gives.
    static func matmul(_ x: UnsafePointer<Float>, rows: Int, columns: Int,
                       _ outputs: [(weight: Weight, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>)],
                       pool: ThreadPool, what: @autoclosure () -> String) throws {
        try withUnsafeTemporaryAllocation(of: ck_matmul_output.self, capacity: outputs.count) { outs in
            for (i, o) in outputs.enumerated() {
                precondition(o.weight.columns == columns, "matmul: weights of different widths for one input")
                outs[i] = ck_matmul_output(type: cType(o.weight.type), w: o.weight.data, bias: o.bias, y: o.y, m: Int32(o.weight.rows))
            }
            let rc = ck_matmul_multi(pool.handle, x, Int32(rows), Int32(columns), outs.baseAddress, Int32(outputs.count))
            if rc != 0 { throw RuntimeError.kernelRejected(what: what()) }
        }
    }

    // MARK: - Element-wise and row-wise

    static func layerNorm(_ x: UnsafePointer<Float>, rows: Int, dim: Int, weight: UnsafePointer<Float>,
                          bias: UnsafePointer<Float>, eps: Float, into y: UnsafeMutablePointer<Float>) {
        ck_layernorm(x, y, Int32(rows), Int32(dim), weight, bias, eps)
    }

    /// Exact (erf) GELU, in place.
    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) { ck_gelu(x, x, count) }

    static func relu(_ x: UnsafeMutablePointer<Float>, count: Int) { ck_relu(x, x, count) }

    /// x += y.
    static func add(_ y: UnsafePointer<Float>, to x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] += y[i] }
    }

    // MARK: - Storage conversions

    /// One row of `count` elements of a file's storage type to float (dequantization).
    static func toFloat(_ type: GGMLType, row: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>, count: Int) {
        ck_row_to_float(cType(type), row, y, count)
    }

    static func halfToFloat(_ x: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>, count: Int) {
        ck_fp16_to_fp32_row(x.assumingMemoryBound(to: UInt16.self), y, count)
    }

    static func floatToHalf(_ x: UnsafePointer<Float>, into y: UnsafeMutableRawPointer, count: Int) {
        ck_fp32_to_fp16_row(x, y.assumingMemoryBound(to: UInt16.self), count)
    }

    static func bfloat16ToFloat(_ x: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>, count: Int) {
        ck_bf16_to_f32(x.assumingMemoryBound(to: UInt16.self), y, count)
    }

    /// Q4_0 rows [rows, columns] (rows a multiple of 8) reordered into Q4_0x8 groups, in place
    /// (through a copy).
    static func interleaveQ4_0x8(_ data: UnsafeMutableRawPointer, rows: Int, columns: Int) {
        let bytes = rows * (GGMLType.q4_0.rowBytes(columns) ?? 0)
        let copy = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes), alignment: 64)
        defer { copy.deallocate() }
        copy.copyMemory(from: data, byteCount: bytes)
        let rc = ck_interleave_q4_0x8(copy.assumingMemoryBound(to: ck_block_q4_0.self),
                                      data.assumingMemoryBound(to: ck_block_q4_0x8.self), Int32(rows), Int32(columns))
        precondition(rc == 0, "interleaveQ4_0x8: rows \(rows) not a multiple of 8 or columns \(columns) of 32")
    }

    /// Weight quantization bit-identical to the gguf package; returns how many non-finite
    /// values it met (their blocks get a zero scale).
    static func quantize(_ x: UnsafePointer<Float>, count: Int, as type: GGMLType, into y: UnsafeMutableRawPointer) -> Int {
        switch type {
        case .q8_0: return ck_quantize_q8_0_gguf(x, y.assumingMemoryBound(to: ck_block_q8_0.self), count)
        case .q4_0, .q4_0x8: return ck_quantize_q4_0_gguf(x, y.assumingMemoryBound(to: ck_block_q4_0.self), count)
        case .f16: floatToHalf(x, into: y, count: count)
        case .f32: y.copyMemory(from: x, byteCount: count * MemoryLayout<Float>.stride)
        }
        return 0
    }
}
