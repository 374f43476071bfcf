import BLIP2System

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The write end of the pipe that wakes the accept loop; the signal handler writes to it
/// (write(2) is async-signal-safe; nothing else is done in the handler).
nonisolated(unsafe) private var wakeWriteFD: Int32 = -1

private func wakeOnSignal(_: Int32) {
    var byte: UInt8 = 1
    _ = write(wakeWriteFD, &byte, 1)
}

struct ListenError: Error, CustomStringConvertible {
    let description: String
}

/// The listening socket and its accept loop: one thread per connection, at most
/// `maxConnections` at once (more are told 503 and closed), until SIGTERM or SIGINT.
final class HTTPServer: @unchecked Sendable {
    let limits: ServerLimits
    let maxConnections: Int
    /// "host:port" as bound (the real port when 0 was asked for).
    let address: String
    private let listener: Int32
    private let wakeReadFD: Int32
    private let lock = Condition()
    private var active = 0
    private var stopping = false

    init(host: String, port: Int, limits: ServerLimits, maxConnections: Int) throws {
        self.limits = limits
        self.maxConnections = maxConnections
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var info: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &info)
        guard rc == 0, let first = info else {
            throw ListenError(description: "cannot listen on \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(info) }
        let fd = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ListenError(description: "cannot create a socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0, listen(fd, 128) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw ListenError(description: "cannot listen on \(host):\(port): \(reason)")
        }
        listener = fd
        address = Self.boundAddress(fd)
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw ListenError(description: "cannot create a pipe") }
        wakeReadFD = fds[0]
        wakeWriteFD = fds[1]
        signal(SIGPIPE, SIG_IGN)
        signal(SIGTERM, wakeOnSignal)
        signal(SIGINT, wakeOnSignal)
    }

    static func boundAddress(_ fd: Int32) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST)), service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        _ = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &host, socklen_t(host.count), &service, socklen_t(service.count), NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        func text(_ c: [CChar]) -> String { String(decoding: c.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        let h = text(host), s = text(service)
        return h.contains(":") ? "[\(h)]:\(s)" : "\(h):\(s)"
    }

    var isStopping: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopping
    }

    var activeConnections: Int {
        lock.lock()
        defer { lock.unlock() }
        return active
    }

    /// Accepts connections until a signal asks to stop; then stops listening and returns
    /// (connections in flight go on: see `waitForConnections`).
    func run(handler: @escaping RequestHandler, checkHead: @escaping HeadCheck, onResponse: @escaping @Sendable (String, Int) -> Void) {
        while true {
            var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeReadFD, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, -1)
            if ready < 0 { if errno == EINTR { continue } else { break } }
            if fds[1].revents != 0 { break }
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { continue }
            var one: Int32 = 1
            // Streamed tokens are small writes that must leave at once.
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let socket = Socket(fd: fd)
            lock.lock()
            let admitted = active < maxConnections
            if admitted { active += 1 }
            lock.unlock()
            guard admitted else {
                let e = HTTPError.busy("too many connections (at most \(maxConnections))", retryAfter: 1)
                try? socket.write(HTTPResponse.error(e).serialized(keepAlive: false), deadline: .after(seconds: 1))
                onResponse("", 503)
                socket.close()
                continue
            }
            let limits = self.limits
            let finished = { @Sendable [self] in
                lock.lock()
                active -= 1
                lock.broadcast()
                lock.unlock()
            }
            do {
                try startDetachedThread { [self] in
                    HTTPConnection(socket: socket, limits: limits, handler: handler, checkHead: checkHead, isStopping: { [self] in isStopping },
                                   onResponse: onResponse).serve()
                    finished()
                }
            } catch {
                // Out of threads: this connection is refused, the server goes on.
                let e = HTTPError.busy("cannot serve another connection now (\(error))", retryAfter: 1)
                try? socket.write(HTTPResponse.error(e).serialized(keepAlive: false), deadline: .after(seconds: 1))
                onResponse("", 503)
                socket.close()
                finished()
            }
        }
        lock.lock()
        stopping = true
        lock.unlock()
        close(listener)
    }

    /// Waits until no connection is open, or the deadline: true when none is.
    func waitForConnections(until deadline: Deadline) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        while active > 0 {
            if deadline.hasPassed { return false }
            _ = lock.wait(seconds: min(0.1, Double(deadline.millisecondsLeft()) / 1000))
        }
        return true
    }
}
