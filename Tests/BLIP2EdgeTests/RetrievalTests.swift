import Foundation
import XCTest
@testable import BLIP2Edge

/// Image-text retrieval against transformers' Blip2ForImageTextRetrieval and BertTokenizer on
/// the tiny seeded models (Tests/Fixtures/tiny-itm-*, retrieval/*.gguf; made by
/// Tools/make_retrieval_fixtures.py).
final class RetrievalTests: XCTestCase {
    static let dir = TemporaryDirectory()

    /// A tiny model converted to `type` (once per test run).
    static func file(_ name: String, _ type: GGMLType) throws -> String { try dir.converted(name, type) }

    static func model(_ name: String, _ type: GGMLType) throws -> RetrievalModel { try RetrievalModel(path: try file(name, type)) }

    static func reference(_ name: String) throws -> GGUFFile { try GGUFFile(path: Fixtures.path("retrieval/\(name).gguf")) }

    // MARK: Tokenizer

    func testWordPieceIdsEqualTransformers() throws {
        let ref = try Self.reference("wordpiece")
        let strings = try XCTUnwrap(ref.metadata["strings"]?.array?.compactMap(\.string))
        let expected = try ref.rows("")
        XCTAssertEqual(strings.count, expected.count)
        XCTAssertGreaterThan(strings.count, 490)
        // The slow (vocab.txt) and fast (tokenizer.json) files hold the same vocabulary.
        let slow = try WordPieceVocabulary(directory: Fixtures.path("tiny-itm-a"))
        let fast = try WordPieceVocabulary(directory: Fixtures.path("tiny-itm-b"))
        XCTAssertEqual(slow, fast)
        XCTAssertEqual(slow.tokens.last, "[DEC]")
        let tokenizer = WordPieceTokenizer(vocabulary: slow)
        var mismatches: [String] = []
        for (s, want) in zip(strings, expected) where tokenizer.encode(s) != want {
            mismatches.append("\(s.debugDescription): \(tokenizer.encode(s)) != \(want)")
        }
        XCTAssertEqual(mismatches, [], "\(mismatches.count) of \(strings.count) strings differ")

        let maxLength = try XCTUnwrap(ref.metadata["truncated.max_length"]?.integer)
        let truncated = try ref.rows("truncated.")
        for (s, want) in zip(strings, truncated) {
            XCTAssertEqual(tokenizer.encode(s, maxLength: maxLength), want, s.debugDescription)
        }
    }

    func testVocabularySurvivesTheModelFile() throws {
        let model = try Self.model("tiny-itm-b", .f32)
        XCTAssertEqual(model.tokenizer.vocabulary, try WordPieceVocabulary(directory: Fixtures.path("tiny-itm-b")))
    }

    // MARK: Forward

    /// F32 weights: as ForwardTests, only summation order and transcendental approximations
    /// separate us from PyTorch, a few float32 ulps per operation; 1e-4 of the largest
    /// magnitude is far above that and far below a real mistake (a missing position embedding,
    /// the wrong feed-forward for text rows or an unnormalised feature moves scores by 1e-2).
    static let f32Tolerance: Float = 1e-4

    func checkForward(_ name: String) throws {
        let ref = try Self.reference(name)
        let model = try Self.model(name, .f32)
        let session = try RetrievalSession(model: model, threads: 2)
        let image = try session.encode(pixels: try ref.floats("pixel_values"))
        for (stage, got) in [("image_embeds", image.embeddings), ("qformer_output", session.qformer.lastHiddenState),
                             ("image_features", image.features)] {
            let e = maxRelativeError(got, try ref.floats(stage))
            print("\(name) \(stage): relative error \(e)")
            XCTAssertLessThan(e, Self.f32Tolerance, "\(name) \(stage)")
        }
        let texts = try XCTUnwrap(ref.metadata["texts"]?.array?.compactMap(\.string))
        let ids = try ref.rows("text_")
        let textFeatures = try ref.floats("text_features"), itc = try ref.floats("itc")
        let itmLogits = try ref.floats("itm_logits"), itm = try ref.floats("itm_probability")
        let width = model.config.imageTextHiddenSize
        for (i, text) in texts.enumerated() {
            XCTAssertEqual(try model.tokens(text), ids[i], text)
            let features = try session.features(text: text)
            let e = maxRelativeError(features, Array(textFeatures[(i * width)..<((i + 1) * width)]))
            XCTAssertLessThan(e, Self.f32Tolerance, "\(name) text features of \(text)")
            let score = try session.match(image, text: text)
            // Scores are cosines and probabilities, O(1): the tolerance is absolute.
            XCTAssertEqual(score.similarity, itc[i], accuracy: Self.f32Tolerance, "\(name) ITC of \(text)")
            XCTAssertEqual(score.matchProbability, itm[i], accuracy: Self.f32Tolerance, "\(name) ITM of \(text)")
            let logits = try session.matchLogits(image, tokens: ids[i])
            XCTAssertEqual(logits.0, itmLogits[2 * i], accuracy: Self.f32Tolerance * max(1, abs(itmLogits[2 * i])))
            XCTAssertEqual(logits.1, itmLogits[2 * i + 1], accuracy: Self.f32Tolerance * max(1, abs(itmLogits[2 * i + 1])))
        }
    }

    func testTinyItmAMatchesTransformers() throws { try checkForward("tiny-itm-a") }
    func testTinyItmBMatchesTransformers() throws { try checkForward("tiny-itm-b") }

    // MARK: Bad input

    func testEmptyAndOverlongTextsAreRefused() throws {
        let model = try Self.model("tiny-itm-a", .f32)
        XCTAssertThrowsMessage("the text is empty") { _ = try model.tokens("") }
        XCTAssertThrowsMessage("the text is empty") { _ = try model.tokens(" \n\t") }
        let long = Array(repeating: "cat", count: 200).joined(separator: " ")
        XCTAssertThrowsMessage("reads at most \(model.maxTextTokens)") { _ = try model.tokens(long) }
    }

    func testConfigurationSurvivesTheModelFile() throws {
        let prepared = try Converter(plan: QuantizationPlan(fileType: .q8_0)).prepare(input: Fixtures.path("tiny-itm-b"))
        XCTAssertEqual(prepared.config.family, .retrieval)
        XCTAssertEqual(prepared.config.qformer.maxPositionEmbeddings, 40)
        XCTAssertEqual(prepared.config.imageTextHiddenSize, 24)
        let file = try GGUFFile(path: try Self.file("tiny-itm-b", .f32))
        XCTAssertEqual(try BLIP2Config(metadata: file.metadata, path: file.path), prepared.config)
        XCTAssertEqual(file.metadata["blip2.text.architecture"], .string("qformer"))
        XCTAssertNil(file.metadata["blip2.text.hidden_size"], "no language model fields")
    }

    func testConverterRefusesBrokenRetrievalCheckpoints() throws {
        let dir = TemporaryDirectory()
        func convert(_ input: String) throws {
            try Converter(plan: QuantizationPlan(fileType: .q8_0)).convert(input: input, output: dir.file("out.gguf"))
        }
        func edit(_ folder: String, _ file: String, _ change: (String) -> String) throws {
            let path = (folder as NSString).appendingPathComponent(file)
            try change(try String(contentsOfFile: path, encoding: .utf8)).write(toFile: path, atomically: true, encoding: .utf8)
        }
        let noText = try dir.copy(fixture: "tiny-itm-a", as: "no-text")
        try edit(noText, "config.json") { $0.replacingOccurrences(of: "\"use_qformer_text_input\": true", with: "\"use_qformer_text_input\": false") }
        XCTAssertThrowsMessage("use_qformer_text_input is false, not true") { try convert(noText) }

        let noTokenizer = try dir.copy(fixture: "tiny-itm-a", as: "no-tokenizer")
        try FileManager.default.removeItem(atPath: noTokenizer + "/vocab.txt")
        XCTAssertThrowsMessage("no BERT tokenizer found") { try convert(noTokenizer) }

        let bpe = try dir.copy(fixture: "tiny-itm-b", as: "bpe-tokenizer")
        try FileManager.default.removeItem(atPath: bpe + "/tokenizer.json")
        try FileManager.default.copyItem(atPath: Fixtures.path("tiny-a-bf16-sharded/tokenizer.json"), toPath: bpe + "/tokenizer.json")
        XCTAssertThrowsMessage("not a WordPiece tokenizer") { try convert(bpe) }

        let small = try dir.copy(fixture: "tiny-itm-a", as: "small-vocabulary")
        try edit(small, "config.json") { $0.replacingOccurrences(of: "\"vocab_size\": 901", with: "\"vocab_size\": 800") }
        XCTAssertThrowsMessage("the tokenizer has 901 tokens but the token embedding only 800 rows") { try convert(small) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("out.gguf")), "nothing is left behind")
    }

    func testEachFamilyRefusesTheOthersFile() throws {
        let retrieval = try Self.file("tiny-itm-a", .f32)
        XCTAssertThrowsMessage("an image-text retrieval model") { _ = try BLIP2Model(path: retrieval) }
        let captioning = Self.dir.file("tiny-a.q8.gguf")
        try Converter(plan: QuantizationPlan(fileType: .q8_0)).convert(input: Fixtures.path("tiny-a"), output: captioning)
        XCTAssertThrowsMessage("its Q-Former has no text side") { _ = try RetrievalModel(path: captioning) }
    }
}

/// Q8_0 and Q4_0 retrieval files against transformers run on the same weights dequantized by
/// gguf: what remains is our Q8_0 quantization of activations and float rounding.
final class QuantizedRetrievalTests: XCTestCase {
    /// The smallest cosine between matching rows of two [rows, width] matrices.
    func minCosine(_ a: [Float], _ b: [Float], width: Int) -> Float {
        var worst: Float = 1
        for r in 0..<(a.count / width) {
            var dot: Double = 0, na: Double = 0, nb: Double = 0
            for i in (r * width)..<((r + 1) * width) {
                dot += Double(a[i]) * Double(b[i]); na += Double(a[i] * a[i]); nb += Double(b[i] * b[i])
            }
            worst = min(worst, Float(dot / (na.squareRoot() * nb.squareRoot())))
        }
        return worst
    }

    func check(_ name: String, _ type: GGMLType) throws {
        let ref = try RetrievalTests.reference(name)
        let key = "deq_\(type.description.lowercased())."
        let model = try RetrievalTests.model(name, type)
        let session = try RetrievalSession(model: model, threads: 2)
        let image = try session.encode(pixels: try ref.floats("pixel_values"))
        let width = model.config.imageTextHiddenSize
        let texts = try XCTUnwrap(ref.metadata["texts"]?.array?.compactMap(\.string))
        var textFeatures: [Float] = [], itc: [Float] = [], itm: [Float] = []
        for text in texts {
            textFeatures += try session.features(text: text)
            let s = try session.match(image, text: text)
            itc.append(s.similarity)
            itm.append(s.matchProbability)
        }
        let imageCos = minCosine(image.features, try ref.floats(key + "image_features"), width: width)
        let textCos = minCosine(textFeatures, try ref.floats(key + "text_features"), width: width)
        let itcDiff = zip(itc, try ref.floats(key + "itc")).map { abs($0 - $1) }.max() ?? 0
        let itmDiff = zip(itm, try ref.floats(key + "itm_probability")).map { abs($0 - $1) }.max() ?? 0
        print("\(name) \(type): min cosine image \(imageCos), text \(textCos); largest ITC difference \(itcDiff), ITM \(itmDiff)")
        XCTAssertGreaterThan(imageCos, 0.999)
        XCTAssertGreaterThan(textCos, 0.999)
        XCTAssertLessThan(itcDiff, Self.scoreTolerance)
        XCTAssertLessThan(itmDiff, Self.scoreTolerance)
    }

    /// Q8_0 activations carry about 2^-8 relative error per block; through the tiny towers
    /// that keeps features within a cosine of 0.999 (measured 0.9997+) and moves scores by at
    /// most 4.4e-3 (ITC) and 3.1e-3 (ITM) here. 1e-2 leaves room for another CPU's summation
    /// order and is well below what a real mistake does (Q4_0's weights alone move these
    /// scores by 0.02 to 0.04 on tiny-itm-a, and the fixture compares against exactly those
    /// weights).
    static let scoreTolerance: Float = 1e-2

    func testTinyItmAQ8_0() throws { try check("tiny-itm-a", .q8_0) }
    func testTinyItmAQ4_0() throws { try check("tiny-itm-a", .q4_0) }
    func testTinyItmBQ8_0() throws { try check("tiny-itm-b", .q8_0) }
}
