import BLIP2Edge

/// The endpoints: which method each takes, the API key check, and the small GET ones.
struct Routes: Sendable {
    let state: ServerState

    static let getRoutes: Set<String> = ["/health", "/metrics", "/v1/models"]
    static let postRoutes: Set<String> = ["/v1/chat/completions", "/v1/caption", "/v1/ask", "/v1/match"]

    func handle(_ exchange: Exchange) -> HTTPResponse? {
        do {
            return try route(exchange)
        } catch where exchange.stream != nil {
            // A streamed response has begun: no status can follow; end the connection.
            if error is ModelRunner.ClientGone { state.metrics.abandoned() }
            exchange.keepAlive = false
            return nil
        } catch let e as HTTPError {
            if e.closesConnection { exchange.keepAlive = false }
            return .error(e)
        } catch is ModelRunner.ClientGone {
            // Nobody to answer; close the connection.
            state.metrics.abandoned()
            exchange.keepAlive = false
            return .error(HTTPError(status: 499, message: "client closed the request", type: "cancelled"))
        } catch {
            return .error(.internalError("\(error)"))
        }
    }

    /// Before a body is read: a wrong key is answered without reading it, so that clients
    /// without the key cannot make the server buffer bodies. So is a full queue when the
    /// client waits for `100 Continue` before sending its body (curl does for large ones);
    /// otherwise the body is read, to keep the connection usable for the retry.
    func checkHead(_ r: HTTPRequest) -> HTTPError? {
        guard Self.postRoutes.contains(r.path) else { return nil }
        do { try state.authorize(r) } catch { return error }
        if r.header("expect")?.lowercased() == "100-continue", let m = state.loaded, m.isFull {
            return .busy("every session is busy and the queue is full; retry later", retryAfter: 1)
        }
        return nil
    }

    private func route(_ exchange: Exchange) throws -> HTTPResponse? {
        let r = exchange.request
        // /health answers without the key: load balancers and supervisors probe it.
        if r.path != "/health" { try state.authorize(r) }
        let isGet = Self.getRoutes.contains(r.path), isPost = Self.postRoutes.contains(r.path)
        guard isGet || isPost else { throw HTTPError.notFound(r.path) }
        if isGet {
            guard r.method == "GET" || r.method == "HEAD" else { throw HTTPError.methodNotAllowed(r.method, allowed: ["GET", "HEAD"]) }
        } else {
            guard r.method == "POST" else { throw HTTPError.methodNotAllowed(r.method, allowed: ["POST"]) }
            // A POST without Content-Length or chunked framing has, by HTTP's rules, no body;
            // say that the length is what is missing.
            guard r.header("content-length") != nil || r.header("transfer-encoding") != nil else {
                // Closed after: a body sent without framing would be read as the next request.
                throw HTTPError(status: 411, message: "the request needs a body with Content-Length (or chunked transfer coding)",
                                type: "invalid_request_error", closesConnection: true)
            }
        }
        switch r.path {
        case "/health": return health()
        case "/metrics": return metrics()
        case "/v1/models": return models()
        case "/v1/chat/completions": return try ChatCompletions(state: state).handle(exchange)
        case "/v1/caption": return try ImageEndpoints(state: state).caption(exchange, asking: false)
        case "/v1/ask": return try ImageEndpoints(state: state).caption(exchange, asking: true)
        case "/v1/match": return try ImageEndpoints(state: state).match(exchange)
        default: throw HTTPError.notFound(r.path)
        }
    }

    struct Health: Encodable { let status: String; let model: String }

    /// 200 once the model is mapped and its sessions made; 503 before.
    func health() -> HTTPResponse {
        var r = HTTPResponse.json(Health(status: state.loaded == nil ? "loading" : "ok", model: state.modelID),
                                  status: state.loaded == nil ? 503 : 200)
        if state.loaded == nil { r.headers.append(("Retry-After", "1")) }
        return r
    }

    func metrics() -> HTTPResponse {
        let m = state.loaded
        let text = state.metrics.render(queueLength: m?.queueLength ?? 0, busySessions: m?.busySessions ?? 0,
                                        sessions: m?.sessions ?? 0, connections: state.connections(), ready: m != nil)
        return .text(text, contentType: "text/plain; version=0.0.4; charset=utf-8")
    }

    struct ModelList: Encodable {
        struct Model: Encodable { let id: String; let object = "model"; let created: Int; let owned_by = "blip2-edge" }
        let object = "list"
        let data: [Model]
    }

    func models() -> HTTPResponse {
        .json(ModelList(data: [.init(id: state.modelID, created: state.created)]))
    }
}
