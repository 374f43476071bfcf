import BLIP2System

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why a socket read or write did not complete.
enum SocketFailure: Error {
    case timedOut
    /// The peer closed its side, or the connection broke.
    case closed
}

/// A monotonic point in time: deadlines must not move when the wall clock is set.
struct Deadline {
    let nanoseconds: UInt64

    static func now() -> UInt64 { Clock.monotonicNanoseconds() }
    static func after(seconds: Double) -> Deadline { Deadline(nanoseconds: now() + UInt64(max(seconds, 0) * 1e9)) }

    /// Milliseconds left for poll(2), at least 0, at most `cap`.
    func millisecondsLeft(cap: Int32 = .max) -> Int32 {
        let t = Self.now()
        guard nanoseconds > t else { return 0 }
        return Int32(min(UInt64(cap), (nanoseconds - t + 999_999) / 1_000_000))
    }

    var hasPassed: Bool { Self.now() >= nanoseconds }
}

/// A connected stream socket read and written with deadlines: every wait is a poll(2) with a
/// timeout, so a client that stops sending or reading cannot hold a thread forever.
final class Socket: @unchecked Sendable {
    let fd: Int32
    private var isClosed = false
    private let lock = Lock()

    init(fd: Int32) { self.fd = fd }

    /// Linux's POLLRDHUP (the peer shut its writing side); Glibc does not export it to Swift.
    static let pollReadHangUp: Int16 = 0x2000

    /// Reads what is available into `buffer` (appending), waiting until `deadline`. Returns
    /// the number of bytes read; throws `.closed` at end of stream.
    func read(into buffer: inout [UInt8], upTo count: Int = 65536, deadline: Deadline) throws(SocketFailure) {
        while true {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, deadline.millisecondsLeft(cap: 1000))
            if ready < 0 {
                if errno == EINTR { continue }
                throw .closed
            }
            if ready == 0 {
                if deadline.hasPassed { throw .timedOut }
                continue
            }
            let old = buffer.count
            buffer.append(contentsOf: repeatElement(0, count: count))
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + old, count, 0) }
            buffer.removeLast(count - max(n, 0))
            if n > 0 { return }
            if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            throw .closed
        }
    }

    /// Writes all of `bytes` by `deadline`.
    func write(_ bytes: [UInt8], deadline: Deadline) throws(SocketFailure) {
        var sent = 0
        while sent < bytes.count {
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&p, 1, deadline.millisecondsLeft(cap: 1000))
            if ready < 0 {
                if errno == EINTR { continue }
                throw .closed
            }
            if ready == 0 {
                if deadline.hasPassed { throw .timedOut }
                continue
            }
            if p.revents & Int16(POLLERR | POLLHUP) != 0 && p.revents & Int16(POLLOUT) == 0 { throw .closed }
            // MSG_NOSIGNAL: a closed peer is an error here, not a SIGPIPE for the process.
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 { sent += n; continue }
            if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            throw .closed
        }
    }

    /// Whether the peer has gone (closed or reset), without consuming anything it sent.
    /// Pipelined data waiting to be read does not count as going.
    func peerHasGone(waitingMilliseconds: Int32 = 0) -> Bool {
        var p = pollfd(fd: fd, events: Self.pollReadHangUp, revents: 0)
        let ready = poll(&p, 1, waitingMilliseconds)
        return ready > 0 && p.revents & (Self.pollReadHangUp | Int16(POLLHUP | POLLERR)) != 0
    }

    /// Ends the connection after an error response without reading the request to its end:
    /// closing with unread input makes the kernel send a reset, which can reach the client
    /// before it has read our response. So stop sending, then discard what still comes for a
    /// moment.
    func closeAfterLingering(seconds: Double = 1) {
        shutdown(fd, Int32(SHUT_WR))
        let deadline = Deadline.after(seconds: seconds)
        var sink: [UInt8] = []
        while !deadline.hasPassed {
            do { try read(into: &sink, deadline: deadline) } catch { break }
            sink.removeAll(keepingCapacity: true)
        }
        close()
    }

    /// Sends no more; the peer sees the end of the response.
    func close() {
        lock.lock()
        defer { lock.unlock() }
        guard !isClosed else { return }
        isClosed = true
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
    }
}
