/// Converts rows from a checkpoint dtype to a storage type, rows split across threads.
struct RowConverter: @unchecked Sendable {
    let input: UnsafeRawPointer
    let dtype: SafetensorsDType
    let floats: UnsafeMutablePointer<Float>
    let output: UnsafeMutableRawPointer
    let type: GGMLType
    let rowLength: Int

    /// Returns the number of non-finite values met where the storage type cannot hold them.
    /// Q4_0x8: `rows` a multiple of 8; the rows are quantized as Q4_0, then interleaved.
    func run(rows: Int, pool: ThreadPool) -> Int {
        let nonFinite = quantize(rows: rows, pool: pool)
        if type == .q4_0x8 { Kernels.interleaveQ4_0x8(output, rows: rows, columns: rowLength) }
        return nonFinite
    }

    private func quantize(rows: Int, pool: ThreadPool) -> Int {
        guard pool.size > 1, rows > 1 else { return convert(rows: 0..<rows) }
        let counts = PerThreadCounts(pool.size)
        defer { counts.storage.deallocate() }
        pool.run { p, parts in
            counts.storage[p] = convert(rows: (rows * p / parts)..<(rows * (p + 1) / parts))
        }
        return counts.storage.reduce(0, +)
    }

    private func convert(rows: Range<Int>) -> Int {
        guard !rows.isEmpty else { return 0 }
        let n = rows.count * rowLength
        let first = rows.lowerBound * rowLength
        let x: UnsafePointer<Float>
        switch dtype {
        case .f32:
            x = UnsafePointer(input.assumingMemoryBound(to: Float.self) + first)
        case .f16:
            Kernels.halfToFloat(input + 2 * first, into: floats + first, count: n)
            x = UnsafePointer(floats + first)
        case .bf16:
            Kernels.bfloat16ToFloat(input + 2 * first, into: floats + first, count: n)
            x = UnsafePointer(floats + first)
        default:
            preconditionFailure("dtype \(dtype) was rejected before conversion")
        }
        let outOffset = rows.lowerBound * (type.rowBytes(rowLength) ?? 0)
        return Kernels.quantize(x, count: n, as: type, into: output + outOffset)
    }
}

/// One slot per thread; each thread writes only its own.
private struct PerThreadCounts: @unchecked Sendable {
    let storage: UnsafeMutableBufferPointer<Int>
    init(_ n: Int) {
        storage = .allocate(capacity: n)
        storage.initialize(repeating: 0)
    }
}
