import Foundation
import XCTest
@testable import BLIP2Edge

/// `blip2-quantize` as a user runs it: exit codes, one-line messages on stderr, results.
final class QuantizeCommandTests: XCTestCase {
    let dir = TemporaryDirectory()

    static var binary: URL { Bundle.main.bundleURL.appendingPathComponent("blip2-quantize") }

    func run(_ args: [String]) throws -> CommandRun { try CommandRun(Self.binary, args) }

    func testConvertsAndInspects() throws {
        let out = dir.file("tiny.q4")
        let r = try run([Fixtures.path("tiny-a"), out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("bits/weight"), r.stdout)
        XCTAssertEqual(r.stderr, "", "no progress output when stderr is not a terminal")
        let i = try run(["inspect", out])
        XCTAssertEqual(i.status, 0, i.stderr)
        XCTAssertTrue(i.stdout.contains("general.architecture = \"blip2\""), i.stdout)
        XCTAssertTrue(i.stdout.contains("t.layers.0.fc1.weight"), i.stdout)
        XCTAssertTrue(i.stdout.contains("Q4_0"))
        XCTAssertTrue(i.stdout.contains("blip2.vision.layer_norm_epsilon"))
    }

    /// The tensor table's columns line up whatever the type names' lengths (F32, Q4_0x8).
    func testInspectAlignsItsColumns() throws {
        let out = dir.file("tiny.x8")
        XCTAssertEqual(try run([Fixtures.path("tiny-a"), out, "--interleave", "--quiet"]).status, 0)
        let i = try run(["inspect", out])
        XCTAssertEqual(i.status, 0, i.stderr)
        let table = i.stdout.components(separatedBy: "\ntensors:\n")[1].components(separatedBy: "\n\n")[0]
        let rows = table.split(separator: "\n").map(String.init)
        XCTAssertTrue(rows.contains { $0.contains(" Q4_0x8 ") } && rows.contains { $0.contains(" F32 ") }, table)
        // Where the shape starts, and where the byte count after it starts.
        func columns(_ row: String) -> [Int] {
            let chars = Array(row)
            guard let open = chars.firstIndex(of: "["), let close = chars.lastIndex(of: "]") else { return [] }
            let bytes = chars[(close + 1)...].firstIndex { $0 != " " } ?? chars.count
            return [open, bytes]
        }
        XCTAssertEqual(Set(rows.map(columns)).count, 1, "columns differ:\n\(table)")
        XCTAssertGreaterThan(Set(rows.map { $0.filter { $0 == "," }.count }).count, 1, "shapes of several lengths")
    }

    func testQuietPrintsNothing() throws {
        let r = try run([Fixtures.path("tiny-a"), dir.file("q.gguf"), "--type", "q8_0", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout + r.stderr, "")
    }

    func testProgressWhenAsked() throws {
        let r = try run([Fixtures.path("tiny-a"), dir.file("q.gguf"), "--progress"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("GB/s"), r.stderr)
    }

    func checkUsageError(_ args: [String], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run(args)
        XCTAssertEqual(r.status, 2, "usage errors exit 2", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("blip2-quantize: "), r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(fragment), r.stderr, file: file, line: line)
        XCTAssertEqual(r.stdout, "", file: file, line: line)
    }

    func testUsageErrors() throws {
        try checkUsageError([Fixtures.path("tiny-a")], "need an input and an output path")
        try checkUsageError([Fixtures.path("tiny-a"), dir.file("x"), "--type", "q5_k"], "unknown --type q5_k")
        try checkUsageError([Fixtures.path("tiny-a"), dir.file("x"), "--bogus"], "unknown option --bogus")
        try checkUsageError([Fixtures.path("tiny-a"), dir.file("x"), "--threads", "0"], "--threads wants a number")
        try checkUsageError([Fixtures.path("tiny-a"), dir.file("x"), "--tensor-type", "nonsense"], "PATTERN=TYPE")
        try checkUsageError([Fixtures.path("tiny-a"), dir.file("x"), "--type"], "--type needs a value")
        try checkUsageError(["inspect"], "inspect takes one model file")
        XCTAssertEqual(dir.contents, [])
    }

    func testRuntimeErrorsExitOneWithOneLine() throws {
        let r = try run([dir.file("absent"), dir.file("out.gguf")])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("no such file or directory"), r.stderr)
        let bad = dir.file("bad.gguf")
        try Data("GGUF".utf8).write(to: URL(fileURLWithPath: bad))
        let i = try run(["inspect", bad])
        XCTAssertEqual(i.status, 1)
        XCTAssertTrue(i.stderr.contains("truncated"), i.stderr)
    }

    func testHelp() throws {
        let r = try run(["--help"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("--tensor-type"))
    }

    /// A checkpoint slow enough to interrupt: tiny-a with a 1,000,000-row token embedding
    /// (256 MB of F32 zeros, stored sparsely, so the test costs no disk).
    func slowCheckpoint() throws -> String {
        let d = dir.file("slow")
        try FileManager.default.copyItem(atPath: Fixtures.path("tiny-a"), toPath: d)
        let configPath = d + "/config.json"
        var config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as? [String: Any])
        var text = try XCTUnwrap(config["text_config"] as? [String: Any])
        let rows = 1_000_000, width = try XCTUnwrap(text["hidden_size"] as? Int)
        text["vocab_size"] = rows
        config["text_config"] = text
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        // Rewrite model.safetensors with the big embedding last, as a hole in a sparse file.
        let path = d + "/model.safetensors"
        let original = try SafetensorsFile(path: path)
        let name = "language_model.model.decoder.embed_tokens.weight"
        let tensors = try original.tensors.filter { $0.name != name }.map { t in (t.name, "F32", t.shape, try original.bytes(of: t)) }
        try SafetensorsBuilder(tensors: tensors, zerosLast: (name, "F32", [rows, width], rows * width * 4)).write(to: path)
        return d
    }

    /// SIGTERM and SIGINT in the middle of writing leave neither the output nor the
    /// temporary file, and the process dies of the signal as it should.
    func testInterruptedConversionLeavesNothing() throws {
        let input = try slowCheckpoint()
        for signal in [SIGTERM, SIGINT] {
            let outDir = TemporaryDirectory()
            let p = Process()
            p.executableURL = Self.binary
            p.arguments = [input, outDir.file("out.gguf"), "--threads", "1", "--type", "q8_0"]
            p.standardOutput = Pipe()
            try p.run()
            // Wait until the temporary file exists, then interrupt.
            let deadline = Date().addingTimeInterval(30)
            while !outDir.contents.contains(where: { $0.contains(".partial-") }) && p.isRunning && Date() < deadline {
                usleep(1000)
            }
            XCTAssertTrue(p.isRunning, "the conversion finished before it could be interrupted")
            kill(p.processIdentifier, signal)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .uncaughtSignal)
            XCTAssertEqual(outDir.contents, [], "signal \(signal) left files behind")
        }
    }
}
