import CKernels

/// The kernels' persistent thread pool. One pool runs one kernel at a time: a model in use
/// by several threads needs one pool per thread (each `Session` has its own).
final class ThreadPool: @unchecked Sendable {
    let handle: OpaquePointer?

    /// `threads` <= 0: one per CPU.
    init(threads: Int = 0) throws {
        guard let h = ck_pool_create(Int32(clamping: threads)) else { throw RuntimeError.cannotStartThreads }
        handle = h
    }

    deinit { ck_pool_destroy(handle) }

    var size: Int { Int(ck_pool_size(handle)) }
}
