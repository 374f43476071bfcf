import Foundation
import XCTest
@testable import BLIP2Edge

/// `blip2-edge match`, `embed` and `search` end to end on the tiny retrieval model, against
/// transformers' fixtures, and their bad inputs.
final class RetrievalCommandTests: XCTestCase {
    static let dir = TemporaryDirectory()

    func run(_ args: [String]) throws -> CommandRun { try CommandRun(EdgeCommandTests.binary, args) }

    /// tiny-itm-a as F32, and the fixtures' image (make_image) as a PPM file.
    func setUp(_ name: String = "tiny-itm-a") throws -> (model: String, image: String, reference: GGUFFile) {
        let model = try RetrievalTests.file(name, .f32)
        let forward = try ForwardTests.reference("tiny-a")
        let t = try XCTUnwrap(forward.tensor(named: "image_rgb8"))
        let image = Self.dir.file("image.ppm")
        let pixels = try forward.floats("image_rgb8").map { UInt8($0) }
        try Data(Array("P6\n\(t.shape[1]) \(t.shape[0])\n255\n".utf8) + pixels).write(to: URL(fileURLWithPath: image))
        return (model, image, try RetrievalTests.reference(name))
    }

    struct MatchLine: Decodable {
        struct Match: Decodable { let text: String; let itm: Float; let itc: Float }
        let image: String
        let matches: [Match]
    }

    /// The command's pixels are the processor's (ImageTests), so the scores are the F32
    /// forward's: the same tolerance as RetrievalTests.
    func testMatchGivesTransformersScores() throws {
        let (model, image, ref) = try setUp()
        let texts = try XCTUnwrap(ref.metadata["texts"]?.array?.compactMap(\.string))
        let r = try run(["match", image] + texts + ["--model", model, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let line = try JSONDecoder().decode(MatchLine.self, from: Data(r.stdout.utf8))
        let itc = try ref.floats("itc"), itm = try ref.floats("itm_probability")
        XCTAssertEqual(line.matches.map(\.text), texts)
        for (i, m) in line.matches.enumerated() {
            XCTAssertEqual(m.itc, itc[i], accuracy: RetrievalTests.f32Tolerance, m.text)
            XCTAssertEqual(m.itm, itm[i], accuracy: RetrievalTests.f32Tolerance, m.text)
        }
        let plain = try run(["match", image, texts[0], "--model", model])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertEqual(plain.stdout, String(format: "itm %.4f  itc %.4f  ", itm[0], itc[0]) + texts[0] + "\n")
    }

    struct Embedding: Decodable { let features: [[Float]] }

    func testEmbedWritesTheFeatures() throws {
        let (model, image, ref) = try setUp()
        let r = try run(["embed", image, "--model", model])
        XCTAssertEqual(r.status, 0, r.stderr)
        let e = try JSONDecoder().decode(Embedding.self, from: Data(r.stdout.utf8))
        let want = try ref.floats("image_features")
        XCTAssertEqual(e.features.count, 8)
        for (g, w) in zip(e.features.flatMap { $0 }, want) { XCTAssertEqual(g, w, accuracy: RetrievalTests.f32Tolerance) }

        let texts = try XCTUnwrap(ref.metadata["texts"]?.array?.compactMap(\.string))
        let out = Self.dir.file("texts.f32")
        let t = try run(["embed", "--text", texts[0], texts[1], "--model", model, "--out", out])
        XCTAssertEqual(t.status, 0, t.stderr)
        let raw = try Data(contentsOf: URL(fileURLWithPath: out))
        let got = raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let wantText = try ref.floats("text_features")
        XCTAssertEqual(got.count, 2 * 32)
        for (g, w) in zip(got, wantText) { XCTAssertEqual(g, w, accuracy: RetrievalTests.f32Tolerance) }
    }

    struct Search: Decodable {
        struct Result: Decodable { let image: String; let itc: Float; let itm: Float? }
        let results: [Result]
    }

    func testSearchRanksAndReusesItsIndex() throws {
        let (model, image, ref) = try setUp()
        let folder = Self.dir.file("photos")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for name in ["c2-d8-7x5.png", "c6-d16-7x5.png"] {
            try FileManager.default.copyItem(atPath: Fixtures.path("png/\(name)"), toPath: folder + "/" + name)
        }
        try FileManager.default.copyItem(atPath: image, toPath: folder + "/fixture.ppm")
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: folder + "/notes.txt"))
        let index = Self.dir.file("search.index")
        let text = try XCTUnwrap(ref.metadata["texts"]?.array?.first?.string)
        let args = ["search", text, folder, "--model", model, "--index", index, "--json", "--rerank", "2", "--stats"]

        let first = try run(args)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stderr.contains("searched 3 images: 0 from the index, 3 encoded; ITM on 2"), first.stderr)
        let results = try JSONDecoder().decode(Search.self, from: Data(first.stdout.utf8)).results
        XCTAssertEqual(results.count, 3, "the text file is not an image")
        XCTAssertEqual(results.filter { $0.itm != nil }.count, 2)
        XCTAssertGreaterThanOrEqual(results[0].itm ?? 0, results[1].itm ?? 0, "the re-ranked come first, by ITM")
        XCTAssertGreaterThanOrEqual(results[1].itc, results[2].itc, "the rest follow by ITC")
        let fixture = try XCTUnwrap(results.first { $0.image.hasSuffix("fixture.ppm") })
        XCTAssertEqual(fixture.itc, try ref.floats("itc")[0], accuracy: RetrievalTests.f32Tolerance)

        let second = try run(args)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stderr.contains("searched 3 images: 3 from the index, 0 encoded"), second.stderr)
        XCTAssertEqual(second.stdout, first.stdout, "cached features rank as fresh ones")

        // A damaged index is reported and rebuilt, never trusted.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: index))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: index))
        let third = try run(args)
        XCTAssertEqual(third.status, 0, third.stderr)
        XCTAssertTrue(third.stderr.contains("the index is damaged (checksum); rebuilding it"), third.stderr)
        XCTAssertTrue(third.stderr.contains("0 from the index, 3 encoded"), third.stderr)
        XCTAssertEqual(third.stdout, first.stdout)
        try Data(bytes.prefix(40)).write(to: URL(fileURLWithPath: index))
        XCTAssertTrue(try run(args).stderr.contains("rebuilding it"))
        XCTAssertTrue(try run(args).stderr.contains("3 from the index"))
    }

    func testBadInputs() throws {
        let (model, image, _) = try setUp()
        let captioning = Self.dir.file("tiny-a.q8.gguf")
        try Converter(plan: QuantizationPlan(fileType: .q8_0)).convert(input: Fixtures.path("tiny-a"), output: captioning)
        let cases: [([String], Int32, String)] = [
            (["match", image, "a cat", "--model", captioning], 1, "a captioning model: its Q-Former has no text side"),
            (["caption", image, "--model", model], 1, "an image-text retrieval model"),
            (["match", image, "", "--model", model], 1, "the text is empty"),
            (["match", image, "--model", model], 2, "match needs an image and at least one text"),
            (["match", image, String(repeating: "cat ", count: 100), "--model", model], 1, "this model reads at most 64"),
            (["embed", "--model", model], 2, "embed needs at least one image"),
            (["search", "a cat", Self.dir.file("missing"), "--model", model], 1, "No such file or directory"),
            (["search", "a cat", Self.dir.path, "--model", model, "--no-index", "--rerank", "0"], 0, ""),
        ]
        for (args, status, message) in cases {
            let r = try run(args)
            XCTAssertEqual(r.status, status, "\(args): \(r.stderr)")
            if !message.isEmpty { XCTAssertTrue(r.stderr.contains(message), "\(args): \(r.stderr)") }
            if status != 0 { XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one line: \(r.stderr)") }
        }
    }
}
