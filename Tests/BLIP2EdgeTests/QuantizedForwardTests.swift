import Foundation
import XCTest
@testable import BLIP2Edge

/// Q8_0 and Q4_0 files against transformers run on the same weights dequantized (by gguf),
/// teacher-forced over the same tokens: what remains is our activation quantization (Q8_0
/// per 32-block, as ggml does) and float rounding. Fixtures from Tools/make_forward_fixtures.py.
final class QuantizedForwardTests: XCTestCase {
    struct Agreement {
        var minCosine: Float
        var top1: Float
    }

    /// Per-position cosine similarity of logit rows, and how often the argmax agrees.
    static func agreement(_ got: [Float], _ want: [Float], vocab: Int) -> Agreement {
        let rows = want.count / vocab
        var minCos: Float = 1, same = 0
        for r in 0..<rows {
            let a = got[(r * vocab)..<((r + 1) * vocab)], b = want[(r * vocab)..<((r + 1) * vocab)]
            var dot: Double = 0, na: Double = 0, nb: Double = 0
            for (x, y) in zip(a, b) { dot += Double(x) * Double(y); na += Double(x * x); nb += Double(y * y) }
            minCos = min(minCos, Float(dot / (na.squareRoot() * nb.squareRoot())))
            if a.indices.max(by: { a[$0] < a[$1] }) == b.indices.max(by: { b[$0] < b[$1] }) { same += 1 }
        }
        return Agreement(minCosine: minCos, top1: Float(same) / Float(rows))
    }

    func check(_ name: String, _ type: GGMLType, minCosine: Float, minTop1: Float) throws {
        let ref = try ForwardTests.reference(name)
        let session = try Session(model: try ForwardTests.model(name, type), threads: 2)
        try session.encode(pixels: try ref.pixels())
        let tokens = try ref.ints("deq_\(type.description.lowercased()).ids")
        let got = try session.prefixLogits(promptTokens: tokens)
        let vocab = session.model.config.text.vocabSize
        let vsDequantized = Self.agreement(got, try ref.floats("deq_\(type.description.lowercased()).logits"), vocab: vocab)
        print("\(name) \(type): vs HF on dequantized weights: min cosine \(vsDequantized.minCosine), top-1 \(vsDequantized.top1)")
        if type == .q4_0 {
            // For scale: how far Q4_0 weights alone move HF (f32.teacher shares Q4_0's tokens).
            let weightsAlone = Self.agreement(try ref.floats("deq_q4_0.logits"), try ref.floats("f32.teacher.logits"), vocab: vocab)
            print("\(name) HF Q4_0-dequantized vs HF f32: min cosine \(weightsAlone.minCosine), top-1 \(weightsAlone.top1)")
        }
        XCTAssertGreaterThanOrEqual(vsDequantized.minCosine, minCosine, "\(name) \(type)")
        XCTAssertGreaterThanOrEqual(vsDequantized.top1, minTop1, "\(name) \(type)")
    }

    // Bounds: Q8_0 activations carry a relative error of about 2^-8 per block; through two
    // tiny layers per tower that keeps logit rows within a cosine of 0.999 of the
    // unquantized-activation reference (measured 0.9999+). The top-1 bound allows one
    // flipped near-tie in the 21 positions.
    func testTinyAQ8_0() throws { try check("tiny-a", .q8_0, minCosine: 0.999, minTop1: 0.95) }
    func testTinyAQ4_0() throws { try check("tiny-a", .q4_0, minCosine: 0.999, minTop1: 0.95) }
    func testTinyBQ8_0() throws { try check("tiny-b", .q8_0, minCosine: 0.999, minTop1: 0.95) }
    func testTinyBQ4_0() throws { try check("tiny-b", .q4_0, minCosine: 0.999, minTop1: 0.95) }
}
