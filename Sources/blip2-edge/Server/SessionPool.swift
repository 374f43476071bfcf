import BLIP2System

/// Why a request got no session.
enum PoolRefusal: Error {
    /// Every session is busy and the queue is full.
    case full
    /// The client went away while waiting.
    case abandoned
    /// The server is shutting down.
    case stopping
}

/// N sessions, each serving one request at a time, and a bounded first-come-first-served
/// queue of requests waiting for one. The queue's bound is what keeps memory and latency
/// bounded under load: beyond it, requests are refused at once (503 and Retry-After) instead
/// of piling up.
final class SessionPool<Worker>: @unchecked Sendable {
    private let condition = Condition()
    private var free: [Worker]
    private var busy: [ObjectIdentifier: Worker] = [:]
    private var waiting: [Int] = []  // tickets, oldest first
    private var nextTicket = 0
    private var stopping = false
    let size: Int
    let queueLimit: Int
    private let cancel: (Worker) -> Void

    init(workers: [Worker], queueLimit: Int, cancel: @escaping (Worker) -> Void) {
        free = workers
        size = workers.count
        self.queueLimit = queueLimit
        self.cancel = cancel
    }

    var queueLength: Int {
        condition.lock()
        defer { condition.unlock() }
        return waiting.count
    }

    var isFull: Bool {
        condition.lock()
        defer { condition.unlock() }
        return free.isEmpty && waiting.count >= queueLimit
    }

    var busyCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return size - free.count
    }

    /// Runs `body` with a session, waiting in the queue when all are busy. `isAbandoned` is
    /// asked a few times a second while waiting (a client that hung up leaves the queue).
    func with<T>(isAbandoned: () -> Bool, _ body: (Worker) throws -> T) throws -> T {
        let worker = try acquire(isAbandoned: isAbandoned)
        defer { release(worker) }
        return try body(worker)
    }

    private func acquire(isAbandoned: () -> Bool) throws(PoolRefusal) -> Worker {
        condition.lock()
        defer { condition.unlock() }
        if stopping { throw .stopping }
        if waiting.isEmpty, let w = free.popLast() { return mark(w) }
        guard waiting.count < queueLimit else { throw .full }
        let ticket = nextTicket
        nextTicket += 1
        waiting.append(ticket)
        defer {
            waiting.removeAll { $0 == ticket }
            condition.broadcast()
        }
        while true {
            if stopping { throw .stopping }
            if waiting.first == ticket, let w = free.popLast() { return mark(w) }
            _ = condition.wait(seconds: 0.2)
            if isAbandoned() { throw .abandoned }
        }
    }

    private func mark(_ w: Worker) -> Worker {
        busy[ObjectIdentifier(w as AnyObject)] = w
        return w
    }

    private func release(_ w: Worker) {
        condition.lock()
        busy[ObjectIdentifier(w as AnyObject)] = nil
        free.append(w)
        condition.broadcast()
        condition.unlock()
    }

    /// Shutting down: no more requests; the queued ones are refused, running ones cancelled
    /// when `cancelRunning`.
    func stop(cancelRunning: Bool) {
        condition.lock()
        stopping = true
        let running = Array(busy.values)
        condition.broadcast()
        condition.unlock()
        if cancelRunning { running.forEach(cancel) }
    }
}
