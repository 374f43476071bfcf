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

/// Runs submitted work in order on one background thread (the converter's reader and
/// writer). Where no thread can be started, the work runs on the caller instead: slower,
/// never lost. Dropping the worker ends its thread once the work submitted is done.
public final class SerialWorker: @unchecked Sendable {
    /// What the thread holds: not the worker itself, whose deinit must be able to run.
    private final class Queue: @unchecked Sendable {
        let condition = Condition()
        var jobs: [@Sendable () -> Void] = []
        var closing = false

        func loop() {
            while true {
                condition.lock()
                while jobs.isEmpty && !closing { condition.wait() }
                if jobs.isEmpty { condition.unlock(); return }
                let job = jobs.removeFirst()
                condition.unlock()
                job()
            }
        }
    }

    private let queue = Queue()
    private let threaded: Bool

    public init() {
        let q = queue
        threaded = (try? startDetachedThread { q.loop() }) != nil
    }

    deinit {
        queue.condition.lock()
        queue.closing = true
        queue.condition.signal()
        queue.condition.unlock()
    }

    public func submit(_ job: @escaping @Sendable () -> Void) {
        guard threaded else { return job() }
        queue.condition.lock()
        queue.jobs.append(job)
        queue.condition.signal()
        queue.condition.unlock()
    }
}
