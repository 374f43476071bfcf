import Foundation
import XCTest
@testable import BLIP2Edge

/// Every way a checkpoint folder or output path can be wrong gets a one-line error naming
/// the problem, and no output (not even a temporary file) is left behind.
final class ConverterBadInputTests: XCTestCase {
    let work = TemporaryDirectory()
    let outDir = TemporaryDirectory()

    func checkFails(_ input: String, mentioning fragment: String, output: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
        let out = output ?? outDir.file("out.gguf")
        XCTAssertThrowsMessage(fragment, file: file, line: line) {
            try Converter(plan: QuantizationPlan(fileType: .q4_0)).convert(input: input, output: out)
        }
        XCTAssertEqual(outDir.contents, [], "a failed conversion left files behind", file: file, line: line)
    }

    func editJSON(_ path: String, _ edit: (inout [String: Any]) -> Void) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
    }

    func editTextConfig(_ dir: String, _ edit: @escaping (inout [String: Any]) -> Void) throws {
        try editJSON((dir as NSString).appendingPathComponent("config.json")) { c in
            var t = c["text_config"] as? [String: Any] ?? [:]
            edit(&t)
            c["text_config"] = t
        }
    }

    func testMissingInput() {
        checkFails(work.file("nowhere"), mentioning: "no such file or directory")
    }

    func testFolderWithoutWeights() {
        checkFails(work.path, mentioning: "no model.safetensors")
    }

    func testMissingConfig() throws {
        let d = try work.copy(fixture: "tiny-a", as: "m")
        try FileManager.default.removeItem(atPath: d + "/config.json")
        checkFails(d, mentioning: "config.json is missing")
    }

    func testMissingPreprocessorConfig() throws {
        let d = try work.copy(fixture: "tiny-a", as: "m")
        try FileManager.default.removeItem(atPath: d + "/preprocessor_config.json")
        checkFails(d, mentioning: "preprocessor_config.json is missing")
    }

    func testMissingTokenizer() throws {
        let d = try work.copy(fixture: "tiny-a", as: "m")
        try FileManager.default.removeItem(atPath: d + "/vocab.json")
        checkFails(d, mentioning: "no tokenizer found")
    }

    func testCorruptTokenizer() throws {
        let d = try work.copy(fixture: "tiny-a", as: "m")
        try Data("{\"a\": \"b\"}".utf8).write(to: URL(fileURLWithPath: d + "/vocab.json"))
        checkFails(d, mentioning: "vocab.json")
    }

    func testCorruptConfig() throws {
        let d = try work.copy(fixture: "tiny-a", as: "m")
        try Data("{ not json".utf8).write(to: URL(fileURLWithPath: d + "/config.json"))
        checkFails(d, mentioning: "config.json: not valid JSON (expected a string key at byte 2)")
    }

    func testShapeMismatch() throws {
        let d = try work.copy(fixture: "tiny-a", as: "m")
        try editTextConfig(d) { t in t["ffn_dim"] = 96 }
        checkFails(d, mentioning: "but config.json implies")
    }

    func testTensorsTheConfigDoesNotHave() throws {
        let d = try work.copy(fixture: "tiny-a", as: "m")
        try editTextConfig(d) { t in t["num_hidden_layers"] = 1 }
        checkFails(d, mentioning: "tensors this model does not have: language_model.model.decoder.layers.1")
    }

    func testMissingTensor() throws {
        let d = try work.copy(fixture: "tiny-a", as: "m")
        try editTextConfig(d) { t in t["num_hidden_layers"] = 3 }
        checkFails(d, mentioning: "language_model.model.decoder.layers.2.self_attn_layer_norm.weight is missing")
    }

    func testShardMissingFromIndex() throws {
        let d = try work.copy(fixture: "tiny-a-bf16-sharded", as: "m")
        let shard = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: d).first { $0.hasSuffix(".safetensors") })
        try FileManager.default.removeItem(atPath: d + "/" + shard)
        checkFails(d, mentioning: "is missing")
    }

    func testIndexThatPointsOutsideItsFolder() throws {
        let d = try work.copy(fixture: "tiny-a-bf16-sharded", as: "m")
        try editJSON(d + "/model.safetensors.index.json") { index in
            var map = index["weight_map"] as? [String: String] ?? [:]
            map["query_tokens"] = "../../etc/passwd"
            index["weight_map"] = map
        }
        checkFails(d, mentioning: "not a file name in the index's folder")
    }

    func testUnconvertibleDType() throws {
        let d = try work.copy(fixture: "tiny-a", as: "m")
        let path = d + "/model.safetensors"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = Int(bytes[0..<8].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        // Same element size, so offsets still agree: only the dtype is wrong.
        let target = "\"query_tokens\":{\"dtype\":\"F32\""
        XCTAssertTrue(header.contains(target), "fixture header layout changed")
        header = header.replacingOccurrences(of: target, with: "\"query_tokens\":{\"dtype\":\"I32\"")
        bytes.replaceSubrange(8..<(8 + n), with: Array(header.utf8))
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        checkFails(d, mentioning: "tensor query_tokens has dtype I32")
    }

    func testTruncatedWeights() throws {
        let d = try work.copy(fixture: "tiny-a", as: "m")
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: d + "/model.safetensors"))
        try h.truncate(atOffset: 5000)
        try h.close()
        checkFails(d, mentioning: "model.safetensors")
    }

    func testUnwritableOutput() {
        checkFails(Fixtures.path("tiny-a"), mentioning: "cannot write", output: outDir.file("no/such/folder/out.gguf"))
    }

    func testOutputThatIsADirectory() {
        checkFails(Fixtures.path("tiny-a"), mentioning: "is a directory", output: outDir.path)
    }

    func testOutputThatWouldOverwriteTheInput() throws {
        let d = try work.copy(fixture: "tiny-a", as: "m")
        XCTAssertThrowsMessage("overwrite an input") {
            try Converter(plan: QuantizationPlan(fileType: .q4_0)).convert(input: d, output: d + "/model.safetensors")
        }
    }
}
