/// Every tensor a BLIP-2 model file holds, by transformers' name, with the shape the
/// configuration implies: the single list both the converter and the loader check against.
public struct TensorSpec: Sendable, Equatable {
    /// What a tensor is, which decides how it may be stored.
    public enum Role: Sendable, Equatable {
        /// A Linear layer's [out, in] weight: quantizable when `in` divides into blocks.
        case linear
        /// The token embedding, which is also the tied LM head.
        case tokenEmbedding
        /// The patch embedding convolution [hidden, 3, p, p].
        case patchEmbedding
        /// LayerNorm weights and biases, biases, position and class embeddings, queries.
        case small
    }

    public let name: String
    public let shape: [Int]
    public let role: Role
}

extension BLIP2Config {
    /// The tensors in the order the forward pass meets them (so each tower's weights lie
    /// together in the file and can be released as a block).
    public var tensorSpecs: [TensorSpec] {
        var specs: [TensorSpec] = []
        func add(_ name: String, _ shape: [Int], _ role: TensorSpec.Role) {
            specs.append(TensorSpec(name: name, shape: shape, role: role))
        }
        func linear(_ name: String, out: Int, in inDim: Int, bias: Bool = true) {
            add(name + ".weight", [out, inDim], .linear)
            if bias { add(name + ".bias", [out], .small) }
        }
        func norm(_ name: String, _ n: Int) {
            add(name + ".weight", [n], .small)
            add(name + ".bias", [n], .small)
        }

        let v = vision
        add("vision_model.embeddings.class_embedding", [1, 1, v.hiddenSize], .small)
        add("vision_model.embeddings.patch_embedding.weight", [v.hiddenSize, 3, v.patchSize, v.patchSize], .patchEmbedding)
        add("vision_model.embeddings.patch_embedding.bias", [v.hiddenSize], .small)
        add("vision_model.embeddings.position_embedding", [1, v.tokenCount, v.hiddenSize], .small)
        for i in 0..<v.layerCount {
            let p = "vision_model.encoder.layers.\(i)."
            norm(p + "layer_norm1", v.hiddenSize)
            linear(p + "self_attn.qkv", out: 3 * v.hiddenSize, in: v.hiddenSize)
            linear(p + "self_attn.projection", out: v.hiddenSize, in: v.hiddenSize)
            norm(p + "layer_norm2", v.hiddenSize)
            linear(p + "mlp.fc1", out: v.intermediateSize, in: v.hiddenSize)
            linear(p + "mlp.fc2", out: v.hiddenSize, in: v.intermediateSize)
        }
        norm("vision_model.post_layernorm", v.hiddenSize)

        let q = qformer
        add("query_tokens", [1, queryTokenCount, q.hiddenSize], .small)
        norm("qformer.layernorm", q.hiddenSize)
        for i in 0..<q.layerCount {
            let p = "qformer.encoder.layer.\(i)."
            for part in ["query", "key", "value"] {
                linear(p + "attention.attention." + part, out: q.hiddenSize, in: q.hiddenSize)
            }
            linear(p + "attention.output.dense", out: q.hiddenSize, in: q.hiddenSize)
            norm(p + "attention.output.LayerNorm", q.hiddenSize)
            if q.hasCrossAttention(layer: i) {
                linear(p + "crossattention.attention.query", out: q.hiddenSize, in: q.hiddenSize)
                linear(p + "crossattention.attention.key", out: q.hiddenSize, in: q.encoderHiddenSize)
                linear(p + "crossattention.attention.value", out: q.hiddenSize, in: q.encoderHiddenSize)
                linear(p + "crossattention.output.dense", out: q.hiddenSize, in: q.hiddenSize)
                norm(p + "crossattention.output.LayerNorm", q.hiddenSize)
            }
            linear(p + "intermediate_query.dense", out: q.intermediateSize, in: q.hiddenSize)
            linear(p + "output_query.dense", out: q.hiddenSize, in: q.intermediateSize)
            norm(p + "output_query.LayerNorm", q.hiddenSize)
        }
        linear("language_projection", out: text.hiddenSize, in: q.hiddenSize)

        let t = text
        let d = "language_model.model.decoder."
        add(d + "embed_tokens.weight", [t.vocabSize, t.hiddenSize], .tokenEmbedding)
        add(d + "embed_positions.weight", [t.maxPositionEmbeddings + TextConfig.positionOffset, t.hiddenSize], .small)
        for i in 0..<t.layerCount {
            let p = d + "layers.\(i)."
            norm(p + "self_attn_layer_norm", t.hiddenSize)
            for part in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                linear(p + "self_attn." + part, out: t.hiddenSize, in: t.hiddenSize)
            }
            norm(p + "final_layer_norm", t.hiddenSize)
            linear(p + "fc1", out: t.ffnDim, in: t.hiddenSize)
            linear(p + "fc2", out: t.hiddenSize, in: t.ffnDim)
        }
        norm(d + "final_layer_norm", t.hiddenSize)
        return specs
    }

    /// Checkpoint tensors that transformers loads but this model never reads, skipped by
    /// the converter rather than rejected: the tied LM head, and Q-Former text-side layers
    /// some checkpoints carry although `use_qformer_text_input` is off.
    public static func isIgnorable(_ name: String) -> Bool {
        if name == "language_model.lm_head.weight" { return true }
        if name.hasSuffix(".position_ids") { return true }
        if name.hasPrefix("qformer.embeddings.") { return true }
        if name.hasPrefix("qformer.encoder.layer."),
           name.contains(".intermediate.dense.") || name.contains(".output.dense.") || name.contains(".output.LayerNorm.") {
            return !name.contains("attention.output") && !name.contains("output_query")
        }
        return false
    }
}

/// GGUF keeps tensor names to 63 bytes; transformers' longest run to 66. Each tower's
/// prefix is shortened, and the rest of the name kept, so names stay recognisable.
public enum TensorNames {
    static let prefixes: [(hf: String, gguf: String)] = [
        ("vision_model.", "v."),
        ("qformer.", "qf."),
        ("language_model.model.decoder.", "t."),
        ("language_projection.", "proj."),
    ]

    public static func gguf(_ hfName: String) -> String {
        for (hf, short) in prefixes where hfName.hasPrefix(hf) {
            return short + hfName.dropFirst(hf.count)
        }
        return hfName
    }

    public static func huggingFace(_ ggufName: String) -> String {
        for (hf, short) in prefixes where ggufName.hasPrefix(short) {
            return hf + ggufName.dropFirst(short.count)
        }
        return ggufName
    }
}
