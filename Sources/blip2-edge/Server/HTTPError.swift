/// A request the server will not serve, with the status and the message the client gets as
/// `{"error": {"message": ..., "type": ...}}`.
struct HTTPError: Error, CustomStringConvertible {
    var status: Int
    var message: String
    var type: String
    /// After this error the rest of the connection's input cannot be trusted (the request's
    /// framing was broken, or its body was not read): close it after the response.
    var closesConnection = false
    var headers: [(String, String)] = []
    /// The request's path when known, for the metrics.
    var path: String?

    var description: String { "\(status) \(message)" }

    static func badRequest(_ message: String) -> HTTPError { HTTPError(status: 400, message: message, type: "invalid_request_error") }
    /// A request whose framing is broken: nothing after it on the connection can be parsed.
    static func malformed(_ message: String) -> HTTPError {
        HTTPError(status: 400, message: message, type: "invalid_request_error", closesConnection: true)
    }
    static func notFound(_ path: String) -> HTTPError { HTTPError(status: 404, message: "no such endpoint: \(path)", type: "not_found_error") }
    static func methodNotAllowed(_ method: String, allowed: [String]) -> HTTPError {
        HTTPError(status: 405, message: "\(method) is not allowed here; use \(allowed.joined(separator: " or "))",
                  type: "invalid_request_error", headers: [("Allow", allowed.joined(separator: ", "))])
    }
    static func unsupportedMediaType(_ message: String) -> HTTPError { HTTPError(status: 415, message: message, type: "invalid_request_error") }
    static func unauthorized(_ message: String) -> HTTPError {
        HTTPError(status: 401, message: message, type: "authentication_error", headers: [("WWW-Authenticate", "Bearer")])
    }
    static func busy(_ message: String, retryAfter: Int) -> HTTPError {
        HTTPError(status: 503, message: message, type: "server_busy", headers: [("Retry-After", "\(retryAfter)")])
    }
    static func internalError(_ message: String) -> HTTPError { HTTPError(status: 500, message: message, type: "server_error") }
}

/// Reason phrases for the statuses this server sends.
enum HTTPStatus {
    static func reason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Content"
        case 431: "Request Header Fields Too Large"
        case 499: "Client Closed Request"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }
}
