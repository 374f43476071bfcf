import Foundation
import XCTest
@testable import BLIP2Edge

/// Where the committed fixtures live (made by the scripts in Tools/, never edited by hand).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}

/// A fresh folder per test, removed afterwards.
final class TemporaryDirectory: Sendable {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "blip2-tests-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
    var contents: [String] { (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] }

    /// A copy of a fixture folder to mutate.
    func copy(fixture: String, as name: String) throws -> String {
        let dest = file(name)
        try FileManager.default.copyItem(atPath: Fixtures.path(fixture), toPath: dest)
        return dest
    }
}

/// Builds safetensors files byte by byte, including ones that lie.
struct SafetensorsBuilder {
    var header: String
    var data: [UInt8]
    /// Zero bytes after `data` that `write` leaves as a hole in a sparse file, so that a test
    /// can have a large tensor without writing it.
    var holeBytes = 0

    /// A well-formed file from (name, dtype, shape, bytes), then, if given, one tensor of
    /// zeros (name, dtype, shape, byte count) stored as the hole.
    init(tensors: [(String, String, [Int], [UInt8])], zerosLast: (String, String, [Int], Int)? = nil) {
        var entries: [String] = []
        var data: [UInt8] = []
        func entry(_ name: String, _ dtype: String, _ shape: [Int], bytes: Int) -> String {
            "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(data.count),\(data.count + bytes)]}"
        }
        for (name, dtype, shape, bytes) in tensors {
            entries.append(entry(name, dtype, shape, bytes: bytes.count))
            data += bytes
        }
        if let (name, dtype, shape, bytes) = zerosLast {
            entries.append(entry(name, dtype, shape, bytes: bytes))
            holeBytes = bytes
        }
        header = "{" + entries.joined(separator: ",") + "}"
        self.data = data
    }

    init(header: String, data: [UInt8]) {
        self.header = header
        self.data = data
    }

    func bytes(headerLength: UInt64? = nil) -> [UInt8] {
        let h = Array(header.utf8)
        var out: [UInt8] = []
        withUnsafeBytes(of: (headerLength ?? UInt64(h.count)).littleEndian) { out += $0 }
        return out + h + data
    }

    func write(to path: String, headerLength: UInt64? = nil) throws {
        let bytes = bytes(headerLength: headerLength)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        guard holeBytes > 0 else { return }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try h.truncate(atOffset: UInt64(bytes.count + holeBytes))
        try h.close()
    }
}

extension SafetensorsFile {
    /// A tensor's bytes as stored.
    func bytes(of t: SafetensorsTensor) throws -> [UInt8] {
        var b = [UInt8](repeating: 0, count: t.byteCount)
        try b.withUnsafeMutableBytes { try read(at: t.fileOffset, into: $0) }
        return b
    }
}

func floatBytes(_ xs: [Float]) -> [UInt8] {
    xs.withUnsafeBytes { Array($0) }
}

/// Asserts that `body` throws an error whose one-line description contains `fragment`.
func XCTAssertThrowsMessage(_ fragment: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected an error mentioning \"\(fragment)\", got none", file: file, line: line)
    } catch {
        let message = "\(error)"
        XCTAssertTrue(message.contains(fragment), "error \"\(message)\" does not mention \"\(fragment)\"", file: file, line: line)
        XCTAssertFalse(message.contains("\n"), "error message is not one line: \(message)", file: file, line: line)
    }
}

/// One run of one of our executables (built beside the test bundle by SwiftPM).
struct CommandRun {
    let status: Int32
    let stdout: String
    let stderr: String

    init(_ binary: URL, _ args: [String], stdin: Data? = nil, environment: [String: String]? = nil) throws {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        if let environment { p.environment = environment }
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        status = p.terminationStatus
        stdout = String(decoding: o, as: UTF8.self)
        stderr = String(decoding: e, as: UTF8.self)
    }
}

/// Largest absolute difference relative to the largest magnitude of the reference (a length
/// mismatch fails the test and counts as infinitely wrong).
func maxRelativeError(_ got: [Float], _ want: [Float], file: StaticString = #filePath, line: UInt = #line) -> Float {
    XCTAssertEqual(got.count, want.count, "lengths differ", file: file, line: line)
    guard got.count == want.count else { return .infinity }
    var maxDiff: Float = 0, maxRef: Float = 0
    for (g, w) in zip(got, want) {
        maxDiff = max(maxDiff, abs(g - w))
        maxRef = max(maxRef, abs(w))
    }
    return maxDiff / max(maxRef, .leastNormalMagnitude)
}

extension TemporaryDirectory {
    /// The fixture checkpoint `name` converted to `type` here, once per test run.
    func converted(_ name: String, _ type: GGMLType) throws -> String {
        let path = file("\(name).\(type.description).gguf")
        if !FileManager.default.fileExists(atPath: path) {
            try Converter(plan: QuantizationPlan(fileType: type)).convert(input: Fixtures.path(name), output: path)
        }
        return path
    }
}
