import Foundation
import XCTest
@testable import BLIP2Edge

#if canImport(Glibc)
import Glibc
#endif

/// `blip2-edge serve` end to end: the real binary on a loopback port chosen by the kernel,
/// spoken to over raw sockets, so that malformed requests can be sent as they are.
final class ServeTests: XCTestCase {
    static let dir = TemporaryDirectory()

    /// tiny-a as F32 and its fixture image as a PPM file.
    static func setUpModel() throws -> (model: String, image: [UInt8]) {
        let model = dir.file("tiny-a.f32.gguf")
        if !FileManager.default.fileExists(atPath: model) {
            try Converter(plan: QuantizationPlan(fileType: .f32)).convert(input: Fixtures.path("tiny-a"), output: model)
        }
        let ref = try ForwardTests.reference("tiny-a")
        let t = try XCTUnwrap(ref.tensor(named: "image_rgb8"))
        let pixels = try ref.floats("image_rgb8").map { UInt8($0) }
        return (model, Array("P6\n\(t.shape[1]) \(t.shape[0])\n255\n".utf8) + pixels)
    }

    /// The server process, started with `--port 0`; its first line of output names the port.
    final class Server {
        let process = Process()
        let port: UInt16
        private let errors = Pipe()

        init(_ args: [String], environment: [String: String]? = nil) throws {
            process.executableURL = EdgeCommandTests.binary
            // Without a key from the test's own environment unless one is given.
            var inherited = ProcessInfo.processInfo.environment
            inherited["BLIP2_API_KEY"] = nil
            process.environment = environment ?? inherited
            process.arguments = ["serve", "--port", "0", "--sessions", "1", "--threads", "1"] + args
            let out = Pipe()
            process.standardOutput = out
            process.standardError = errors
            try process.run()
            var line = Data()
            while !line.contains(10) {
                let d = out.fileHandleForReading.availableData
                if d.isEmpty { break }
                line += d
            }
            let text = String(decoding: line, as: UTF8.self)
            guard text.hasPrefix("listening on 127.0.0.1:"),
                  let p = UInt16(text.split(separator: "\n")[0].split(separator: ":").last ?? "") else {
                process.terminate()
                throw ServeTestError("the server did not say where it listens: \(text.debugDescription)")
            }
            port = p
            // Ready once the model is mapped: /health turns from 503 to 200.
            let deadline = Date().addingTimeInterval(60)
            while (try? Client(port: port).request("GET", "/health").status) != 200 {
                guard Date() < deadline, process.isRunning else { throw ServeTestError("the server did not become ready") }
                usleep(20_000)
            }
        }

        func client() throws -> Client { try Client(port: port) }

        func request(_ method: String, _ path: String, headers: [String: String] = [:], body: [UInt8] = []) throws -> Reply {
            try client().request(method, path, headers: headers, body: body)
        }

        /// SIGTERM, then the exit status (waiting at most `seconds`).
        func terminate(within seconds: Double = 30) -> Int32? {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            guard !process.isRunning else { process.interrupt(); return nil }
            return process.terminationStatus
        }

        deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
    }

    struct ServeTestError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// A parsed response.
    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]) ?? [:] }
        var errorMessage: String? { (json["error"] as? [String: Any])?["message"] as? String }
        var errorType: String? { (json["error"] as? [String: Any])?["type"] as? String }
    }

    /// One TCP connection to the server, with timeouts on every read.
    final class Client {
        let fd: Int32
        private var buffer: [UInt8] = []

        init(port: UInt16) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else { close(fd); throw ServeTestError("cannot connect to port \(port)") }
            var timeout = timeval(tv_sec: 60, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit { close(fd) }

        func send(_ bytes: [UInt8]) {
            var sent = 0
            while sent < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return }
                sent += n
            }
        }

        func send(_ text: String) { send(Array(text.utf8)) }

        func request(_ method: String, _ path: String, headers: [String: String] = [:], body: [UInt8] = []) throws -> Reply {
            var head = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\n"
            for (k, v) in headers { head += "\(k): \(v)\r\n" }
            if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
            send(Array((head + "\r\n").utf8) + body)
            return try readReply()
        }

        /// More bytes, or false at the end of the stream.
        private func fill() -> Bool {
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = recv(fd, &chunk, chunk.count, 0)
            guard n > 0 else { return false }
            buffer += chunk[0..<n]
            return true
        }

        private func line() throws -> String {
            while true {
                if let i = buffer.firstIndex(of: 10) {
                    let l = String(decoding: buffer[..<i], as: UTF8.self).trimmingCharacters(in: .init(charactersIn: "\r"))
                    buffer.removeFirst(i + 1)
                    return l
                }
                guard fill() else { throw ServeTestError("the connection ended inside a line") }
            }
        }

        private func take(_ n: Int) throws -> [UInt8] {
            while buffer.count < n { guard fill() else { throw ServeTestError("the connection ended inside a body") } }
            defer { buffer.removeFirst(n) }
            return Array(buffer[..<n])
        }

        func readReply() throws -> Reply {
            let status = try line()
            let parts = status.split(separator: " ")
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let code = Int(parts[1]) else { throw ServeTestError("bad status line \(status)") }
            var headers: [String: String] = [:]
            while true {
                let l = try line()
                if l.isEmpty { break }
                let kv = l.split(separator: ":", maxSplits: 1)
                headers[kv[0].lowercased()] = kv.count > 1 ? kv[1].trimmingCharacters(in: .whitespaces) : ""
            }
            var body: [UInt8] = []
            if let n = headers["content-length"].flatMap({ Int($0) }) {
                body = try take(n)
            } else if headers["transfer-encoding"] == "chunked" {
                while true {
                    let size = try XCTUnwrap(Int(try line(), radix: 16))
                    if size == 0 { _ = try line(); break }
                    body += try take(size)
                    _ = try line()
                }
            } else {
                while fill() {}
                body = buffer
                buffer = []
            }
            return Reply(status: code, headers: headers, body: body)
        }

        /// Whether the server closed the connection (reads its end within the timeout).
        func serverClosed() -> Bool {
            while fill() {}
            return true
        }
    }

    // MARK: - Helpers

    static func dataURI(_ bytes: [UInt8], type: String = "image/x-portable-pixmap") -> String {
        "data:\(type);base64," + Data(bytes).base64EncodedString()
    }

    static func chat(_ image: String, text: String? = nil, extra: [String: Any] = [:]) -> [UInt8] {
        var content: [[String: Any]] = [["type": "image_url", "image_url": ["url": image]]]
        if let text { content.insert(["type": "text", "text": text], at: 0) }
        var body: [String: Any] = ["model": "blip2", "messages": [["role": "user", "content": content]]]
        for (k, v) in extra { body[k] = v }
        return Array(try! JSONSerialization.data(withJSONObject: body))
    }

    static let json = ["Content-Type": "application/json"]

    /// The text of a chat completion, and of a streamed one reassembled from its events.
    static func completionText(_ r: Reply) -> String? {
        ((r.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
    }

    static func streamedText(_ r: Reply) throws -> (text: String, finish: String?, done: Bool) {
        var text = "", finish: String?, done = false
        for event in r.text.components(separatedBy: "\n\n") where !event.isEmpty {
            XCTAssertTrue(event.hasPrefix("data: "), event)
            let data = String(event.dropFirst(6))
            if data == "[DONE]" { done = true; continue }
            let chunk = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any])
            XCTAssertEqual(chunk["object"] as? String, "chat.completion.chunk")
            guard let choice = (chunk["choices"] as? [[String: Any]])?.first else { continue }
            text += ((choice["delta"] as? [String: Any])?["content"] as? String) ?? ""
            if let f = choice["finish_reason"] as? String { finish = f }
        }
        return (text, finish, done)
    }

    func assertError(_ r: Reply, _ status: Int, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, status, r.text, file: file, line: line)
        XCTAssertEqual(r.headers["content-type"], "application/json", file: file, line: line)
        XCTAssertNotNil(r.errorType, r.text, file: file, line: line)
        XCTAssertTrue(r.errorMessage?.contains(fragment) == true, "\(r.text) lacks \"\(fragment)\"", file: file, line: line)
    }

    // MARK: - Tests

    func testEndpointsAnswerAsTheCommandLineDoes() throws {
        let (model, image) = try Self.setUpModel()
        let server = try Server(["--model", model])

        let health = try server.request("GET", "/health")
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(health.json["status"] as? String, "ok")
        let models = try server.request("GET", "/v1/models")
        XCTAssertEqual(((models.json["data"] as? [[String: Any]])?.first?["id"] as? String), "tiny-a.f32.gguf")

        // The caption's tokens are the CLI's for the same settings.
        let imagePath = Self.dir.file("image.ppm")
        try Data(image).write(to: URL(fileURLWithPath: imagePath))
        let cli = try CommandRun(EdgeCommandTests.binary, ["caption", imagePath, "--model", model, "--greedy", "--max-tokens", "6", "--json"])
        let cliTokens = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(cli.stdout.utf8)) as? [String: Any])["tokens"] as? [Int]
        let caption = try server.request("POST", "/v1/caption?beams=1&max_tokens=6", headers: ["Content-Type": "image/x-portable-pixmap"], body: image)
        XCTAssertEqual(caption.status, 200, caption.text)
        XCTAssertEqual(caption.json["tokens"] as? [Int], cliTokens)
        XCTAssertEqual((caption.json["usage"] as? [String: Any])?["completion_tokens"] as? Int, 6)

        // Ask, with the image and the question as multipart form fields.
        let boundary = "XyZ123"
        var form = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"question\"\r\n\r\nwhat is in the picture?\r\n".utf8)
        form += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"max_tokens\"\r\n\r\n4\r\n".utf8)
        form += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.ppm\"\r\nContent-Type: image/x-portable-pixmap\r\n\r\n".utf8)
        form += image + Array("\r\n--\(boundary)--\r\n".utf8)
        let ask = try server.request("POST", "/v1/ask?beams=1", headers: ["Content-Type": "multipart/form-data; boundary=\(boundary)"], body: form)
        XCTAssertEqual(ask.status, 200, ask.text)
        let cliAsk = try CommandRun(EdgeCommandTests.binary, ["ask", imagePath, "what is in the picture?", "--model", model, "--greedy", "--max-tokens", "4", "--json"])
        let cliAskTokens = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(cliAsk.stdout.utf8)) as? [String: Any])["tokens"] as? [Int]
        XCTAssertEqual(ask.json["tokens"] as? [Int], cliAskTokens)

        // The chat endpoint: a question is asked as /v1/ask does; no text captions.
        let chatAsk = try server.request("POST", "/v1/chat/completions", headers: Self.json,
                                         body: Self.chat(Self.dataURI(image), text: "what is in the picture?", extra: ["max_tokens": 4, "temperature": 0]))
        XCTAssertEqual(chatAsk.status, 200, chatAsk.text)
        XCTAssertEqual(chatAsk.json["object"] as? String, "chat.completion")
        XCTAssertEqual(Self.completionText(chatAsk), ask.json["text"] as? String)
        let usage = try XCTUnwrap(chatAsk.json["usage"] as? [String: Int])
        XCTAssertEqual(usage["completion_tokens"], 4)
        XCTAssertEqual(usage["total_tokens"], usage["prompt_tokens"]! + 4)
        let chatCaption = try server.request("POST", "/v1/chat/completions", headers: Self.json,
                                             body: Self.chat(Self.dataURI(image), extra: ["max_tokens": 6, "temperature": 0]))
        XCTAssertEqual(Self.completionText(chatCaption), caption.json["text"] as? String)

        // Beam search by default, sampling with a seed repeats.
        let beams = try server.request("POST", "/v1/chat/completions", headers: Self.json, body: Self.chat(Self.dataURI(image), extra: ["max_tokens": 5]))
        XCTAssertEqual(beams.status, 200, beams.text)
        let sampled = { try server.request("POST", "/v1/chat/completions", headers: Self.json,
                                           body: Self.chat(Self.dataURI(image), extra: ["max_tokens": 5, "temperature": 0.9, "top_p": 0.9, "seed": 7])) }
        XCTAssertEqual(Self.completionText(try sampled()), Self.completionText(try sampled()))

        let metrics = try server.request("GET", "/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.headers["content-type"]?.hasPrefix("text/plain") == true)
        for fragment in ["blip2_http_requests_total{endpoint=\"/v1/caption\",status=\"200\"} 1", "blip2_queue_length 0",
                         "blip2_generated_tokens_total", "blip2_tokens_per_second", "blip2_stage_seconds_total{stage=\"vision\"}"] {
            XCTAssertTrue(metrics.text.contains(fragment), "metrics lack \(fragment):\n\(metrics.text)")
        }
        XCTAssertEqual(server.terminate(), 0)
    }

    func testStreamedReplyReassembledEqualsTheWholeOne() throws {
        let (model, image) = try Self.setUpModel()
        let server = try Server(["--model", model])
        let cases: [(String?, [String: Any])] = [(nil, ["max_tokens": 12, "temperature": 0]), ("what is it?", ["max_tokens": 7, "temperature": 0]),
                              (nil, ["max_tokens": 9]), (nil, ["max_tokens": 8, "temperature": 0.8, "seed": 3])]
        for (text, extra) in cases {
            let whole = try server.request("POST", "/v1/chat/completions", headers: Self.json,
                                           body: Self.chat(Self.dataURI(image), text: text, extra: extra.merging(["temperature": extra["temperature"] ?? 0]) { a, _ in a }))
            XCTAssertEqual(whole.status, 200, whole.text)
            var streaming = extra
            streaming["stream"] = true
            streaming["stream_options"] = ["include_usage": true]
            let streamed = try server.request("POST", "/v1/chat/completions", headers: Self.json, body: Self.chat(Self.dataURI(image), text: text, extra: streaming))
            XCTAssertEqual(streamed.status, 200)
            XCTAssertEqual(streamed.headers["content-type"], "text/event-stream")
            XCTAssertEqual(streamed.headers["transfer-encoding"], "chunked")
            let (got, finish, done) = try Self.streamedText(streamed)
            XCTAssertEqual(got, Self.completionText(whole), "\(extra)")
            XCTAssertEqual(finish, (whole.json["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String)
            XCTAssertTrue(done, "ends with [DONE]")
            XCTAssertTrue(streamed.text.contains("\"usage\""), "include_usage sends the counts")
        }
        // An HTTP/1.0 client gets the events unchunked, ended by the end of the connection.
        let old = try server.client()
        let body = Self.chat(Self.dataURI(image), extra: ["max_tokens": 5, "stream": true])
        old.send(Array("POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body)
        let r = try old.readReply()
        XCTAssertEqual(r.status, 200)
        XCTAssertNil(r.headers["transfer-encoding"])
        XCTAssertEqual(r.headers["connection"], "close")
        XCTAssertTrue(try Self.streamedText(r).done)
    }

    func testBadRequestsGetTheirStatusAndAJSONError() throws {
        let (model, image) = try Self.setUpModel()
        let server = try Server(["--model", model, "--read-timeout", "1"])
        let chat = "/v1/chat/completions"
        assertError(try server.request("POST", chat, headers: Self.json, body: Array("{\"messages\": [".utf8)), 400, "not valid JSON")
        assertError(try server.request("POST", chat, headers: ["Content-Type": "text/plain"], body: Self.chat(Self.dataURI(image))), 415, "JSON")
        assertError(try server.request("POST", "/v1/caption", headers: Self.json, body: image), 415, "raw body")
        assertError(try server.request("POST", chat, headers: Self.json, body: Self.chat("data:image/png;base64,@@@notbase64!")), 400, "base64")
        assertError(try server.request("POST", chat, headers: Self.json, body: Self.chat(Self.dataURI(Array("GIF89a and more".utf8)))), 400, "GIF")
        assertError(try server.request("POST", chat, headers: Self.json, body: Self.chat("https://example.com/cat.png")), 400, "remote image URLs")
        assertError(try server.request("POST", chat, headers: Self.json, body: Array(#"{"messages":[{"role":"user","content":"hi"}]}"#.utf8)), 400, "no image")
        assertError(try server.request("POST", chat, headers: Self.json, body: Self.chat(Self.dataURI(image), extra: ["max_tokens": 0])), 400, "max_tokens")
        assertError(try server.request("POST", chat, headers: Self.json, body: Self.chat(Self.dataURI(image), extra: ["n": 2])), 400, "n must be 1")
        assertError(try server.request("POST", chat, headers: Self.json, body: Self.chat(Self.dataURI(image), extra: ["seed": 1e19])), 400, "seed")
        assertError(try server.request("POST", chat, headers: Self.json, body: Self.chat(Self.dataURI(image), extra: ["stream": "yes"])), 400, "stream")
        assertError(try server.request("POST", "/v1/caption?length_penalty=1e300", headers: ["Content-Type": "image/png"], body: image), 400, "length_penalty")
        assertError(try server.request("POST", chat, headers: Self.json, body: Self.chat(Self.dataURI(image), text: String(repeating: "why ", count: 5000))),
                    400, "longer than")
        assertError(try server.request("POST", "/v1/caption?temperature=hot", headers: ["Content-Type": "image/png"], body: image), 400, "temperature")
        assertError(try server.request("POST", chat, headers: Self.json, body: Self.chat(Self.dataURI(image), extra: ["max_tokens": 1000])), 400, "does not fit")
        assertError(try server.request("POST", "/v1/caption", headers: ["Content-Type": "image/png"], body: Array("not an image at all".utf8)), 400, "image")
        assertError(try server.request("POST", "/v1/ask", headers: ["Content-Type": "image/png"], body: image), 400, "question")
        assertError(try server.request("POST", "/v1/match?text=a", headers: ["Content-Type": "image/png"], body: image), 400, "retrieval model")
        assertError(try server.request("GET", "/v2/nothing"), 404, "/v2/nothing")
        let wrongMethod = try server.request("GET", "/v1/caption")
        assertError(wrongMethod, 405, "POST")
        XCTAssertEqual(wrongMethod.headers["allow"], "POST")
        assertError(try server.request("DELETE", "/health"), 405, "GET")

        // Framing errors: each on its own connection, which the server then closes.
        func raw(_ bytes: String, _ status: Int, _ fragment: String, line: UInt = #line) throws {
            let c = try server.client()
            c.send(bytes)
            let r = try c.readReply()
            assertError(r, status, fragment, line: line)
            XCTAssertEqual(r.headers["connection"], "close", line: line)
        }
        try raw("POST /v1/caption HTTP/1.1\r\nHost: x\r\n\r\n", 411, "Content-Length")
        try raw("GARBAGE\r\n\r\n", 400, "request line")
        try raw("GET /health HTTP/2.0\r\n\r\n", 505, "HTTP/2.0")
        try raw("GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400, "header")
        try raw("POST /v1/caption HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "both")
        try raw("POST /v1/caption HTTP/1.1\r\nHost: x\r\nContent-Length: 12x\r\n\r\n", 400, "Content-Length")
        try raw("POST /v1/caption HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "chunked")
        try raw("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 20_000))\r\n\r\n", 431, "KiB")
        try raw("POST /v1/caption HTTP/1.1\r\nHost: x\r\nContent-Length: \(100 << 20)\r\n\r\n", 413, "MiB")
        try raw("POST /v1/caption HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "chunk size")
        // A sign is not a hex digit: "-8" once reached the body reader as a negative size.
        try raw("POST /v1/caption HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-8\r\nabc", 400, "chunk size")
        try raw("POST /v1/caption HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n0\r\n\r\n", 400, "chunk size")
        // HTTP/1.1 requires exactly one Host (HTTP/1.0 none).
        try raw("GET /health HTTP/1.1\r\n\r\n", 400, "needs a Host")
        try raw("GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "more than one Host")
        let old = try server.client()
        old.send("GET /health HTTP/1.0\r\n\r\n")
        XCTAssertEqual(try old.readReply().status, 200)

        // A body that stops short: the client hangs up its sending side.
        let truncated = try server.client()
        truncated.send("POST /v1/caption HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\nonly this")
        shutdown(truncated.fd, Int32(SHUT_WR))
        assertError(try truncated.readReply(), 400, "closed in the middle")
        // A client that stops sending: 408 after the read timeout (1 s here).
        let slow = try server.client()
        slow.send("POST /v1/caption HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\nsome")
        assertError(try slow.readReply(), 408, "timed out")
        let slowHead = try server.client()
        slowHead.send("GET /health HTTP/1.1\r\nHost:")
        assertError(try slowHead.readReply(), 408, "head")

        // A chunked request body is accepted.
        let chunked = try server.client()
        var body = Array("POST /v1/caption?beams=1&max_tokens=3 HTTP/1.1\r\nHost: x\r\nContent-Type: image/x-portable-pixmap\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        for piece in stride(from: 0, to: image.count, by: 1000) {
            let part = image[piece..<min(piece + 1000, image.count)]
            body += Array("\(String(part.count, radix: 16))\r\n".utf8) + part + [13, 10]
        }
        chunked.send(body + Array("0\r\n\r\n".utf8))
        let ok = try chunked.readReply()
        XCTAssertEqual(ok.status, 200, ok.text)
        XCTAssertEqual((ok.json["tokens"] as? [Int])?.count, 3)

        // Still serving after all that.
        XCTAssertEqual(try server.request("GET", "/health").status, 200)
        XCTAssertEqual(server.terminate(), 0)
    }

    func testAPIKey() throws {
        let (model, image) = try Self.setUpModel()
        let server = try Server(["--model", model, "--api-key", "s3cret"])
        assertError(try server.request("GET", "/v1/models"), 401, "missing API key")
        assertError(try server.request("GET", "/v1/models", headers: ["Authorization": "Bearer s3cre"]), 401, "invalid API key")
        assertError(try server.request("GET", "/v1/models", headers: ["Authorization": "Bearer s3cret!"]), 401, "invalid API key")
        assertError(try server.request("GET", "/v1/models", headers: ["Authorization": "Basic czNjcmV0"]), 401, "Bearer")
        XCTAssertEqual(try server.request("GET", "/v1/models", headers: ["Authorization": "Bearer s3cret"]).status, 200)
        XCTAssertEqual(try server.request("GET", "/health").status, 200, "health needs no key")
        // A POST without the key is refused before its body is read.
        let early = try server.client()
        early.send("POST /v1/caption HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 50000000\r\n\r\n")
        assertError(try early.readReply(), 401, "missing API key")
        let r = try server.request("POST", "/v1/caption?beams=1&max_tokens=2", headers: ["Authorization": "Bearer s3cret", "Content-Type": "image/png"], body: image)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(server.terminate(), 0)

        // The key may come from the environment instead.
        var env = ProcessInfo.processInfo.environment
        env["BLIP2_API_KEY"] = "from-env"
        let fromEnv = try Server(["--model", model], environment: env)
        assertError(try fromEnv.request("GET", "/v1/models"), 401, "missing API key")
        XCTAssertEqual(try fromEnv.request("GET", "/v1/models", headers: ["Authorization": "Bearer from-env"]).status, 200)
        XCTAssertEqual(fromEnv.terminate(), 0)
    }

    func testKeepAliveAndPipelining() throws {
        let (model, image) = try Self.setUpModel()
        let server = try Server(["--model", model])
        let c = try server.client()
        let first = try c.request("GET", "/health")
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(first.headers["connection"], "keep-alive")
        let second = try c.request("POST", "/v1/caption?beams=1&max_tokens=2", headers: ["Content-Type": "image/png"], body: image)
        XCTAssertEqual(second.status, 200, second.text)
        // An error with its body read keeps the connection too.
        XCTAssertEqual(try c.request("GET", "/nowhere").status, 404)
        // Two requests sent at once are answered in order.
        c.send("GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        XCTAssertNotNil(try c.readReply().json["data"])
        let last = try c.readReply()
        XCTAssertEqual(last.json["status"] as? String, "ok")
        XCTAssertEqual(last.headers["connection"], "close")
        XCTAssertTrue(c.serverClosed())
        XCTAssertEqual(server.terminate(), 0)
    }

    func testClientThatHangsUpFreesItsSession() throws {
        let (model, image) = try Self.setUpModel()
        let server = try Server(["--model", model, "--queue", "4"])
        for _ in 0..<3 {
            let c = try server.client()
            let body = Self.chat(Self.dataURI(image), extra: ["max_tokens": 100, "min_tokens": 100, "stream": true])
            c.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n")
            c.send(body)
            var byte: UInt8 = 0
            // The stream starts once the request has its session, before the image is
            // encoded: hanging up then stops it before its first token.
            _ = recv(c.fd, &byte, 1, 0)
        }
        // The one session is free again for the next request (the abandoned ones stop early).
        let r = try server.request("POST", "/v1/caption?beams=1&max_tokens=2", headers: ["Content-Type": "image/png"], body: image)
        XCTAssertEqual(r.status, 200, r.text)
        let metrics = try server.request("GET", "/metrics").text
        XCTAssertFalse(metrics.contains("blip2_requests_abandoned_total 0"), metrics)
        XCTAssertEqual(server.terminate(), 0)
    }

    /// One session, no queue: while a request holds the session, the next is refused at once
    /// with 503 and Retry-After, and served again once the session is free. The holder is a
    /// streamed 100-token reply whose client does not read until the second request is answered;
    /// the stream's head shows it has the session. On a machine fast enough to finish those
    /// 100 tokens before the second request arrives (it then gets 200), the pair is tried again.
    func testFullQueueAnswers503WithRetryAfter() throws {
        let (model, image) = try Self.setUpModel()
        let server = try Server(["--model", model, "--queue", "0"])
        let long = Self.chat(Self.dataURI(image), extra: ["max_tokens": 100, "min_tokens": 100, "stream": true, "temperature": 0])
        var refused = 0
        for _ in 0..<20 where refused == 0 {
            let holder = try server.client()
            holder.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(long.count)\r\n\r\n")
            holder.send(long)
            var p = pollfd(fd: holder.fd, events: Int16(POLLIN), revents: 0)
            XCTAssertEqual(poll(&p, 1, 60_000), 1, "the stream starts")
            let second = try server.request("POST", "/v1/caption?beams=1&max_tokens=2", headers: ["Content-Type": "image/x-portable-pixmap"], body: image)
            let held = try holder.readReply()
            // The previous holder's session may be released just after its client read the end.
            guard held.status == 200 else { assertError(held, 503, "queue is full"); continue }
            XCTAssertTrue(try Self.streamedText(held).done)
            if second.status == 503 {
                assertError(second, 503, "queue is full")
                XCTAssertEqual(second.errorType, "server_busy")
                XCTAssertEqual(second.headers["retry-after"], "1")
                refused += 1
            } else {
                XCTAssertEqual(second.status, 200, second.text)
            }
        }
        XCTAssertEqual(refused, 1, "a request was refused while the session was busy")
        // Served again once the session is free.
        var status = 0
        for _ in 0..<50 where status != 200 {
            status = try server.request("POST", "/v1/caption?beams=1&max_tokens=2", headers: ["Content-Type": "image/x-portable-pixmap"], body: image).status
            if status != 200 { usleep(20_000) }
        }
        XCTAssertEqual(status, 200)
        let metrics = try server.request("GET", "/metrics").text
        XCTAssertTrue(metrics.contains("blip2_http_requests_total{endpoint=\"/v1/caption\",status=\"503\"}"), metrics)
        XCTAssertEqual(server.terminate(), 0)
    }

    /// A client that reads a streamed reply to its end and closes the connection at once has
    /// its reply: the request is not counted as abandoned (it once was, when the close came
    /// before the server had finished with the request).
    func testClosingAfterAWholeStreamIsNotAbandoning() throws {
        let (model, image) = try Self.setUpModel()
        let server = try Server(["--model", model])
        let body = Self.chat(Self.dataURI(image), extra: ["max_tokens": 3, "stream": true])
        for _ in 0..<30 {
            let c = try server.client()
            c.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n")
            c.send(body)
            let r = try c.readReply()
            XCTAssertEqual(r.status, 200)
            XCTAssertTrue(try Self.streamedText(r).done)
        }
        usleep(200_000)
        let metrics = try server.request("GET", "/metrics").text
        XCTAssertTrue(metrics.contains("blip2_requests_abandoned_total 0\n"), metrics)
        XCTAssertEqual(server.terminate(), 0)
    }

    func testRetrievalModelMatches() throws {
        let model = try RetrievalTests.file("tiny-itm-a", .f32)
        let (_, image) = try Self.setUpModel()
        let imagePath = Self.dir.file("match.ppm")
        try Data(image).write(to: URL(fileURLWithPath: imagePath))
        let server = try Server(["--model", model])
        let r = try server.request("POST", "/v1/match?text=a+photo&text=two+dogs", headers: ["Content-Type": "image/x-portable-pixmap"], body: image)
        XCTAssertEqual(r.status, 200, r.text)
        let matches = try XCTUnwrap(r.json["matches"] as? [[String: Any]])
        let cli = try CommandRun(EdgeCommandTests.binary, ["match", imagePath, "a photo", "two dogs", "--model", model, "--json"])
        let expected = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(cli.stdout.utf8)) as? [String: Any])?["matches"] as? [[String: Any]])
        XCTAssertEqual(matches.map { $0["text"] as? String }, ["a photo", "two dogs"])
        for (m, e) in zip(matches, expected) {
            XCTAssertEqual(try XCTUnwrap(m["itm"] as? Double), try XCTUnwrap(e["itm"] as? Double), accuracy: 1e-6)
            XCTAssertEqual(try XCTUnwrap(m["itc"] as? Double), try XCTUnwrap(e["itc"] as? Double), accuracy: 1e-6)
        }
        assertError(try server.request("POST", "/v1/caption", headers: ["Content-Type": "image/png"], body: image), 400, "/v1/match")
        XCTAssertEqual(server.terminate(), 0)
    }

    func testStopsOnSIGTERMWithOpenConnections() throws {
        let (model, _) = try Self.setUpModel()
        let server = try Server(["--model", model])
        let idle = try server.client()
        XCTAssertEqual(try idle.request("GET", "/health").status, 200)
        let start = Date()
        XCTAssertEqual(server.terminate(), 0)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10, "an idle keep-alive connection does not hold the shutdown")
        XCTAssertTrue(idle.serverClosed())
        XCTAssertThrowsError(try server.client(), "no longer listening")
    }

    func testUsageErrors() throws {
        let r = try CommandRun(EdgeCommandTests.binary, ["serve", "--model", Self.dir.file("absent.gguf"), "--port", "0"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("absent.gguf"), r.stderr)
        let (model, _) = try Self.setUpModel()
        let p = try CommandRun(EdgeCommandTests.binary, ["serve", "--model", model, "--port", "70000"])
        XCTAssertEqual(p.status, 2)
        XCTAssertTrue(p.stderr.contains("--port"), p.stderr)
    }
}
