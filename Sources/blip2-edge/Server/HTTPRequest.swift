import BLIP2System

/// One parsed request. Header names are lower-cased; the body is complete (de-chunked).
struct HTTPRequest {
    var method: String
    /// The target's path, without the query (not percent-decoded: routes are plain ASCII).
    var path: String
    var query: [(name: String, value: String)]
    var minorVersion: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8] = []

    /// The first value of a header.
    func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }

    /// HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes unless told
    /// to keep it.
    var keepAlive: Bool {
        let tokens = headers.filter { $0.name == "connection" }
            .flatMap { $0.value.lowercased().split(separator: ",").map { $0.trimmingSpacesAndTabs() } }
        return minorVersion >= 1 ? !tokens.contains("close") : tokens.contains("keep-alive")
    }

    /// The media type of the body, lower-cased, without parameters ("" when absent).
    var contentType: String {
        (header("content-type") ?? "").split(separator: ";").first.map { $0.trimmingSpacesAndTabs().lowercased() } ?? ""
    }

    /// The query's value for `name` (the last one given), or nil.
    func queryValue(_ name: String) -> String? { query.last { $0.name == name }?.value }
}

/// How the body that follows a request head is framed.
enum BodyFraming: Equatable {
    case none
    case length(Int)
    case chunked
}

/// Parses a request head (request line and header fields), strictly: anything ambiguous is
/// refused rather than guessed at, because a proxy in front may have guessed otherwise.
enum HTTPRequestParser {
    static let maxHeaderCount = 100

    /// The end of the head in `bytes` (the index after its blank line), or nil when the
    /// head is not complete yet. Lines end with CRLF; a bare LF is accepted too.
    static func headEnd(_ bytes: [UInt8], from start: Int = 0) -> Int? {
        var i = max(start, 0)
        while i < bytes.count {
            if bytes[i] == 10 {
                // LF LF, or LF CR LF.
                if i + 1 < bytes.count && bytes[i + 1] == 10 { return i + 2 }
                if i + 2 < bytes.count && bytes[i + 1] == 13 && bytes[i + 2] == 10 { return i + 3 }
            }
            i += 1
        }
        return nil
    }

    static func parseHead(_ head: ArraySlice<UInt8>) throws(HTTPError) -> (HTTPRequest, BodyFraming) {
        var lines = head.split(separator: 10, omittingEmptySubsequences: false).map { line -> ArraySlice<UInt8> in
            line.last == 13 ? line.dropLast() : line
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        // RFC 9112 2.2: ignore empty lines before the request line.
        while lines.first?.isEmpty == true { lines.removeFirst() }
        guard let requestLine = lines.first else { throw .malformed("empty request") }
        let parts = requestLine.split(separator: 32, omittingEmptySubsequences: false)
        guard parts.count == 3, let method = token(parts[0]) else {
            throw .malformed("malformed request line (expected: METHOD /path HTTP/1.1)")
        }
        let version = String(decoding: parts[2], as: UTF8.self)
        guard version.hasPrefix("HTTP/"), version.count == 8 else { throw .malformed("malformed HTTP version \(quoted(version))") }
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
            throw HTTPError(status: 505, message: "only HTTP/1.0 and HTTP/1.1 are served, not \(version)",
                            type: "invalid_request_error", closesConnection: true)
        }
        let target = parts[1]
        guard target.first == UInt8(ascii: "/"), target.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw .malformed("the request target must be a path starting with /")
        }
        let targetText = String(decoding: target, as: UTF8.self)
        let (path, queryText) = splitTarget(targetText)
        let query = try parseQuery(queryText)

        guard lines.count - 1 <= maxHeaderCount else {
            throw HTTPError(status: 431, message: "more than \(maxHeaderCount) header fields", type: "invalid_request_error", closesConnection: true)
        }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), let name = token(line[line.startIndex..<colon]) else {
                // Covers obsolete line folding (a line starting with a space) too.
                throw .malformed("malformed header line")
            }
            let raw = line[(colon + 1)...]
            guard !raw.contains(where: { ($0 < 32 && $0 != 9) || $0 == 127 }) else {
                throw .malformed("control characters in header \(name)")
            }
            let value = String(decoding: raw, as: UTF8.self).trimmingSpacesAndTabs()
            headers.append((name.lowercased(), value))
        }
        // RFC 9112 3.2: an HTTP/1.1 request without Host, or any request with more than one,
        // gets 400.
        let hosts = headers.filter { $0.name == "host" }.count
        guard hosts <= 1 else { throw .malformed("more than one Host header") }
        guard hosts == 1 || version == "HTTP/1.0" else { throw .malformed("an HTTP/1.1 request needs a Host header") }
        var request = HTTPRequest(method: method, path: path, query: query, minorVersion: version == "HTTP/1.1" ? 1 : 0, headers: headers)
        let framing = try bodyFraming(&request)
        return (request, framing)
    }

    /// Content-Length or chunked, never both (RFC 9112 6.3: the classic smuggling vector).
    static func bodyFraming(_ request: inout HTTPRequest) throws(HTTPError) -> BodyFraming {
        let encodings = request.headers.filter { $0.name == "transfer-encoding" }
        let lengths = request.headers.filter { $0.name == "content-length" }
            .flatMap { $0.value.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpacesAndTabs() } }
        if !encodings.isEmpty {
            guard lengths.isEmpty else { throw .malformed("both Transfer-Encoding and Content-Length") }
            let codings = encodings.flatMap { $0.value.lowercased().split(separator: ",").map { $0.trimmingSpacesAndTabs() } }
            guard codings == ["chunked"], request.minorVersion == 1 else {
                throw HTTPError(status: 501, message: "Transfer-Encoding \(quoted(encodings.map(\.value).joined(separator: ", "))) is not supported (only chunked, or Content-Length)",
                                type: "invalid_request_error", closesConnection: true)
            }
            return .chunked
        }
        guard let first = lengths.first else { return .none }
        guard lengths.allSatisfy({ $0 == first }), !first.isEmpty, first.count <= 18, first.allSatisfy(\.isASCIIDigit), let n = Int(first) else {
            throw .malformed("invalid Content-Length")
        }
        return n == 0 ? .none : .length(n)
    }

    static func splitTarget(_ target: String) -> (path: String, query: String) {
        guard let q = target.firstIndex(of: "?") else { return (target, "") }
        return (String(target[..<q]), String(target[target.index(after: q)...]))
    }

    /// application/x-www-form-urlencoded pairs: `+` is a space, %XX a byte.
    static func parseQuery(_ text: String) throws(HTTPError) -> [(name: String, value: String)] {
        var out: [(name: String, value: String)] = []
        for pair in text.split(separator: "&") where !pair.isEmpty {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = percentDecode(kv[0]), let value = percentDecode(kv.count > 1 ? kv[1] : "") else {
                throw .badRequest("invalid percent-encoding in the query")
            }
            out.append((name, value))
        }
        return out
    }

    static func percentDecode(_ s: Substring) -> String? {
        var bytes: [UInt8] = []
        var i = s.utf8.startIndex
        let u = s.utf8
        while i < u.endIndex {
            let c = u[i]
            if c == UInt8(ascii: "%") {
                let h = u.index(after: i)
                guard h < u.endIndex, u.index(after: h) < u.endIndex,
                      let hi = hexValue(u[h]), let lo = hexValue(u[u.index(after: h)]) else { return nil }
                bytes.append(hi << 4 | lo)
                i = u.index(h, offsetBy: 2)
            } else {
                bytes.append(c == UInt8(ascii: "+") ? 32 : c)
                i = u.index(after: i)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// RFC 9110's token: the characters a method or a header name may have.
    static func token(_ bytes: ArraySlice<UInt8>) -> String? {
        let extra = Array("!#$%&'*+-.^_`|~".utf8)
        guard !bytes.isEmpty, bytes.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || extra.contains($0) }) else {
            return nil
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func quoted(_ s: String) -> String { "\"\(s.prefix(40))\"" }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
