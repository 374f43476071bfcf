import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `blip2-edge serve`'s request reading, end to end on one connection: the input is what a
/// client sent before closing its side (any number of pipelined requests, heads, chunked or
/// sized bodies, garbage). The server's own connection code reads it from a socket pair and
/// answers each request; multipart bodies go through the form parser. Limits are smaller
/// than the server's so that 64 KiB inputs reach them.
let fuzzLimits: ServerLimits = {
    var l = ServerLimits()
    l.maxHeaderBytes = 4 << 10
    l.maxBodyBytes = 16 << 10
    // The peer has closed before reading starts, so no read waits; these only bound a bug.
    l.readTimeout = 5
    l.idleTimeout = 5
    l.writeTimeout = 5
    return l
}()

/// What the routes do with a request, reduced to the parsing: query, framing, form parts.
@Sendable func fuzzHandle(_ exchange: Exchange) -> HTTPResponse? {
    let r = exchange.request
    precondition(r.body.count <= fuzzLimits.maxBodyBytes, "a body past the limit was read")
    precondition(r.headers.allSatisfy { $0.name == $0.name.lowercased() }, "header names are lower-cased")
    precondition(r.path.hasPrefix("/"), "the path starts with /")
    _ = r.keepAlive
    _ = r.queryValue("max_tokens")
    if r.contentType == "multipart/form-data" {
        do {
            let parts = try Multipart.parse(r.body, contentType: r.header("content-type") ?? "")
            precondition(parts.count <= Multipart.maxParts)
            for p in parts { precondition(!p.name.isEmpty && p.data.count <= r.body.count); _ = p.text }
        } catch {
            return .error(error)
        }
    }
    if r.path == "/stream" {
        // A streamed reply: chunked for HTTP/1.1, raw for HTTP/1.0.
        let s = exchange.startStream(headers: [("Content-Type", "text/event-stream")])
        s.sendEvent("{\"n\":\(r.body.count)}")
        s.sendEvent("[DONE]")
        s.finish()
        return nil
    }
    return .json(["bytes": r.body.count])
}

/// A refused head (as a wrong API key is) before its body is read.
@Sendable func fuzzCheckHead(_ r: HTTPRequest) -> HTTPError? {
    r.path == "/refuse" ? .unauthorized("refused") : nil
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var fds: [Int32] = [0, 0]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { fatalError("socketpair: \(errno)") }
    var buffer: Int32 = 1 << 20
    setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &buffer, socklen_t(MemoryLayout<Int32>.size))
    setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &buffer, socklen_t(MemoryLayout<Int32>.size))
    var sent = 0
    while sent < size {
        let n = send(fds[1], data + sent, size - sent, Int32(MSG_NOSIGNAL))
        guard n > 0 else { fatalError("send: \(errno)") }
        sent += n
    }
    // The client is gone: what it sent stays readable, then the end of the stream; the
    // server's writes fail (as they do when a client hangs up early).
    close(fds[1])
    let connection = HTTPConnection(socket: Socket(fd: fds[0]), limits: fuzzLimits, handler: fuzzHandle,
                                    checkHead: fuzzCheckHead, isStopping: { false }, onResponse: { _, status in
        precondition((100..<600).contains(status), "status \(status)")
    })
    connection.serve()
    return 0
}
