import BLIP2CommandLine
import BLIP2Edge
import BLIP2System

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `blip2-edge serve`: listens at once (so that supervisors see the port and /health says
/// 503 while loading), maps the model and makes its sessions on another thread, serves
/// until SIGTERM or SIGINT, then lets requests in flight finish for `gracePeriod` seconds
/// before cancelling them, and exits 0.
enum ServeCommand {
    static let gracePeriod = 10.0

    static func run(_ o: Options) throws {
        guard o.positional.isEmpty else { throw UsageError("serve takes no arguments besides options (got \(o.positional[0]))") }
        let path = try ModelLocation.resolve(o.model)
        // Reading the header is quick and catches a missing or foreign file before listening.
        let family = try BLIP2Config(metadata: try GGUFFile(path: path).metadata, path: path).family
        let cores = Processors.available
        let sessions = o.sessions ?? max(1, cores / 2)
        let threads = o.threads > 0 ? o.threads : max(1, cores / sessions)
        if let key = o.apiKey, key.isEmpty { throw UsageError("--api-key is empty") }
        // The environment keeps the key out of `ps` output, which every local user can read.
        let apiKey = o.apiKey ?? SystemInfo.environment("BLIP2_API_KEY").flatMap { $0.isEmpty ? nil : $0 }
        var limits = ServerLimits()
        if let t = o.readTimeout { limits.readTimeout = Double(t) }
        if let t = o.idleTimeout { limits.idleTimeout = Double(t) }

        let state = ServerState(modelID: FilePaths.lastComponent(of: path), apiKey: apiKey)
        let server = try HTTPServer(host: o.host ?? "127.0.0.1", port: o.port ?? 8080, limits: limits,
                                    maxConnections: o.maxConnections ?? 64)
        state.connections = { server.activeConnections }
        // The first line of output, for scripts and tests that asked for port 0.
        print("listening on \(server.address)")
        fflush(nil)
        if apiKey == nil && !isLoopback(o.host ?? "127.0.0.1") {
            log("warning: listening beyond this machine without --api-key: anyone who can reach \(server.address) can use the model")
        }

        let queue = o.queue ?? 16
        let lowRAM = o.lowRAM
        try startDetachedThread {
            do {
                let start = Clock.monotonicSeconds()
                state.setLoaded(try load(path: path, family: family, sessions: sessions, threads: threads, queue: queue, lowRAM: lowRAM))
                log("ready: \(state.modelID), \(sessions) session\(sessions == 1 ? "" : "s") of \(threads) thread\(threads == 1 ? "" : "s"), queue \(queue), loaded in \(format("%.1f", Clock.monotonicSeconds() - start)) s")
            } catch {
                log("\(error)")
                exit(1)
            }
        }

        let routes = Routes(state: state)
        let metrics = state.metrics
        server.run(handler: { routes.handle($0) }, checkHead: { routes.checkHead($0) }, onResponse: { metrics.request(path: $0, status: $1) })

        log("stopping: no new connections; waiting up to \(Int(gracePeriod)) s for \(server.activeConnections) open")
        if !server.waitForConnections(until: .after(seconds: gracePeriod)) {
            log("cancelling the requests still running")
            state.loaded?.stop(cancelRunning: true)
            _ = server.waitForConnections(until: .after(seconds: 5))
        }
        exit(0)
    }

    static func load(path: String, family: ModelFamily, sessions: Int, threads: Int, queue: Int, lowRAM: Bool) throws -> LoadedModel {
        switch family {
        case .opt, .t5:
            let model = try BLIP2Model(path: path)
            let workers = try (0..<sessions).map { _ -> Session in
                let s = try Session(model: model, threads: threads)
                s.lowRAM = lowRAM
                return s
            }
            return .captioning(model, SessionPool(workers: workers, queueLimit: queue, cancel: { $0.cancel() }))
        case .retrieval:
            let model = try RetrievalModel(path: path)
            let workers = try (0..<sessions).map { _ in try RetrievalSession(model: model, threads: threads) }
            return .retrieval(model, SessionPool(workers: workers, queueLimit: queue, cancel: { _ in }))
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host.hasPrefix("127.") || host == "::1"
    }

    static func log(_ s: String) { StandardStreams.writeError("blip2-edge: \(s)\n") }
}
