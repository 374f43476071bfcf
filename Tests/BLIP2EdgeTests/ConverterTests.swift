import CKernels
import Foundation
import XCTest
@testable import BLIP2Edge

/// The converter on the tiny transformers-made checkpoints (Tests/Fixtures, from
/// Tools/make_tiny_checkpoints.py). Quantized bytes are compared with our quantizers, which
/// QuantizationTests prove equal to the gguf package's; CI also runs Tools/verify_gguf.py,
/// which compares converted files with gguf directly.
final class ConverterTests: XCTestCase {
    let dir = TemporaryDirectory()

    func convert(_ fixture: String, _ type: GGMLType, threads: Int = 2) throws -> GGUFFile {
        let out = dir.file("\(fixture)-\(type).gguf")
        try Converter(plan: QuantizationPlan(fileType: type), threads: threads).convert(input: Fixtures.path(fixture), output: out)
        return try GGUFFile(path: out)
    }

    /// A checkpoint tensor's values as float32.
    func sourceFloats(_ fixture: String, _ name: String) throws -> [Float] {
        let ck = try Checkpoint(path: Fixtures.path(fixture))
        let (fileIndex, t) = try XCTUnwrap(ck.tensors[name])
        return try ck.files[fileIndex].bytes(of: t).withUnsafeBytes { b -> [Float] in
            switch t.dtype {
            case .f32: return Array(b.bindMemory(to: Float.self))
            case .f16: return b.bindMemory(to: UInt16.self).map { ck_half_to_float_ref($0) }
            default: return b.bindMemory(to: UInt16.self).map { Float(bitPattern: UInt32($0) << 16) }
            }
        }
    }

    func expectedBytes(_ x: [Float], _ type: GGMLType) -> [UInt8] {
        switch type {
        case .f32: return floatBytes(x)
        case .f16:
            var h = [UInt16](repeating: 0, count: x.count)
            ck_fp32_to_fp16_row(x, &h, x.count)
            return h.withUnsafeBytes { Array($0) }
        case .q8_0:
            var out = [UInt8](repeating: 0, count: x.count / 32 * 34)
            _ = out.withUnsafeMutableBytes { ck_quantize_q8_0_gguf(x, $0.baseAddress!.assumingMemoryBound(to: ck_block_q8_0.self), x.count) }
            return out
        case .q4_0:
            var out = [UInt8](repeating: 0, count: x.count / 32 * 18)
            _ = out.withUnsafeMutableBytes { ck_quantize_q4_0_gguf(x, $0.baseAddress!.assumingMemoryBound(to: ck_block_q4_0.self), x.count) }
            return out
        case .q4_0x8:
            XCTFail("Q4_0x8 files are checked by InterleavedLayoutTests and Tools/verify_gguf.py")
            return []
        }
    }

    func checkEveryTensor(_ fixture: String, _ type: GGMLType) throws {
        let file = try convert(fixture, type)
        let prepared = try Converter(plan: QuantizationPlan(fileType: type)).prepare(input: Fixtures.path(fixture))
        XCTAssertEqual(file.tensors.count, prepared.specs.count)
        for (spec, plan) in zip(prepared.specs, prepared.tensors) {
            let t = try XCTUnwrap(file.tensor(named: spec.fileName), "no \(spec.name) in the file")
            XCTAssertEqual(t.shape, spec.shape, spec.name)
            XCTAssertEqual(t.type, plan.type, spec.name)
            XCTAssertEqual(Array(file.bytes(of: t)), expectedBytes(try sourceFloats(fixture, spec.name), t.type), "\(spec.name) as \(t.type)")
        }
    }

    func testConvertsFP32CheckpointToEveryType() throws {
        for type in GGMLType.allCases where type != .q4_0x8 { try checkEveryTensor("tiny-a", type) }
    }

    func testConvertsFP16AndShardedBF16Checkpoints() throws {
        try checkEveryTensor("tiny-a-f16", .q4_0)
        try checkEveryTensor("tiny-a-f16", .f16)
        try checkEveryTensor("tiny-a-bf16-sharded", .q8_0)
        try checkEveryTensor("tiny-a-bf16-sharded", .f32)
    }

    func testResultDoesNotDependOnThreadCount() throws {
        let one = dir.file("one.gguf"), two = dir.file("two.gguf")
        try Converter(plan: QuantizationPlan(fileType: .q4_0), threads: 1).convert(input: Fixtures.path("tiny-b"), output: one)
        try Converter(plan: QuantizationPlan(fileType: .q4_0), threads: 3).convert(input: Fixtures.path("tiny-b"), output: two)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: one)), try Data(contentsOf: URL(fileURLWithPath: two)))
    }

    func testSmallChunksGiveTheSameFile() throws {
        let a = dir.file("a.gguf"), b = dir.file("b.gguf")
        try Converter(plan: QuantizationPlan(fileType: .q4_0)).convert(input: Fixtures.path("tiny-a"), output: a)
        var small = Converter(plan: QuantizationPlan(fileType: .q4_0))
        small.chunkBytes = 1000 // forces many chunks, and rows larger than a chunk
        try small.convert(input: Fixtures.path("tiny-a"), output: b)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: b)))
    }

    func testAwkwardRowsFallBackToF16AndEmbeddingStaysQ8() throws {
        let file = try convert("tiny-b", .q4_0)
        let prepared = try Converter(plan: QuantizationPlan(fileType: .q4_0)).prepare(input: Fixtures.path("tiny-b"))
        var fallbacks = 0
        for t in file.tensors {
            let spec = try XCTUnwrap(prepared.specs.first { $0.fileName == t.name })
            switch spec.role {
            case .linear:
                XCTAssertEqual(t.type, t.rowLength % 32 == 0 ? .q4_0 : .f16, t.name)
                if t.rowLength % 32 != 0 { fallbacks += 1 }
            case .tokenEmbedding: XCTAssertEqual(t.type, t.rowLength % 32 == 0 ? .q8_0 : .f16, t.name)
            case .patchEmbedding: XCTAssertEqual(t.type, .f16, t.name)
            case .small: XCTAssertEqual(t.type, .f32, t.name)
            }
        }
        XCTAssertGreaterThan(fallbacks, 0, "tiny-b should exercise the F16 fallback")
    }

    func testOverridesByPattern() throws {
        let plan = QuantizationPlan(fileType: .q4_0, overrides: [
            try XCTUnwrap(.init(argument: "language_model.*.fc1.weight=q8_0")),
            try XCTUnwrap(.init(argument: "v.*=f32")),
        ])
        let prepared = try Converter(plan: plan).prepare(input: Fixtures.path("tiny-a"))
        for (spec, p) in zip(prepared.specs, prepared.tensors) {
            if spec.name.hasPrefix("language_model.") && spec.name.hasSuffix(".fc1.weight") { XCTAssertEqual(p.type, .q8_0) }
            if spec.name.hasPrefix("vision_model.") { XCTAssertEqual(p.type, .f32) }
            if spec.name.hasSuffix(".fc2.weight") && spec.name.hasPrefix("language_model.") { XCTAssertEqual(p.type, .q4_0) }
        }
        let impossible = QuantizationPlan(fileType: .q4_0, overrides: [.init(pattern: "*patch_embedding.weight", type: .q4_0)])
        XCTAssertThrowsMessage("not a multiple of Q4_0's 32-element blocks") {
            _ = try Converter(plan: impossible).prepare(input: Fixtures.path("tiny-a"))
        }
    }

    func testSlowAndFastTokenizerFilesGiveTheSameVocabulary() throws {
        let slow = try Converter(plan: QuantizationPlan(fileType: .q4_0)).prepare(input: Fixtures.path("tiny-a"))
        let fast = try Converter(plan: QuantizationPlan(fileType: .q4_0)).prepare(input: Fixtures.path("tiny-a-bf16-sharded"))
        XCTAssertEqual(slow.vocabulary, fast.vocabulary)
        XCTAssertEqual(slow.config, fast.config)
        let v = try XCTUnwrap(slow.vocabulary)
        XCTAssertEqual(v.tokens[0...3], ["<s>", "<pad>", "</s>", "<unk>"])
        XCTAssertEqual(v.bosTokenId, 2)
        XCTAssertEqual(v.paddingTokenId, 1)
        XCTAssertTrue(v.addBOS)
        let image = try XCTUnwrap(v.id(of: "<image>"))
        XCTAssertEqual(image, slow.config.imageTokenIndex)
        XCTAssertEqual(v.types[2], .control)
        XCTAssertFalse(v.merges.isEmpty)
    }

    func testMetadataCarriesTheWholeConfiguration() throws {
        for fixture in ["tiny-a", "tiny-b"] {
            let file = try convert(fixture, .q8_0)
            let prepared = try Converter(plan: QuantizationPlan(fileType: .q8_0)).prepare(input: Fixtures.path(fixture))
            XCTAssertEqual(try BLIP2Config(metadata: file.metadata, path: file.path), prepared.config)
            let vocabulary = try XCTUnwrap(prepared.vocabulary)
            XCTAssertEqual(file.metadata["tokenizer.ggml.tokens"], .strings(vocabulary.tokens))
            XCTAssertEqual(file.metadata["tokenizer.ggml.merges"], .strings(vocabulary.merges))
            XCTAssertEqual(file.metadata["general.architecture"], .string("blip2"))
        }
    }

    func testTinyBConfigIsReadAsWritten() throws {
        let c = try Converter(plan: QuantizationPlan(fileType: .q8_0)).prepare(input: Fixtures.path("tiny-b")).config
        XCTAssertEqual(c.qformer.crossAttentionFrequency, 1)
        XCTAssertEqual(c.vision.headCount, 3)
        XCTAssertTrue((0..<c.qformer.layerCount).allSatisfy { c.qformer.hasCrossAttention(layer: $0) })
    }

    /// config.json as the real Salesforce/blip2-opt-2.7b has it: vision and Q-Former fields
    /// absent, so transformers' class defaults must be filled in.
    func testRealCheckpointConfigResolvesToClassDefaults() throws {
        let json = """
        {"architectures": ["Blip2ForConditionalGeneration"], "model_type": "blip-2", "image_token_index": 50265,
         "num_query_tokens": 32, "use_decoder_only_language_model": true,
         "qformer_config": {"model_type": "blip_2_qformer"}, "vision_config": {"model_type": "blip_2_vision_model"},
         "text_config": {"model_type": "opt", "_name_or_path": "facebook/opt-2.7b", "hidden_size": 2560, "ffn_dim": 10240,
           "num_hidden_layers": 32, "num_attention_heads": 32, "vocab_size": 50304, "word_embed_proj_dim": 2560,
           "eos_token_id": 50118, "torch_dtype": "float16", "activation_function": "relu", "do_layer_norm_before": true}}
        """
        let pp = """
        {"do_convert_rgb": true, "do_normalize": true, "do_rescale": true, "do_resize": true,
         "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_processor_type": "BlipImageProcessor",
         "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3, "rescale_factor": 0.00392156862745098,
         "size": {"height": 224, "width": 224}}
        """
        let gen = #"{"bos_token_id": 2, "eos_token_id": 50118, "pad_token_id": 1}"#
        let c = try BLIP2Config(configJSON: Array(json.utf8), preprocessorJSON: Array(pp.utf8), generationJSON: Array(gen.utf8), imageTokenFallback: nil)
        XCTAssertEqual(c.vision.hiddenSize, 1408)
        XCTAssertEqual(c.vision.layerCount, 39)
        XCTAssertEqual(c.vision.headCount, 16)
        XCTAssertEqual(c.vision.intermediateSize, 6144)
        XCTAssertEqual(c.vision.layerNormEps, 1e-6)
        XCTAssertEqual(c.vision.tokenCount, 257)
        XCTAssertEqual(c.qformer.layerNormEps, 1e-12)
        XCTAssertEqual(c.qformer.layerCount, 12)
        XCTAssertEqual(c.qformer.crossAttentionFrequency, 2)
        XCTAssertEqual(c.text.layerNormEps, 1e-5)
        XCTAssertEqual(c.text.maxPositionEmbeddings, 2048)
        XCTAssertEqual(c.text.eosTokenIds, [50118])
        XCTAssertEqual(c.generation.eosTokenIds, [50118])
        XCTAssertEqual(c.imageTokenIndex, 50265)
        XCTAssertEqual(c.image.width, 224)
        let params = c.tensorSpecs.reduce(0) { $0 + $1.shape.reduce(1, *) }
        XCTAssertEqual(Double(params) / 1e9, 3.74, accuracy: 0.01, "blip2-opt-2.7b has about 3.74 B parameters")
        XCTAssertTrue(c.tensorSpecs.allSatisfy { $0.fileName.utf8.count <= 63 })
    }

    /// Each value of transformers' JSON we cannot run (a requirement in ConfigFields.swift) is
    /// refused with its path, and the supported value is accepted.
    func testRejectsEachUnsupportedSetting() throws {
        func json(_ path: String, _ value: Any?) throws -> [UInt8] {
            var root: [String: Any] = ["text_config": [String: Any]()]
            if let value {
                let keys = path.split(separator: ".").map(String.init)
                func put(_ object: [String: Any], _ rest: ArraySlice<String>) -> [String: Any] {
                    var o = object
                    o[rest.first!] = rest.count == 1 ? value : put(o[rest.first!] as? [String: Any] ?? [:], rest.dropFirst())
                    return o
                }
                root = put(root, keys[...])
            }
            return Array(try JSONSerialization.data(withJSONObject: root))
        }
        for r in BLIP2Config().requirements {
            let (ok, bad): (Any, Any) = switch r.supported {
            case let .string(s): (s, s + "x")
            case let .bool(b): (b, !b)
            case let .int(i): (i, i + 1)
            default: ("", "")
            }
            for (value, accepted) in [(ok, true), (bad, false)] {
                let inConfig = r.file == .config
                let config = try json(inConfig ? r.path : "", inConfig ? value : nil)
                let pp = try json(inConfig ? "" : r.path, inConfig ? nil : value)
                let attempt = { _ = try BLIP2Config(configJSON: config, preprocessorJSON: pp, generationJSON: nil, imageTokenFallback: 3) }
                if accepted {
                    XCTAssertNoThrow(try attempt(), r.path)
                } else {
                    XCTAssertThrowsMessage("\(r.path) is ") { try attempt() }
                }
            }
        }
    }

    func testRejectsUnsupportedLanguageModels() {
        let pp = Array(#"{"size": {"height": 224, "width": 224}}"#.utf8)
        XCTAssertThrowsMessage("only OPT language models") {
            _ = try BLIP2Config(configJSON: Array(#"{"text_config": {"model_type": "llama"}, "image_token_index": 1}"#.utf8),
                                preprocessorJSON: pp, generationJSON: nil, imageTokenFallback: nil)
        }
        // T5 v1.0's ReLU feed-forward is not FlanT5's gated one.
        XCTAssertThrowsMessage("only gated feed-forwards") {
            _ = try BLIP2Config(configJSON: Array(#"{"text_config": {"model_type": "t5"}, "image_token_index": 1}"#.utf8),
                                preprocessorJSON: pp, generationJSON: nil, imageTokenFallback: nil)
        }
        XCTAssertThrowsMessage("the activation silu is not supported") {
            _ = try BLIP2Config(configJSON: Array(#"{"text_config": {"model_type": "t5", "feed_forward_proj": "gated-silu"}, "image_token_index": 1}"#.utf8),
                                preprocessorJSON: pp, generationJSON: nil, imageTokenFallback: nil)
        }
        XCTAssertThrowsMessage("text_config.hidden_size should be Int") {
            _ = try BLIP2Config(configJSON: Array(#"{"text_config": {"hidden_size": "big"}}"#.utf8),
                                preprocessorJSON: pp, generationJSON: nil, imageTokenFallback: nil)
        }
    }

    /// The full-size model has more than 2^31 parameters in Q4_0 alone; a 32-bit `%d` printed
    /// its count as -687407104 (issue 12).
    func testReportPrintsCountsPastTwoToTheThirtyOne() {
        var s = ConversionSummary()
        s.tensorCount = 1000
        s.parameterCount = 3_744_761_856
        s.inputBytes = 7_489_523_712
        s.outputBytes = 3_114_553_344
        s.parametersByType = [.q4_0: 3_000_000_000, .q8_0: 256_000_000, .f16: 400_000_000, .f32: 88_761_856]
        s.bytesByType = [.q4_0: 1_687_500_000, .q8_0: 272_000_000, .f16: 800_000_000, .f32: 355_047_424]
        s.seconds = 42
        XCTAssertEqual(s.reportLines(output: "big.q4"), [
            "wrote big.q4: 1000 tensors, 3.74 B parameters",
            "  6.98 GiB -> 2.90 GiB (6.65 bits/weight) in 42.00 s",
            "  F32         88761856 parameters  338.60 MiB",
            "  F16        400000000 parameters  762.94 MiB",
            "  Q4_0      3000000000 parameters  1.57 GiB",
            "  Q8_0       256000000 parameters  259.40 MiB",
        ])
    }
}

/// Checkpoints saved by transformers 4 store the vision attention biases as q_bias/v_bias.
final class LegacyCheckpointTests: XCTestCase {
    /// tiny-a with each vision qkv.bias stored as q_bias and v_bias.
    func legacyCheckpoint(in dir: TemporaryDirectory, vBiasDType: String = "F32") throws -> String {
        let legacy = try dir.copy(fixture: "tiny-a", as: "tiny-a")
        let original = try SafetensorsFile(path: Fixtures.path("tiny-a/model.safetensors"))
        var tensors: [(String, String, [Int], [UInt8])] = []
        var split = 0
        for t in original.tensors {
            let b = try original.bytes(of: t)
            if t.name.hasSuffix("self_attn.qkv.bias") {
                let third = b.count / 3
                XCTAssertTrue(b[third..<(2 * third)].allSatisfy { $0 == 0 }, "the k part of \(t.name) is not zero")
                let prefix = String(t.name.dropLast("qkv.bias".count))
                let vBytes = vBiasDType == "F32" ? third : third / 2
                tensors.append((prefix + "q_bias", "F32", [t.shape[0] / 3], Array(b[0..<third])))
                tensors.append((prefix + "v_bias", vBiasDType, [t.shape[0] / 3], Array(b[(2 * third)...].prefix(vBytes))))
                split += 1
            } else {
                tensors.append((t.name, "F32", t.shape, b))
            }
        }
        XCTAssertEqual(split, 2)
        try SafetensorsBuilder(tensors: tensors).write(to: legacy + "/model.safetensors")
        return legacy
    }

    func testQAndVBiasesBecomeTheFusedQKVBias() throws {
        let dir = TemporaryDirectory()
        let legacy = try legacyCheckpoint(in: dir)
        let a = dir.file("a.gguf"), b = dir.file("b.gguf")
        try Converter(plan: QuantizationPlan(fileType: .q4_0)).convert(input: Fixtures.path("tiny-a"), output: a)
        try Converter(plan: QuantizationPlan(fileType: .q4_0)).convert(input: legacy, output: b)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: b)))
    }

    /// The fused bias is converted as one row, so its parts must share a dtype.
    func testQAndVBiasesOfDifferentDTypesAreRefused() throws {
        let dir = TemporaryDirectory()
        let legacy = try legacyCheckpoint(in: dir, vBiasDType: "F16")
        XCTAssertThrowsMessage("v_bias has dtype F16 but") {
            try Converter(plan: QuantizationPlan(fileType: .q4_0)).convert(input: legacy, output: dir.file("out.gguf"))
        }
        XCTAssertEqual(dir.contents, ["tiny-a"])
    }
}
