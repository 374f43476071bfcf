import BLIP2System

/// A complete response: status, headers, body.
struct HTTPResponse {
    var status: Int
    var headers: [(String, String)] = []
    var body: [UInt8] = []

    static func json<T: Encodable>(_ value: T, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: JSONBody.encode(value) + [10])
    }

    static func text(_ text: String, contentType: String = "text/plain; charset=utf-8", status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: Array(text.utf8))
    }

    /// The error as OpenAI's clients expect it: {"error": {"message", "type", "code"}}.
    static func error(_ e: HTTPError) -> HTTPResponse {
        var r = json(ErrorBody(error: .init(message: e.message, type: e.type, code: e.status)), status: e.status)
        r.headers += e.headers
        return r
    }

    struct ErrorBody: Encodable {
        struct Detail: Encodable { let message: String; let type: String; let code: Int }
        let error: Detail
    }

    /// Status line and headers, with the framing headers this server always sets.
    /// `framing` is nil for a body that ends with the connection (streaming to HTTP/1.0).
    static func head(status: Int, headers: [(String, String)], framing: (String, String)?, keepAlive: Bool) -> [UInt8] {
        var s = "HTTP/1.1 \(status) \(HTTPStatus.reason(status))\r\n"
        s += "Server: blip2-edge\r\n"
        for (name, value) in headers { s += "\(name): \(value)\r\n" }
        if let framing { s += "\(framing.0): \(framing.1)\r\n" }
        s += "Connection: \(keepAlive ? "keep-alive" : "close")\r\n\r\n"
        return Array(s.utf8)
    }

    func serialized(keepAlive: Bool, headOnly: Bool = false) -> [UInt8] {
        Self.head(status: status, headers: headers, framing: ("Content-Length", "\(body.count)"), keepAlive: keepAlive)
            + (headOnly ? [] : body)
    }
}

/// A response sent piece by piece as they are made (server-sent events): chunked transfer
/// coding for HTTP/1.1 clients; for HTTP/1.0 ones, the raw bytes and the end of the
/// connection as the end of the body.
final class StreamingResponse {
    private let socket: Socket
    private let chunked: Bool
    private let writeTimeout: Double
    /// Set once a write failed: the client has gone or stopped reading.
    private(set) var failed = false
    /// Set once the whole body, its end included, was written: a client that hangs up after
    /// this has its reply.
    private(set) var finished = false

    init(socket: Socket, chunked: Bool, writeTimeout: Double) {
        self.socket = socket
        self.chunked = chunked
        self.writeTimeout = writeTimeout
    }

    func start(status: Int, headers: [(String, String)], keepAlive: Bool) {
        write(HTTPResponse.head(status: status, headers: headers, framing: chunked ? ("Transfer-Encoding", "chunked") : nil,
                                keepAlive: keepAlive && chunked))
    }

    /// Returns false when the client is gone.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty else { return !failed }
        if chunked {
            write(Array(String(bytes.count, radix: 16).utf8) + [13, 10] + bytes + [13, 10])
        } else {
            write(bytes)
        }
        return !failed
    }

    /// One server-sent event: `data: ...` and a blank line.
    @discardableResult
    func sendEvent(_ data: String) -> Bool { send(Array("data: \(data)\n\n".utf8)) }

    func finish() {
        if chunked { write(Array("0\r\n\r\n".utf8)) }
        finished = !failed
    }

    private func write(_ bytes: [UInt8]) {
        guard !failed else { return }
        do { try socket.write(bytes, deadline: .after(seconds: writeTimeout)) } catch { failed = true }
    }
}

/// JSON in and out of the endpoints.
enum JSONBody {
    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        // Encoding our own response types cannot fail (no non-finite floats reach them).
        return (try? Array(JSONEncoding.text(value).utf8)) ?? Array(#"{"error":{"message":"could not encode the response","type":"server_error","code":500}}"#.utf8)
    }

    static func string<T: Encodable>(_ value: T) -> String { String(decoding: encode(value), as: UTF8.self) }
}
