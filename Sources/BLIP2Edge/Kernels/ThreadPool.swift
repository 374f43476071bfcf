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

extension ThreadPool {
    /// Runs `body(ith, nth)` for every thread of the pool (ith 0 on the caller) and returns
    /// when all have finished: for work that is not a kernel, such as the converter's rows.
    func run(_ body: (_ ith: Int, _ nth: Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            var context = body
            withUnsafeMutablePointer(to: &context) { p in
                ck_pool_run(handle, { ctx, ith, nth in
                    ctx!.assumingMemoryBound(to: ((Int, Int) -> Void).self).pointee(Int(ith), Int(nth))
                }, p)
            }
        }
    }
}
