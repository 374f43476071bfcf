import CKernels

/// The kernels' persistent thread pool. One pool runs one kernel at a time: a model in use
/// by several threads needs one pool per thread (each `Session` has its own).
public final class ThreadPool: @unchecked Sendable {
    let handle: OpaquePointer?

    /// `threads` <= 0: one per CPU.
    public init(threads: Int = 0) throws {
        guard let h = ck_pool_create(Int32(clamping: threads)) else { throw RuntimeError.cannotStartThreads }
        handle = h
    }

    deinit { ck_pool_destroy(handle) }

    public var size: Int { Int(ck_pool_size(handle)) }
}

public enum RuntimeError: Error, Equatable, CustomStringConvertible {
    case cannotStartThreads
    case outOfMemory(what: String)
    case kernelRejected(what: String)
    case invalidInput(String)
    case cancelled

    public var description: String {
        switch self {
        case .cannotStartThreads: "cannot start worker threads"
        case let .outOfMemory(what): "out of memory in \(what)"
        case let .kernelRejected(what): "internal error: a kernel rejected its arguments in \(what)"
        case let .invalidInput(reason): reason
        case .cancelled: "cancelled"
        }
    }
}
