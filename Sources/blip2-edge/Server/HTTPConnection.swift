import BLIP2System

/// The limits and timeouts of every connection.
struct ServerLimits: Sendable {
    var maxHeaderBytes = 16 << 10
    var maxBodyBytes = 64 << 20
    /// The head must arrive within this many seconds of its first byte, and each read of the
    /// body must make progress within it.
    var readTimeout = 10.0
    /// A whole request, head and body, within this.
    var maxRequestSeconds = 300.0
    /// How long a kept-alive connection may wait for its next request.
    var idleTimeout = 15.0
    /// How long a client may take to accept each write of a response.
    var writeTimeout = 30.0
}

/// What a handler may do besides returning a response: stream one.
final class Exchange {
    let socket: Socket
    let request: HTTPRequest
    let limits: ServerLimits
    var keepAlive: Bool
    private(set) var stream: StreamingResponse?

    init(socket: Socket, request: HTTPRequest, limits: ServerLimits, keepAlive: Bool) {
        self.socket = socket
        self.request = request
        self.limits = limits
        self.keepAlive = keepAlive
    }

    /// Sends the head of a streamed 200 response; the handler then sends the body.
    func startStream(headers: [(String, String)]) -> StreamingResponse {
        let s = StreamingResponse(socket: socket, chunked: request.minorVersion >= 1, writeTimeout: limits.writeTimeout)
        s.start(status: 200, headers: headers, keepAlive: keepAlive)
        stream = s
        return s
    }
}

/// Handles one request: returns the response, or nil after streaming one through the exchange.
typealias RequestHandler = @Sendable (Exchange) -> HTTPResponse?

/// Looks at a request's head before its body is read: an error it returns is sent at once,
/// without reading (up to 64 MiB of) a body that would be refused anyway, and the connection
/// is then closed.
typealias HeadCheck = @Sendable (HTTPRequest) -> HTTPError?

/// One client connection, served on its own thread: requests one after another while the
/// client keeps the connection alive (pipelined ones too, in order).
final class HTTPConnection {
    let socket: Socket
    let limits: ServerLimits
    let handler: RequestHandler
    let checkHead: HeadCheck
    let isStopping: () -> Bool
    /// Called with each request's status, for the metrics (path, status).
    let onResponse: @Sendable (String, Int) -> Void

    /// Bytes read and not consumed yet, from `start`.
    private var buffer: [UInt8] = []
    private var start = 0

    init(socket: Socket, limits: ServerLimits, handler: @escaping RequestHandler, checkHead: @escaping HeadCheck,
         isStopping: @escaping () -> Bool, onResponse: @escaping @Sendable (String, Int) -> Void) {
        self.socket = socket
        self.limits = limits
        self.handler = handler
        self.checkHead = checkHead
        self.isStopping = isStopping
        self.onResponse = onResponse
    }

    func serve() {
        defer { socket.close() }
        while true {
            guard waitForRequest() else { return }
            let requestDeadline = Deadline.after(seconds: limits.maxRequestSeconds)
            let request: HTTPRequest
            do {
                request = try readRequest(requestDeadline)
            } catch {
                // Nothing after a broken, unfinished or unread request can be read reliably.
                send(.error(error), keepAlive: false, path: error.path)
                socket.closeAfterLingering()
                return
            }
            let exchange = Exchange(socket: socket, request: request, limits: limits,
                                    keepAlive: request.keepAlive && !isStopping())
            if let response = handler(exchange) {
                // The body was read in full, so even an error leaves the connection usable.
                let keep = exchange.keepAlive && !isStopping()
                send(response, keepAlive: keep, path: request.path, head: request.method == "HEAD")
                if !keep { return }
            } else {
                let failed = exchange.stream?.failed ?? true
                // 499 (nginx's "client closed request") when the client left mid-stream.
                onResponse(request.path, failed ? 499 : 200)
                if failed || !exchange.keepAlive || request.minorVersion == 0 || isStopping() { return }
            }
        }
    }

    private func send(_ response: HTTPResponse, keepAlive: Bool, path: String?, head: Bool = false) {
        onResponse(path ?? "", response.status)
        try? socket.write(response.serialized(keepAlive: keepAlive, headOnly: head), deadline: .after(seconds: limits.writeTimeout))
    }

    /// Waits for the first byte of the next request: false when the client closed, the idle
    /// timeout passed, or the server is stopping.
    private func waitForRequest() -> Bool {
        if start < buffer.count { return true }
        let idle = Deadline.after(seconds: limits.idleTimeout)
        while true {
            if isStopping() { return false }
            // Short slices, so that a stopping server closes idle connections promptly.
            let slice = Deadline(nanoseconds: min(idle.nanoseconds, Deadline.now() + 250_000_000))
            do {
                try fill(slice)
                return true
            } catch .timedOut {
                if idle.hasPassed { return false }
            } catch {
                return false
            }
        }
    }

    /// Reads more input into the buffer.
    private func fill(_ deadline: Deadline) throws(SocketFailure) {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 1 << 20 {
            buffer.removeFirst(start)
            start = 0
        }
        try socket.read(into: &buffer, deadline: deadline)
    }

    private func fill(_ deadline: Deadline, while what: String) throws(HTTPError) {
        do {
            try fill(deadline)
        } catch .timedOut {
            throw HTTPError(status: 408, message: "timed out reading the request \(what)", type: "invalid_request_error", closesConnection: true)
        } catch {
            throw HTTPError(status: 400, message: "the connection closed in the middle of the request \(what)", type: "invalid_request_error", closesConnection: true)
        }
    }

    private func readRequest(_ requestDeadline: Deadline) throws(HTTPError) -> HTTPRequest {
        let headDeadline = Deadline(nanoseconds: min(requestDeadline.nanoseconds, Deadline.after(seconds: limits.readTimeout).nanoseconds))
        var scanned = start
        var headEnd: Int?
        while true {
            headEnd = HTTPRequestParser.headEnd(buffer, from: max(start, scanned - 3))
            if headEnd != nil { break }
            scanned = buffer.count
            if buffer.count - start > limits.maxHeaderBytes { throw Self.headTooLarge(limits) }
            try fill(headDeadline, while: "head")
        }
        guard let end = headEnd, end - start <= limits.maxHeaderBytes else { throw Self.headTooLarge(limits) }
        var (request, framing) = try HTTPRequestParser.parseHead(buffer[start..<end])
        start = end
        if var refusal = checkHead(request) {
            refusal.path = request.path
            throw refusal
        }
        switch framing {
        case .none:
            break
        case let .length(n):
            guard n <= limits.maxBodyBytes else { throw Self.bodyTooLarge(limits) }
            try continueIfExpected(request)
            request.body = try readExactly(n, requestDeadline)
        case .chunked:
            try continueIfExpected(request)
            request.body = try readChunked(requestDeadline)
        }
        return request
    }

    static func headTooLarge(_ l: ServerLimits) -> HTTPError {
        HTTPError(status: 431, message: "the request head is larger than \(l.maxHeaderBytes >> 10) KiB", type: "invalid_request_error", closesConnection: true)
    }

    static func bodyTooLarge(_ l: ServerLimits) -> HTTPError {
        HTTPError(status: 413, message: "the request body is larger than \(l.maxBodyBytes >> 20) MiB", type: "invalid_request_error", closesConnection: true)
    }

    /// curl sends `Expect: 100-continue` before large bodies and waits for this.
    private func continueIfExpected(_ request: HTTPRequest) throws(HTTPError) {
        guard request.minorVersion == 1, request.header("expect")?.lowercased() == "100-continue" else { return }
        try? socket.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8), deadline: .after(seconds: limits.writeTimeout))
    }

    /// Each read must make progress within the read timeout, and the whole by the deadline.
    private func progressDeadline(_ requestDeadline: Deadline) -> Deadline {
        Deadline(nanoseconds: min(requestDeadline.nanoseconds, Deadline.after(seconds: limits.readTimeout).nanoseconds))
    }

    private func readExactly(_ n: Int, _ requestDeadline: Deadline) throws(HTTPError) -> [UInt8] {
        while buffer.count - start < n {
            try fill(progressDeadline(requestDeadline), while: "body (\(buffer.count - start) of \(n) bytes arrived)")
        }
        let out = Array(buffer[start..<(start + n)])
        start += n
        return out
    }

    /// A line of chunked framing, without its line end.
    private func readLine(_ requestDeadline: Deadline, limit: Int = 4096) throws(HTTPError) -> ArraySlice<UInt8> {
        var from = start
        while true {
            if let lf = buffer[from...].firstIndex(of: 10) {
                let line = buffer[start..<lf]
                start = lf + 1
                return line.last == 13 ? line.dropLast() : line
            }
            from = buffer.count
            guard buffer.count - start <= limit else { throw .malformed("a chunk-size line is too long") }
            try fill(progressDeadline(requestDeadline), while: "body")
        }
    }

    private func readChunked(_ requestDeadline: Deadline) throws(HTTPError) -> [UInt8] {
        var body: [UInt8] = []
        while true {
            let line = try readLine(requestDeadline)
            // Chunk extensions (after ';') are allowed and ignored.
            let sizeText = line.prefix { $0 != UInt8(ascii: ";") }
            let hex = String(decoding: sizeText, as: UTF8.self).trimmingSpacesAndTabs()
            // Hex digits only: Int(_:radix:) also takes a sign, and "-8" would be a negative size
            // (found by the http fuzz target: it crashed the server).
            guard !hex.isEmpty, hex.count <= 15, hex.utf8.allSatisfy({ HTTPRequestParser.hexValue($0) != nil }),
                  let size = Int(hex, radix: 16) else { throw .malformed("invalid chunk size") }
            if size == 0 { break }
            guard body.count + size <= limits.maxBodyBytes else { throw Self.bodyTooLarge(limits) }
            body += try readExactly(size, requestDeadline)
            guard try readLine(requestDeadline).isEmpty else { throw .malformed("a chunk does not end with CRLF") }
        }
        // Trailer fields, ignored, up to the blank line.
        var trailerBytes = 0
        while true {
            let line = try readLine(requestDeadline)
            if line.isEmpty { break }
            trailerBytes += line.count
            guard trailerBytes <= limits.maxHeaderBytes else { throw Self.headTooLarge(limits) }
        }
        return body
    }
}
