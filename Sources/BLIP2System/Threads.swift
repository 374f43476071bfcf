#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public struct ThreadStartError: Error, CustomStringConvertible {
    public let code: Int32
    public var description: String { "cannot start a thread: \(errnoString(code))" }
}

/// Starts `body` on a new detached thread.
public func startDetachedThread(_ body: @escaping @Sendable () -> Void) throws(ThreadStartError) {
    final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { raw in
        let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
        box.body()
        return nil
    }, box)
    guard rc == 0 else {
        Unmanaged<Box>.fromOpaque(box).release()
        throw ThreadStartError(code: rc)
    }
    pthread_detach(thread)
}

/// A counting semaphore: `wait` blocks until a `signal` has been given for it.
public final class Semaphore: @unchecked Sendable {
    private let condition = Condition()
    private var count: Int

    public init(value: Int = 0) { count = value }

    public func signal() {
        condition.lock()
        count += 1
        condition.signal()
        condition.unlock()
    }

    public func wait() {
        condition.lock()
        while count == 0 { condition.wait() }
        count -= 1
        condition.unlock()
    }
}
