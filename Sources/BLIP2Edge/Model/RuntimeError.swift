/// Why running a model failed.
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
