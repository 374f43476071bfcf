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

    /// SIGTERM during a conversion leaves no temporary file (the tiny model converts in
    /// milliseconds, so the signal may land before, during or after the writing).
    func testInterruptedConversionLeavesNothing() throws {
        let p = Process()
        p.executableURL = Self.binary
        p.arguments = [Fixtures.path("tiny-a"), dir.file("out.gguf"), "--threads", "1", "--type", "f16"]
        try p.run()
        p.terminate()
        p.waitUntilExit()
        XCTAssertEqual(dir.contents.filter { $0.contains(".partial-") }, [], "a temporary file survived the signal")
    }
}
