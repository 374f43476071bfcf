import CKernels
import Dispatch

/// Converts rows from a checkpoint dtype to a storage type, rows split across threads.
struct RowConverter: @unchecked Sendable {
    let input: UnsafeRawPointer
    let dtype: SafetensorsDType
    let floats: UnsafeMutablePointer<Float>
    let output: UnsafeMutableRawPointer
    let type: GGMLType
    let rowLength: Int

    /// Returns the number of non-finite values met where the storage type cannot hold them.
    func run(rows: Int, threads: Int) -> Int {
        let parts = min(threads, rows)
        guard parts > 1 else { return convert(rows: 0..<rows) }
        let counts = PerThreadCounts(parts)
        defer { counts.storage.deallocate() }
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            counts.storage[p] = convert(rows: (rows * p / parts)..<(rows * (p + 1) / parts))
        }
        return counts.storage.reduce(0, +)
    }

    private func convert(rows: Range<Int>) -> Int {
        let n = rows.count * rowLength
        let first = rows.lowerBound * rowLength
        let x: UnsafePointer<Float>
        switch dtype {
        case .f32:
            x = UnsafePointer(input.assumingMemoryBound(to: Float.self) + first)
        case .f16:
            ck_fp16_to_fp32_row(input.assumingMemoryBound(to: UInt16.self) + first, floats + first, n)
            x = UnsafePointer(floats + first)
        case .bf16:
            ck_bf16_to_f32(input.assumingMemoryBound(to: UInt16.self) + first, floats + first, n)
            x = UnsafePointer(floats + first)
        default:
            preconditionFailure("dtype \(dtype) was rejected before conversion")
        }
        let outOffset = rows.lowerBound * (type.rowBytes(rowLength) ?? 0)
        switch type {
        case .f32:
            (output + outOffset).copyMemory(from: x, byteCount: n * 4)
            return 0
        case .f16:
            ck_fp32_to_fp16_row(x, (output + outOffset).assumingMemoryBound(to: UInt16.self), n)
            return 0
        case .q8_0:
            return ck_quantize_q8_0_gguf(x, (output + outOffset).assumingMemoryBound(to: ck_block_q8_0.self), n)
        case .q4_0:
            return ck_quantize_q4_0_gguf(x, (output + outOffset).assumingMemoryBound(to: ck_block_q4_0.self), n)
        }
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
