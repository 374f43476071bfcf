import Foundation
import XCTest
@testable import BLIP2Edge

/// BLIP-2 with FlanT5 against transformers' Blip2ForConditionalGeneration on the tiny seeded
/// models (Tests/Fixtures/tiny-t5-*, t5/*.gguf; made by Tools/make_t5_fixtures.py).
final class T5Tests: XCTestCase {
    static let dir = TemporaryDirectory()

    /// A tiny model converted to `type` (once per test run).
    static func file(_ name: String, _ type: GGMLType) throws -> String { try dir.converted(name, type) }

    static func reference(_ name: String) throws -> GGUFFile { try GGUFFile(path: Fixtures.path("t5/\(name).gguf")) }

    /// As for OPT and retrieval: in F32 only summation order and transcendental approximations
    /// separate us from PyTorch, a few float32 ulps per operation; 1e-4 of the largest magnitude
    /// is far above that and far below a real mistake (a scaled score, a wrong bucket, the tanh
    /// GELU for the exact one each move outputs by 1e-3 or more).
    static let f32Tolerance: Float = 1e-4

    /// transformers' generate() settings as the fixture names them; min_length counts the
    /// decoder's start token.
    func parameters(_ settings: String) throws -> GenerationParameters {
        var p = GenerationParameters()
        for item in settings.split(separator: ",") {
            let kv = item.split(separator: "=").map(String.init)
            let (k, v) = (kv[0], kv[1])
            switch k {
            case "num_beams": p.beamCount = try XCTUnwrap(Int(v))
            case "max_new_tokens": p.maxNewTokens = try XCTUnwrap(Int(v))
            case "min_length": p.minNewTokens = max(0, try XCTUnwrap(Int(v)) - 1)
            case "length_penalty": p.lengthPenalty = try XCTUnwrap(Float(v))
            case "repetition_penalty": p.repetitionPenalty = try XCTUnwrap(Float(v))
            case "no_repeat_ngram_size": p.noRepeatNgramSize = try XCTUnwrap(Int(v))
            default: XCTFail("unknown setting \(k)")
            }
        }
        return p
    }

    func checkForward(_ name: String) throws {
        let ref = try Self.reference(name)
        let model = try BLIP2Model(path: try Self.file(name, .f32))
        XCTAssertEqual(model.config.family, .t5)
        let session = try Session(model: model, threads: 2)
        let encoded = try session.encode(pixels: try ref.floats("pixel_values"))
        let e = maxRelativeError(encoded.projected, try ref.floats("projected"))
        XCTAssertLessThan(e, Self.f32Tolerance, "\(name) projected queries")
        let queries = model.config.queryTokenCount
        for prompt in ["caption", "vqa"] {
            let text = try XCTUnwrap(ref.metadata["\(prompt).prompt"]?.string)
            let promptTokens = model.tokenizer.promptIds(text.isEmpty ? nil : text)
            let encoderIds = try ref.ints("\(prompt).encoder_ids")
            XCTAssertEqual(Array(repeating: model.config.imageTokenIndex, count: queries) + promptTokens, encoderIds, "\(name) \(prompt) ids")
            let output = try session.encoderOutput(promptTokens: promptTokens)
            let eo = maxRelativeError(output, try ref.floats("\(prompt).encoder_output"))
            print("\(name) \(prompt) encoder output: relative error \(eo)")
            XCTAssertLessThan(eo, Self.f32Tolerance, "\(name) \(prompt) encoder output")
            let decoderIds = try ref.ints("\(prompt).decoder_ids")
            XCTAssertEqual(decoderIds.first, model.config.t5.decoderStartTokenId)
            let logits = try session.decoderLogits(promptTokens: promptTokens, decoderTokens: Array(decoderIds.dropFirst()))
            let el = maxRelativeError(logits, try ref.floats("\(prompt).decoder_logits"))
            print("\(name) \(prompt) decoder logits: relative error \(el)")
            XCTAssertLessThan(el, Self.f32Tolerance, "\(name) \(prompt) decoder logits")
        }
        let cases = ref.metadata.entries.map(\.0).filter { $0.hasPrefix("generate.") && $0.hasSuffix(".ids") }.sorted()
        XCTAssertGreaterThanOrEqual(cases.count, 6)
        for key in cases {
            let base = String(key.dropLast(".ids".count))
            let p = try parameters(try XCTUnwrap(ref.metadata[base + ".settings"]?.string))
            let prompt = try XCTUnwrap(ref.metadata[try XCTUnwrap(ref.metadata[base + ".prompt"]?.string) + ".prompt"]?.string)
            let tokens = try session.generate(promptTokens: model.tokenizer.promptIds(prompt.isEmpty ? nil : prompt), parameters: p)
            XCTAssertEqual(tokens, try ref.ints(key), "\(name) \(base)")
        }
    }

    func testTinyT5AMatchesTransformers() throws { try checkForward("tiny-t5-a") }
    func testTinyT5BMatchesTransformers() throws { try checkForward("tiny-t5-b") }

    /// Q8_0 and Q4_0 files against transformers run on the same weights dequantized by gguf,
    /// with each quantized Linear's input quantized to Q8_0 blocks as the kernels do: then only
    /// float summation order separates the two, and 1e-4 bounds it as for F32. But a quantized
    /// activation on a rounding boundary moves by a whole step when its input moves by an ulp,
    /// and a random tiny model can sit on one: the fixture measures that (`sensitivity`: how far
    /// pixels moved by 1e-6 move the reference's logits; about 2e-2 for tiny-t5-a's Q4_0, 0 for its
    /// Q8_0) and the bound grows by 3 times it. It stays far below what the weights' own
    /// quantization does to the logits (printed beside), so a wrong weight still fails.
    func checkQuantized(_ name: String, _ type: GGMLType) throws {
        let ref = try Self.reference(name)
        let model = try BLIP2Model(path: try Self.file(name, type))
        let session = try Session(model: model, threads: 2)
        try session.encode(pixels: try ref.floats("pixel_values"))
        let key = "deq_\(type.description.lowercased())"
        for prompt in ["caption", "vqa"] {
            let text = try XCTUnwrap(ref.metadata["\(prompt).prompt"]?.string)
            let decoderIds = try ref.ints("\(prompt).decoder_ids")
            let logits = try session.decoderLogits(promptTokens: model.tokenizer.promptIds(text.isEmpty ? nil : text),
                                                   decoderTokens: Array(decoderIds.dropFirst()))
            let want = try ref.floats("\(key).\(prompt).decoder_logits")
            let sensitivity = try XCTUnwrap(try ref.floats("\(key).\(prompt).sensitivity").first)
            let e = maxRelativeError(logits, want)
            let weightsAlone = maxRelativeError(want, try ref.floats("\(prompt).decoder_logits"))
            print("\(name) \(type) \(prompt): relative error \(e) against dequantized transformers (sensitivity \(sensitivity); the weights' quantization alone moves F32 logits by \(weightsAlone))")
            XCTAssertLessThan(e, Self.f32Tolerance + 3 * sensitivity, "\(name) \(type) \(prompt)")
            XCTAssertLessThan(Self.f32Tolerance + 3 * sensitivity, weightsAlone / 2, "\(name) \(type) \(prompt): the bound must still catch a wrong weight")
        }
    }

    func testTinyT5AQ8_0MatchesDequantizedTransformers() throws { try checkQuantized("tiny-t5-a", .q8_0) }
    func testTinyT5AQ4_0MatchesDequantizedTransformers() throws { try checkQuantized("tiny-t5-a", .q4_0) }
    func testTinyT5BQ8_0MatchesDequantizedTransformers() throws { try checkQuantized("tiny-t5-b", .q8_0) }

    /// `--low-ram`: the vision tower's and the encoder's pages are released once used (each
    /// tower's weights lie together in the file, the encoder's before the decoder's) and the
    /// decoder's cache is F16; the greedy ids stay transformers'.
    func testLowRAMReleasesTheEncoderAndKeepsTheIds() throws {
        let ref = try Self.reference("tiny-t5-a")
        let model = try BLIP2Model(path: try Self.file("tiny-t5-a", .q8_0))
        let encoder = try XCTUnwrap(model.file.byteRange(of: .languageEncoder))
        let decoder = try XCTUnwrap(model.file.byteRange(of: .language))
        XCTAssertLessThanOrEqual(encoder.upperBound, decoder.lowerBound)
        let f32 = try BLIP2Model(path: try Self.file("tiny-t5-a", .f32))
        let session = try Session(model: f32, threads: 2)
        session.lowRAM = true
        try session.encode(pixels: try ref.floats("pixel_values"))
        let p = try parameters(try XCTUnwrap(ref.metadata["generate.greedy.settings"]?.string))
        XCTAssertEqual(try session.generate(promptTokens: f32.tokenizer.promptIds(nil), parameters: p), try ref.ints("generate.greedy.ids"))
    }

    /// Every relative position's bucket equals transformers' `_relative_position_bucket`, for
    /// FlanT5's 32 buckets up to 128 (tiny-t5-a) and for 9 up to 20 (tiny-t5-b), in both stacks.
    func testRelativeBucketsEqualTransformers() throws {
        for name in ["tiny-t5-a", "tiny-t5-b"] {
            let ref = try Self.reference(name)
            let config = try BLIP2Model(path: try Self.file(name, .f32)).config.t5
            let table = UnsafeMutablePointer<Float>.allocate(capacity: config.relativeBuckets * config.headCount)
            defer { table.deallocate() }
            for (stack, bidirectional) in [("encoder", true), ("decoder", false)] {
                let expected = try ref.ints("buckets.\(stack)")
                let span = (expected.count - 1) / 2
                let bias = RelativePositionBias(table: table, buckets: config.relativeBuckets, maxDistance: config.relativeMaxDistance,
                                                heads: config.headCount, bidirectional: bidirectional)
                XCTAssertEqual((-span...span).map(bias.bucket), expected, "\(name) \(stack)")
            }
        }
    }
}
