import CKernels
import XCTest
@testable import BLIP2Edge

/// Our weight quantizers against the bytes the `gguf` Python package produced for the same
/// inputs (Tests/Fixtures/quant, made by Tools/make_quant_fixtures.py). Exact equality is
/// the requirement: the files we write must be the files gguf would write.
final class QuantizationTests: XCTestCase {
    var file: GGUFFile!

    override func setUpWithError() throws {
        file = try GGUFFile(path: Fixtures.path("quant/gguf-quants.gguf"))
    }

    func floats(_ name: String) throws -> [Float] {
        let t = try XCTUnwrap(file.tensor(named: name), "fixture has no tensor \(name)")
        XCTAssertEqual(t.type, .f32)
        return Array(file.bytes(of: t).bindMemory(to: Float.self))
    }

    func bytes(_ name: String) throws -> [UInt8] {
        Array(file.bytes(of: try XCTUnwrap(file.tensor(named: name), "fixture has no tensor \(name)")))
    }

    /// Positions where two byte strings differ (a count, not a dump, when they do).
    func differing(_ a: [UInt8], _ b: [UInt8]) -> Int {
        a.count != b.count ? max(a.count, b.count) : zip(a, b).filter { $0 != $1 }.count
    }

    var cases: [String] {
        file.tensors.map(\.name).filter { $0.hasSuffix(".f32") && $0 != "halfconv.f32" }.map { String($0.dropLast(4)) }
    }

    func testFixtureHasCases() {
        XCTAssertGreaterThanOrEqual(cases.count, 8, "the quantization fixture lost its cases")
    }

    func testQ8_0BytesMatchGGUF() throws {
        for c in cases {
            let x = try floats(c + ".f32")
            var out = [UInt8](repeating: 0, count: x.count / 32 * 34)
            let bad = out.withUnsafeMutableBytes { ck_quantize_q8_0_gguf(x, $0.baseAddress!.assumingMemoryBound(to: ck_block_q8_0.self), x.count) }
            XCTAssertEqual(bad, 0)
            XCTAssertEqual(differing(out, try bytes(c + ".q8_0")), 0, "Q8_0 bytes differ from gguf for case \(c)")
        }
    }

    func testQ4_0BytesMatchGGUF() throws {
        for c in cases {
            let x = try floats(c + ".f32")
            var out = [UInt8](repeating: 0, count: x.count / 32 * 18)
            let bad = out.withUnsafeMutableBytes { ck_quantize_q4_0_gguf(x, $0.baseAddress!.assumingMemoryBound(to: ck_block_q4_0.self), x.count) }
            XCTAssertEqual(bad, 0)
            XCTAssertEqual(differing(out, try bytes(c + ".q4_0")), 0, "Q4_0 bytes differ from gguf for case \(c)")
        }
    }

    /// The plain-C references too (on an AVX2 machine the tests above run the AVX2 code).
    func testReferenceQuantizersMatchGGUF() throws {
        for c in cases {
            let x = try floats(c + ".f32")
            var q8 = [UInt8](repeating: 0, count: x.count / 32 * 34)
            var q4 = [UInt8](repeating: 0, count: x.count / 32 * 18)
            _ = q8.withUnsafeMutableBytes { ck_quantize_q8_0_gguf_ref(x, $0.baseAddress!.assumingMemoryBound(to: ck_block_q8_0.self), x.count) }
            _ = q4.withUnsafeMutableBytes { ck_quantize_q4_0_gguf_ref(x, $0.baseAddress!.assumingMemoryBound(to: ck_block_q4_0.self), x.count) }
            XCTAssertEqual(differing(q8, try bytes(c + ".q8_0")), 0, "reference Q8_0, case \(c)")
            XCTAssertEqual(differing(q4, try bytes(c + ".q4_0")), 0, "reference Q4_0, case \(c)")
        }
    }

    /// SIMD and reference agree on a large mixed sample: magnitudes from 1e-30 to 1e30,
    /// ties, zeros, subnormal scales.
    func testDispatchedQuantizersEqualReferenceOnMixedData() {
        var rng = SplitMix(seed: 42)
        let n = 1 << 16
        let x: [Float] = (0..<n).map { i in
            let u = Float(rng.next() % 1_000_000) / 500_000 - 1
            switch i % 9 {
            case 0: return u * 1e-30
            case 1: return u * 1e30
            case 2: return Float(Int(rng.next() % 17) - 8) * 0.25
            case 3: return 0
            case 4: return i % 32 == 4 ? 3 : -3
            default: return u
            }
        }
        var a = [UInt8](repeating: 0, count: n / 32 * 34), b = a
        _ = a.withUnsafeMutableBytes { ck_quantize_q8_0_gguf(x, $0.baseAddress!.assumingMemoryBound(to: ck_block_q8_0.self), n) }
        _ = b.withUnsafeMutableBytes { ck_quantize_q8_0_gguf_ref(x, $0.baseAddress!.assumingMemoryBound(to: ck_block_q8_0.self), n) }
        XCTAssertEqual(a, b)
        var c = [UInt8](repeating: 0, count: n / 32 * 18), d = c
        _ = c.withUnsafeMutableBytes { ck_quantize_q4_0_gguf(x, $0.baseAddress!.assumingMemoryBound(to: ck_block_q4_0.self), n) }
        _ = d.withUnsafeMutableBytes { ck_quantize_q4_0_gguf_ref(x, $0.baseAddress!.assumingMemoryBound(to: ck_block_q4_0.self), n) }
        XCTAssertEqual(c, d)
    }

    func testF16BytesMatchGGUF() throws {
        for c in cases {
            let x = try floats(c + ".f32")
            var out = [UInt16](repeating: 0, count: x.count)
            ck_fp32_to_fp16_row(x, &out, x.count)
            XCTAssertEqual(out.withUnsafeBytes { Array($0) }, try bytes(c + ".f16"), "F16 differs from numpy for case \(c)")
        }
    }

    func testDequantizationMatchesGGUF() throws {
        for c in cases {
            let q8 = try bytes(c + ".q8_0"), q4 = try bytes(c + ".q4_0")
            let n = q8.count / 34 * 32
            var y8 = [Float](repeating: 0, count: n), y4 = [Float](repeating: 0, count: n)
            q8.withUnsafeBytes { ck_row_to_float(CK_TYPE_Q8_0, $0.baseAddress!, &y8, n) }
            q4.withUnsafeBytes { ck_row_to_float(CK_TYPE_Q4_0, $0.baseAddress!, &y4, n) }
            XCTAssertEqual(y8.map(\.bitPattern), try floats(c + ".q8_0.deq").map(\.bitPattern), "Q8_0 dequantization, case \(c)")
            XCTAssertEqual(y4.map(\.bitPattern), try floats(c + ".q4_0.deq").map(\.bitPattern), "Q4_0 dequantization, case \(c)")
        }
    }

    func testHalfConversionMatchesNumpyOnEdgeValues() throws {
        let x = try floats("halfconv.f32")
        let expected = try bytes("halfconv.f16")
        var out = [UInt16](repeating: 0, count: x.count)
        ck_fp32_to_fp16_row(x, &out, x.count)
        let want = expected.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }
        for i in x.indices where !x[i].isNaN {
            XCTAssertEqual(out[i], want[i], "float \(x[i]) (bits \(String(x[i].bitPattern, radix: 16))) converts to \(out[i]), numpy gives \(want[i])")
        }
        for i in x.indices where x[i].isNaN {
            XCTAssertTrue(ck_half_to_float_ref(out[i]).isNaN, "NaN must stay NaN")
        }
        // Every half converts back exactly.
        for h in 0...UInt16.max {
            let f = ck_half_to_float_ref(h)
            if !f.isNaN { XCTAssertEqual(ck_float_to_half_ref(f), h) }
        }
    }

    func testNonFiniteInputsAreCountedNotUndefined() {
        var x = [Float](repeating: 0.5, count: 64)
        x[3] = .nan
        x[40] = .infinity
        var q8 = [ck_block_q8_0](repeating: ck_block_q8_0(), count: 2)
        var q4 = [ck_block_q4_0](repeating: ck_block_q4_0(), count: 2)
        XCTAssertEqual(ck_quantize_q8_0_gguf(x, &q8, 64), 2)
        XCTAssertEqual(ck_quantize_q4_0_gguf(x, &q4, 64), 2)
    }
}
