import BLIP2Edge
import BLIP2System

/// The model the server runs, with its sessions: whichever family the file is.
enum LoadedModel {
    case captioning(BLIP2Model, SessionPool<Session>)
    case retrieval(RetrievalModel, SessionPool<RetrievalSession>)

    var queueLength: Int {
        switch self {
        case let .captioning(_, p): p.queueLength
        case let .retrieval(_, p): p.queueLength
        }
    }

    var busySessions: Int {
        switch self {
        case let .captioning(_, p): p.busyCount
        case let .retrieval(_, p): p.busyCount
        }
    }

    /// Every session busy and the queue full: a new request would be refused.
    var isFull: Bool {
        switch self {
        case let .captioning(_, p): p.isFull
        case let .retrieval(_, p): p.isFull
        }
    }

    var sessions: Int {
        switch self {
        case let .captioning(_, p): p.size
        case let .retrieval(_, p): p.size
        }
    }

    func stop(cancelRunning: Bool) {
        switch self {
        case let .captioning(_, p): p.stop(cancelRunning: cancelRunning)
        case let .retrieval(_, p): p.stop(cancelRunning: cancelRunning)
        }
    }
}

/// What every request handler shares: the model once it is loaded, the key, the metrics.
final class ServerState: @unchecked Sendable {
    let modelID: String
    let apiKey: [UInt8]?
    let metrics = Metrics()
    let created = Clock.unixTime()
    private let lock = Lock()
    private var model: LoadedModel?
    /// Set by the server once it listens, for the connection count in /metrics.
    var connections: () -> Int = { 0 }

    init(modelID: String, apiKey: String?) {
        self.modelID = modelID
        self.apiKey = apiKey.map { Array($0.utf8) }
    }

    var loaded: LoadedModel? {
        lock.lock()
        defer { lock.unlock() }
        return model
    }

    func setLoaded(_ m: LoadedModel) {
        lock.lock()
        model = m
        lock.unlock()
    }

    /// The loaded model, or 503 while it is being mapped.
    func ready() throws(HTTPError) -> LoadedModel {
        guard let m = loaded else { throw .busy("the model is still loading", retryAfter: 1) }
        return m
    }

    /// `Authorization: Bearer KEY`, compared in time independent of where a wrong key
    /// differs, so that timing does not reveal the key byte by byte.
    func authorize(_ request: HTTPRequest) throws(HTTPError) {
        guard let key = apiKey else { return }
        guard let header = request.header("authorization") else {
            throw .unauthorized("missing API key: send Authorization: Bearer KEY")
        }
        let given = Array(header.utf8)
        let prefix = Array("bearer ".utf8)
        guard given.count > prefix.count, given.prefix(prefix.count).map({ $0 | 0x20 }) == prefix.map({ $0 | 0x20 }) else {
            throw .unauthorized("the Authorization header must be Bearer KEY")
        }
        guard Self.constantTimeEqual(Array(given.dropFirst(prefix.count)), key) else { throw .unauthorized("invalid API key") }
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        // Always walk the expected key's length; a shorter or longer guess costs the same.
        for i in 0..<b.count { difference |= b[i] ^ (i < a.count ? a[i] : ~b[i]) }
        return difference == 0
    }
}
