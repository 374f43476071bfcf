import BLIP2Edge
import BLIP2System

/// Counters for GET /metrics, in Prometheus's text format. Only known endpoints get their
/// own label, so that clients requesting random paths cannot grow the series without bound.
final class Metrics: @unchecked Sendable {
    private let lock = Lock()
    private var requests: [Key: Int] = [:]
    private var tokens = 0
    private var generationSeconds = 0.0
    private var generations = 0
    private var lastTokensPerSecond = 0.0
    private var stageSeconds: [String: Double] = [:]
    private var cancelled = 0

    struct Key: Hashable { let endpoint: String; let status: Int }

    static let endpoints: Set<String> = ["/v1/chat/completions", "/v1/caption", "/v1/ask", "/v1/match", "/v1/models", "/health", "/metrics"]

    func request(path: String, status: Int) {
        let endpoint = Self.endpoints.contains(path) ? path : "other"
        lock.lock()
        requests[Key(endpoint: endpoint, status: status), default: 0] += 1
        lock.unlock()
    }

    /// One finished generation: its new tokens and where its time went.
    func generation(tokens count: Int, timings t: StageTimings) {
        lock.lock()
        defer { lock.unlock() }
        tokens += count
        generations += 1
        generationSeconds += t.total
        let decodeSeconds = t.decodePerToken * Double(max(count - 1, 0))
        if decodeSeconds > 0 { lastTokensPerSecond = Double(count - 1) / decodeSeconds }
        for (stage, s) in [("preprocess", t.preprocess), ("vision", t.vision), ("qformer", t.qformer), ("prefill", t.prefill), ("decode", decodeSeconds)] {
            stageSeconds[stage, default: 0] += s
        }
    }

    func retrieval(seconds: Double) {
        lock.lock()
        generations += 1
        generationSeconds += seconds
        lock.unlock()
    }

    /// A request whose client hung up before its reply: its generation stopped early and its
    /// session went to the next request.
    func abandoned() {
        lock.lock()
        cancelled += 1
        lock.unlock()
    }

    func render(queueLength: Int, busySessions: Int, sessions: Int, connections: Int, ready: Bool) -> String {
        lock.lock()
        defer { lock.unlock() }
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += "\(name)\(labels) \(value)\n" }
        }
        let rows = requests.sorted { ($0.key.endpoint, $0.key.status) < ($1.key.endpoint, $1.key.status) }
        metric("blip2_http_requests_total", "counter", "Requests answered, by endpoint and status.",
               rows.map { ("{endpoint=\"\($0.key.endpoint)\",status=\"\($0.key.status)\"}", "\($0.value)") })
        metric("blip2_ready", "gauge", "1 once the model is mapped and the sessions are made.", [("", ready ? "1" : "0")])
        metric("blip2_queue_length", "gauge", "Requests waiting for a session.", [("", "\(queueLength)")])
        metric("blip2_sessions_busy", "gauge", "Sessions running a request.", [("", "\(busySessions)")])
        metric("blip2_sessions", "gauge", "Sessions (requests run at once).", [("", "\(sessions)")])
        metric("blip2_connections", "gauge", "Open client connections.", [("", "\(connections)")])
        metric("blip2_generations_total", "counter", "Model runs finished (captions, answers, matches).", [("", "\(generations)")])
        metric("blip2_requests_abandoned_total", "counter", "Requests whose client hung up before the reply (generation stopped, session freed).", [("", "\(cancelled)")])
        metric("blip2_generated_tokens_total", "counter", "New tokens generated.", [("", "\(tokens)")])
        metric("blip2_generation_seconds_total", "counter", "Seconds spent in model runs.", [("", Self.number(generationSeconds))])
        metric("blip2_tokens_per_second", "gauge", "Decoding speed of the last generation (tokens after the first per second).",
               [("", Self.number(lastTokensPerSecond))])
        metric("blip2_stage_seconds_total", "counter", "Seconds spent per stage of generation.",
               stageSeconds.sorted { $0.key < $1.key }.map { ("{stage=\"\($0.key)\"}", Self.number($0.value)) })
        return out
    }

    static func number(_ x: Double) -> String { x.isFinite ? format("%.6f", x) : "0" }
}
