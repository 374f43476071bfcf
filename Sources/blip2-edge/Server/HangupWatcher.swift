import BLIP2System

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Watches a client's connection while its request runs: when the client hangs up, calls
/// `onHangup` (which cancels the generation), and keeps calling it every 50 ms until
/// stopped, because a session clears its cancellation when generation proper starts, after
/// the image is encoded.
///
/// `stop()` returns only once the watching thread has finished with the socket, so a
/// socket number reused by a later connection is never watched in its place.
final class HangupWatcher: @unchecked Sendable {
    private let lock = Lock()
    private var gone = false
    private let finished = Semaphore(value: 0)
    private let wakeRead: Int32, wakeWrite: Int32

    init(socket: Socket, onHangup: @escaping @Sendable () -> Void) {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) != 0 { fds = [-1, -1] }
        (wakeRead, wakeWrite) = (fds[0], fds[1])
        let wake = wakeRead
        let watch = { @Sendable [self] in
            defer { finished.signal() }
            guard wake >= 0 else { return }
            while true {
                // Once the client is gone its socket stays ready: then wait on the pipe alone.
                let watching = !isGone
                var p = [pollfd(fd: wake, events: Int16(POLLIN), revents: 0), pollfd(fd: socket.fd, events: Socket.pollReadHangUp, revents: 0)]
                let ready = poll(&p, watching ? 2 : 1, watching ? -1 : 50)
                if ready < 0 && errno != EINTR { return }
                if p[0].revents != 0 { return }
                if watching && p[1].revents & (Socket.pollReadHangUp | Int16(POLLHUP | POLLERR)) != 0 {
                    lock.lock()
                    gone = true
                    lock.unlock()
                }
                if isGone { onHangup() }
            }
        }
        do { try startDetachedThread(watch) } catch { finished.signal() } // then no hang-up is seen
    }

    /// Whether the client has gone.
    var isGone: Bool {
        lock.lock()
        defer { lock.unlock() }
        return gone
    }

    func stop() {
        if wakeWrite >= 0 {
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)
        }
        finished.wait()
        if wakeRead >= 0 { close(wakeRead); close(wakeWrite) }
    }
}
