import BLIP2Edge

/// Runs a request on a session from the pool: waits in the queue, watches the client while
/// the model runs (a client that hangs up cancels its generation and frees the session),
/// and turns the ways that can fail into HTTP errors.
enum ModelRunner {
    /// No response can reach a client that has gone; the connection just closes.
    struct ClientGone: Error {}

    static func run<Worker: AnyObject, T>(_ pool: SessionPool<Worker>, _ exchange: Exchange, state: ServerState,
                                          _ body: (Worker, HangupWatcher) throws -> T) throws -> T {
        do {
            return try pool.with(isAbandoned: { exchange.socket.peerHasGone() }) { worker in
                let watcher = HangupWatcher(socket: exchange.socket, onHangup: { [worker = UncheckedBox(worker)] in
                    (worker.value as? Session)?.cancel()
                })
                defer { watcher.stop() }
                do {
                    let result = try body(worker, watcher)
                    // The reply has nowhere to go (and generation stopped early for it), unless
                    // it was streamed to its end before the client closed the connection.
                    if watcher.isGone && exchange.stream?.finished != true { throw ClientGone() }
                    return result
                } catch RuntimeError.cancelled {
                    if watcher.isGone { throw ClientGone() }
                    throw HTTPError.busy("the request was cancelled: the server is shutting down", retryAfter: 5)
                }
            }
        } catch let refusal as PoolRefusal {
            switch refusal {
            case .full: throw HTTPError.busy("every session is busy and the queue is full (\(pool.queueLimit) waiting); retry later", retryAfter: 1)
            case .abandoned: throw ClientGone()
            case .stopping: throw HTTPError.busy("the server is shutting down", retryAfter: 5)
            }
        } catch let e as RuntimeError {
            if case let .invalidInput(message) = e { throw HTTPError.badRequest(message) }
            throw HTTPError.internalError("\(e)")
        }
    }
}

/// Hands a non-Sendable reference to a @Sendable closure; the pool guarantees one user.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
