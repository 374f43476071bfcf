import Foundation
import XCTest
@testable import BLIP2Edge

/// `blip2-edge` end to end on the tiny models: its output against transformers' fixtures,
/// and every bad input with its message and exit code (0 ok, 1 runtime, 2 usage).
final class EdgeCommandTests: XCTestCase {
    static let dir = TemporaryDirectory()
    static var binary: URL { Bundle.main.bundleURL.appendingPathComponent("blip2-edge") }

    func run(_ args: [String], stdin: Data? = nil, environment: [String: String]? = nil) throws -> CommandRun {
        try CommandRun(Self.binary, args, stdin: stdin, environment: environment)
    }

    /// tiny-a converted to F32, and the fixture's original image as a PPM file.
    func setUpModel(_ name: String = "tiny-a") throws -> (model: String, image: String, reference: GGUFFile) {
        let model = Self.dir.file("\(name).f32.gguf")
        if !FileManager.default.fileExists(atPath: model) {
            try Converter(plan: QuantizationPlan(fileType: .f32)).convert(input: Fixtures.path(name), output: model)
        }
        let ref = try ForwardTests.reference(name)
        let t = try XCTUnwrap(ref.tensor(named: "image_rgb8"))
        let (h, w) = (t.shape[0], t.shape[1])
        let image = Self.dir.file("\(name).ppm")
        let pixels = try ref.floats("image_rgb8").map { UInt8($0) }
        try Data(Array("P6\n\(w) \(h)\n255\n".utf8) + pixels).write(to: URL(fileURLWithPath: image))
        return (model, image, ref)
    }

    struct JSONLine: Decodable { let text: String; let tokens: [Int] }

    func testCaptionAndAnswerMatchTransformers() throws {
        for name in ["tiny-a", "tiny-b"] {
            let (model, image, ref) = try setUpModel(name)
            let caption = try run(["caption", image, "--model", model, "--greedy", "--max-tokens", "12", "--json"])
            XCTAssertEqual(caption.status, 0, caption.stderr)
            let line = try JSONDecoder().decode(JSONLine.self, from: Data(caption.stdout.utf8))
            XCTAssertEqual(line.tokens, try ref.ints("gen.caption_greedy.ids"), "\(name) caption")
            // The VQA fixture's prompt is "Question: what is in the picture? Answer:".
            let answer = try run(["ask", image, "what is in the picture?", "--prompt-style", "answer", "--model", model,
                                  "--beams", "4", "--max-tokens", "6", "--length-penalty", "0", "--json"])
            XCTAssertEqual(answer.status, 0, answer.stderr)
            let a = try JSONDecoder().decode(JSONLine.self, from: Data(answer.stdout.utf8))
            XCTAssertEqual(a.tokens, try ref.ints("gen.vqa_beam4_lp0.ids"), "\(name) answer")
            let model2 = try BLIP2Model(path: model)
            XCTAssertEqual(a.text, model2.tokenizer.decode(a.tokens).trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    func testSeveralImagesAndStandardInput() throws {
        let (model, image, _) = try setUpModel()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: image))
        let r = try run(["caption", image, "-", image, "--model", model, "--greedy", "--max-tokens", "4", "--stats"], stdin: bytes)
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        XCTAssertEqual(lines.count, 3, "one line per image: \(r.stdout.debugDescription)")
        XCTAssertEqual(Set(lines).count, 1, "the same image gives the same caption")
        XCTAssertTrue(r.stderr.contains("peak resident"), r.stderr)
        XCTAssertTrue(r.stderr.contains("ms/token"), r.stderr)
    }

    func testModelFromEnvironmentAndTokenizeCommands() throws {
        let (model, _, ref) = try setUpModel()
        var env = ProcessInfo.processInfo.environment
        env["BLIP2_MODEL"] = model
        let t = try run(["tokenize", "Question: what is in the picture? Answer:"], environment: env)
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertEqual(t.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").compactMap { Int($0) },
                       try ref.ints("vqa.input_ids").filter { $0 != ref.metadata["model.image_token_index"]?.integer })
        let d = try run(["tokenize", "--decode", "2"] + (try ref.ints("vqa.prompt_ids")).map(String.init), environment: env)
        XCTAssertEqual(d.stdout, "Question: what is in the picture? Answer:\n")
        let info = try run(["info", model])
        XCTAssertEqual(info.status, 0)
        XCTAssertTrue(info.stdout.contains("<image> = 509"), info.stdout)
    }

    func testPreprocessWritesTheProcessorsPixels() throws {
        let (model, image, ref) = try setUpModel()
        let out = Self.dir.file("pixels.f32")
        let r = try run(["preprocess", image, "--model", model, "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let data = try Data(contentsOf: URL(fileURLWithPath: out))
        let got = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        XCTAssertEqual(got.map(\.bitPattern), try ref.pixels().map(\.bitPattern))
    }

    func check(_ args: [String], status: Int32, _ fragment: String, stdin: Data? = nil, environment: [String: String]? = nil,
               file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run(args, stdin: stdin, environment: environment)
        XCTAssertEqual(r.status, status, "exit status of \(args): \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("blip2-edge: "), r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(fragment), "\(r.stderr) lacks \"\(fragment)\"", file: file, line: line)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, "one line: \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stdout, "", file: file, line: line)
    }

    func testBadInput() throws {
        let (model, image, _) = try setUpModel()
        var env = ProcessInfo.processInfo.environment
        env["BLIP2_MODEL"] = nil
        env["XDG_DATA_HOME"] = Self.dir.file("nowhere")
        try check(["caption", image], status: 1, "blip2-quantize", environment: env)
        try check(["caption", image, "--model", Self.dir.file("absent.q4")], status: 1, "absent.q4")
        let junk = Self.dir.file("junk.q4")
        try Data("not a model at all".utf8).write(to: URL(fileURLWithPath: junk))
        try check(["caption", image, "--model", junk], status: 1, "not a GGUF model file")
        let badImage = Self.dir.file("bad.ppm")
        try Data("P6 4 4 255\n\u{1}\u{2}".utf8).write(to: URL(fileURLWithPath: badImage))
        try check(["caption", badImage, "--model", model], status: 1, "bad.ppm: image data is truncated")
        try check(["caption", Self.dir.file("absent.ppm"), "--model", model], status: 1, "absent.ppm")
        try check(["caption", "-", "--model", model], status: 1, "standard input", stdin: Data("GIF89a".utf8))
        try check(["caption", image, "--model", model, "--frobnicate"], status: 2, "unknown option --frobnicate")
        try check(["caption", image, "--model", model, "--max-tokens", "0"], status: 2, "--max-tokens wants a whole number")
        try check(["caption", image, "--model", model, "--beams"], status: 2, "--beams needs a value")
        try check(["caption", image, "--model", model, "--beams", "3", "--temperature", "0.7"], status: 2, "sampling")
        try check(["caption", "--model", model], status: 2, "caption needs at least one image")
        try check(["caption", image, "--model", model, "--prompt", "  "], status: 2, "--prompt is empty")
        try check(["ask", image, "", "--model", model], status: 2, "the question is empty")
        try check(["ask", image, "--model", model], status: 2, "ask needs an image and a question")
        try check(["ask", image, "q", "--model", model, "--prompt-style", "long"], status: 2, "--prompt-style")
        try check(["paint", image], status: 2, "unknown command paint")
        try check(["preprocess", image, "--model", model], status: 2, "--out")
        try check(["caption", "-", "-", "--model", model], status: 2, "only once")
        try check(["tokenize", "--decode", "x", "--model", model], status: 2, "x is not a token id")
    }

    func testHelp() throws {
        let r = try run(["--help"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("5 beams, 8 to 30 new tokens"))
        XCTAssertEqual(try run([]).status, 2)
    }
}

/// Faults: a model file truncated while mapped (another process rewrites it in place).
final class EdgeFaultTests: XCTestCase {
    /// The fault lands on whichever thread first touches a lost page: the main thread or a
    /// kernel worker. A handler that only works on one of them once passed here and crashed in
    /// CI, so several processes run at once to give both a chance.
    func testModelTruncatedWhileInUseIsReportedNotACrash() throws {
        let dir = TemporaryDirectory()
        let original = dir.file("m.gguf")
        try Converter(plan: QuantizationPlan(fileType: .f32)).convert(input: Fixtures.path("tiny-a"), output: original)
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: original)[.size] as? Int)
        var runs: [(process: Process, input: Pipe, err: Pipe, model: String)] = []
        for i in 0..<4 {
            let model = dir.file("m\(i).gguf")
            try FileManager.default.copyItem(atPath: original, toPath: model)
            let p = Process()
            p.executableURL = EdgeCommandTests.binary
            p.arguments = ["caption", "-", "--model", model, "--greedy", "--max-tokens", "3", "--threads", "2"]
            let input = Pipe(), err = Pipe()
            p.standardInput = input
            p.standardError = err
            p.standardOutput = Pipe()
            try p.run()
            runs.append((p, input, err, model))
        }
        // The model is mapped and parsed before the image is read from standard input; the
        // weights' pages are first touched after it arrives.
        Thread.sleep(forTimeInterval: 1.0)
        for run in runs {
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: run.model))
            try h.truncate(atOffset: UInt64(size / 8))
            try h.close()
        }
        for run in runs {
            run.input.fileHandleForWriting.write(Data("P6 2 2 255\n".utf8) + Data(repeating: 128, count: 12))
            try run.input.fileHandleForWriting.close()
        }
        for run in runs {
            let message = String(decoding: run.err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            run.process.waitUntilExit()
            XCTAssertEqual(run.process.terminationReason, .exit, "killed by a signal instead of reporting it: \(message)")
            XCTAssertEqual(run.process.terminationStatus, 1)
            XCTAssertTrue(message.contains("truncated or changed while in use"), message)
        }
    }
}
