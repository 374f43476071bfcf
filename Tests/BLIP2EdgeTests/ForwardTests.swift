import Foundation
import XCTest
@testable import BLIP2Edge

/// The forward pass and generation against transformers on the tiny seeded models
/// (Tests/Fixtures/forward, made by Tools/make_forward_fixtures.py).
final class ForwardTests: XCTestCase {
    static let dir = TemporaryDirectory()

    /// A tiny model converted to `type`, opened, cached across tests.
    static func model(_ name: String, _ type: GGMLType) throws -> BLIP2Model {
        try BLIP2Model(path: try dir.converted(name, type))
    }

    static func reference(_ name: String) throws -> GGUFFile {
        try GGUFFile(path: Fixtures.path("forward/\(name).gguf"))
    }

    /// F32 weights leave only summation order and transcendental approximations between us
    /// and PyTorch: errors of a few float32 ulps per operation, growing with depth. 1e-4 of
    /// the largest magnitude is well above that (measured values are printed) and far
    /// below any real mistake (a wrong eps, a missing bias or a transposed head moves
    /// outputs by 1e-2 or more).
    static let f32Tolerance: Float = 1e-4

    func checkStages(_ name: String) throws {
        let ref = try Self.reference(name)
        let session = try Session(model: try Self.model(name, .f32), threads: 2)
        let encoded = try session.encode(pixels: try ref.pixels())
        for (stage, got) in [("image_embeds", encoded.imageEmbeddings), ("qformer_output", encoded.queryOutput), ("projected", encoded.projected)] {
            let e = maxRelativeError(got, try ref.floats(stage))
            print("\(name) \(stage): relative error \(e)")
            XCTAssertLessThan(e, Self.f32Tolerance, "\(name) \(stage)")
        }
        for prompt in ["caption", "vqa"] {
            let ids = try ref.promptIds(prompt)
            let logits = try session.prefixLogits(promptTokens: ids)
            let e = maxRelativeError(logits, try ref.floats("\(prompt).logits"))
            print("\(name) \(prompt) prefix logits: relative error \(e)")
            XCTAssertLessThan(e, Self.f32Tolerance, "\(name) \(prompt) logits")
        }
    }

    func testTinyAStagesMatchTransformers() throws { try checkStages("tiny-a") }
    func testTinyBStagesMatchTransformers() throws { try checkStages("tiny-b") }

    func checkGeneration(_ name: String) throws {
        let ref = try Self.reference(name)
        let session = try Session(model: try Self.model(name, .f32), threads: 2)
        try session.encode(pixels: try ref.pixels())
        let cases = try XCTUnwrap(ref.metadata["gen.names"]?.array?.compactMap(\.string))
        XCTAssertGreaterThanOrEqual(cases.count, 5)
        for c in cases {
            let g = try ref.generationCase(c)
            XCTAssertEqual(try session.generate(promptTokens: g.prompt, parameters: g.parameters), g.expected, "\(name) case \(c)")
        }
    }

    func testTinyAGenerationMatchesTransformers() throws { try checkGeneration("tiny-a") }
    func testTinyBGenerationMatchesTransformers() throws { try checkGeneration("tiny-b") }
}
