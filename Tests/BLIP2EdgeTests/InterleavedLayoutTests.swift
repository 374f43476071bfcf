import Foundation
import XCTest
@testable import BLIP2Edge

/// `blip2-quantize --interleave`: the language model's Q4_0 Linear weights stored as Q4_0x8.
/// The layout only reorders bytes and every kernel forms the same exact integer block sums, so
/// the expected results are the plain Q4_0 file's, bit for bit (tolerance 0): logits, greedy and
/// beam-search tokens. Tools/verify_gguf.py checks, in CI, that the gguf package reads such a
/// file and that its bytes are gguf's Q4_0 reordered.
final class InterleavedLayoutTests: XCTestCase {
    let dir = TemporaryDirectory()

    func convert(_ name: String, interleave: Bool) throws -> String {
        let path = dir.file("\(name).\(interleave ? "x8" : "q4").gguf")
        let plan = QuantizationPlan(fileType: .q4_0, interleaveLanguageModel: interleave)
        try Converter(plan: plan, threads: 2).convert(input: Fixtures.path(name), output: path)
        return path
    }

    /// Which tensors are interleaved: exactly the language model's Q4_0 Linear weights.
    func checkTypes(plain: GGUFFile, interleaved: GGUFFile, language: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(interleaved.metadata[GGMLType.interleavedKey], .bool(true), file: file, line: line)
        XCTAssertNil(plain.metadata[GGMLType.interleavedKey], file: file, line: line)
        var count = 0
        for t in plain.tensors {
            guard let x = interleaved.tensor(named: t.name) else { return XCTFail("\(t.name) missing", file: file, line: line) }
            XCTAssertEqual(x.shape, t.shape, t.name, file: file, line: line)
            XCTAssertEqual(x.byteCount, t.byteCount, t.name, file: file, line: line)
            let expected: GGMLType = t.type == .q4_0 && t.name.hasPrefix(language) && t.shape.count == 2 ? .q4_0x8 : t.type
            XCTAssertEqual(x.type, expected, t.name, file: file, line: line)
            if expected == .q4_0x8 { count += 1 }
        }
        XCTAssertGreaterThan(count, 0, file: file, line: line)
    }

    func testOPTGivesThePlainFilesBits() throws {
        let plainPath = try convert("tiny-a", interleave: false), x8Path = try convert("tiny-a", interleave: true)
        checkTypes(plain: try GGUFFile(path: plainPath), interleaved: try GGUFFile(path: x8Path), language: "t.")
        let ref = try ForwardTests.reference("tiny-a")
        let tokens = try ref.ints("deq_q4_0.ids")
        var logits: [[Float]] = [], greedy: [[Int]] = [], beams: [[Int]] = []
        for path in [plainPath, x8Path] {
            let session = try Session(model: try BLIP2Model(path: path), threads: 2)
            try session.encode(pixels: try ref.pixels())
            logits.append(try session.prefixLogits(promptTokens: tokens))
            var p = GenerationParameters.greedy(maxNewTokens: 12)
            greedy.append(try session.generate(promptTokens: [], parameters: p))
            p.beamCount = 5
            beams.append(try session.generate(promptTokens: [], parameters: p))
        }
        XCTAssertFalse(logits[0].isEmpty)
        XCTAssertEqual(logits[0], logits[1], "prefix logits (\(tokens.count) positions: the n > 1 kernel)")
        XCTAssertEqual(greedy[0], greedy[1], "greedy tokens (n = 1 kernel)")
        XCTAssertEqual(beams[0], beams[1], "5-beam tokens (n = 5 kernel)")
    }

    func testT5GivesThePlainFilesBits() throws {
        let plainPath = try convert("tiny-t5-a", interleave: false), x8Path = try convert("tiny-t5-a", interleave: true)
        // The decoder's Linears only: the encoder runs n > 1 products once per prompt.
        checkTypes(plain: try GGUFFile(path: plainPath), interleaved: try GGUFFile(path: x8Path), language: "t.decoder.")
        let image = try RGBImage(width: 3, height: 2, pixels: (0..<18).map { UInt8($0 * 13) })
        var captions: [[Int]] = []
        for path in [plainPath, x8Path] {
            let session = try Session(model: try BLIP2Model(path: path), threads: 2)
            var p = GenerationParameters.greedy(maxNewTokens: 10)
            captions.append(try session.generate(image: image, parameters: p).tokens)
            p.beamCount = 5
            captions.append(try session.generate(image: image, parameters: p).tokens)
        }
        XCTAssertEqual(captions[0], captions[2], "greedy")
        XCTAssertEqual(captions[1], captions[3], "5 beams")
        XCTAssertFalse(captions[0].isEmpty)
    }

    // MARK: - Files that lie about the layout

    /// One tensor of `shape` (I8 unless `typeID` says otherwise) as a file states it, with or
    /// without the layout key.
    func file(i8Shape: [Int], key: Bool, typeID: UInt32 = 24, name: String = "t.w") throws -> String {
        var m = GGUFMetadata()
        m.set("general.architecture", .string("test"))
        if key { m.set(GGMLType.interleavedKey, .bool(true)) }
        // An F32 plan of the I8 tensor's byte count, its type id patched to I8 (24) below.
        let bytes = i8Shape.reduce(1, *)
        let plan = GGUFTensorPlan(name: name, type: .f32, shape: [bytes / 4])
        let layout = GGUFLayout(metadata: m, tensors: [plan])
        var header = layout.header
        let at = try XCTUnwrap(Self.find(Array(name.utf8), in: header)) + name.utf8.count
        // n_dims, the dims (innermost first), then the type.
        var info: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { info += $0 } }
        put(UInt32(i8Shape.count))
        for d in i8Shape.reversed() { put(UInt64(d)) }
        put(typeID)
        header.replaceSubrange(at..<(at + 4 + 8 + 4), with: info)
        let path = dir.file("lying-\(i8Shape)-\(key)-\(typeID).gguf")
        try Data(header + Array(repeating: 0, count: layout.totalSize - layout.header.count + 64)).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A Q4_0x8 tensor binds only as a Linear layer's weight: the token embedding (also the LM
    /// head) and the patch embedding read rows or elements of it, which that layout scatters.
    func testOnlyALinearWeightMayBeInterleaved() throws {
        let path = try file(i8Shape: [2, 288], key: true, name: "t.w.weight")
        let file = try GGUFFile(path: path)
        let linear = try WeightBinding(file: file).scope(.language, "t").linear("w", out: 16, in: 64, bias: false)
        XCTAssertEqual(linear.weight.type, .q4_0x8)
        let message = "\(path): tensor t.w.weight is stored as Q4_0x8, which only a Linear layer's weight may be"
        XCTAssertThrowsMessage(message) {
            _ = try WeightBinding(file: file).scope(.language, "t").tokenEmbedding("w.weight", vocab: 16, hidden: 64)
        }
        XCTAssertThrowsMessage(message) {
            _ = try WeightBinding(file: file).scope(.language, "t").outputHead("w", vocab: 16, hidden: 64)
        }
    }

    static func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        return (0...(hay.count - needle.count)).first { hay[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    func testReadsI8AsQ4_0x8OnlyWhenTheFileSaysSo() throws {
        let ok = try GGUFFile(path: try file(i8Shape: [2, 288], key: true))
        XCTAssertEqual(ok.tensors.first?.type, .q4_0x8)
        XCTAssertEqual(ok.tensors.first?.shape, [16, 64])
        XCTAssertEqual(ok.tensors.first?.byteCount, 576)
        XCTAssertThrowsMessage("has type I8;") { _ = try GGUFFile(path: try file(i8Shape: [2, 288], key: false)) }
        XCTAssertThrowsMessage("must be [groups, blocks x 144]") { _ = try GGUFFile(path: try file(i8Shape: [2, 290], key: true)) }
        XCTAssertThrowsMessage("must be [groups, blocks x 144]") { _ = try GGUFFile(path: try file(i8Shape: [576], key: true)) }
        // Our private id for the layout is never a type a file may state.
        XCTAssertThrowsMessage("has type unknown type 32770;") {
            _ = try GGUFFile(path: try file(i8Shape: [16, 64], key: true, typeID: GGMLType.q4_0x8.rawValue))
        }
    }
}
