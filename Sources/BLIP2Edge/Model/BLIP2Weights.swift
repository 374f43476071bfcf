import BLIP2System

/// Every weight of a BLIP-2 model, as its towers declare them, in the order the forward pass
/// meets them: the converter writes them in this order, so each tower's weights lie together
/// in the file and can be released as a block. A retrieval model has no language model; its
/// Q-Former brings a text side instead. A FlanT5 model has an encoder-decoder.
struct BLIP2Weights {
    let vision: VisionEncoder.Weights
    let qformer: QFormer.Weights
    let language: LanguageModel.Weights?
    let t5: T5Weights.Weights?

    init(_ binding: WeightBinding, _ c: BLIP2Config) throws {
        vision = try .init(binding.scope(.vision, "vision_model", file: "v"), c.vision)
        qformer = try .init(binding.scope(.qformer), c)
        language = c.family == .opt
            ? try .init(binding.scope(.language, "language_model.model.decoder", file: "t"), c.text) : nil
        t5 = c.family == .t5
            ? try .init(encoder: binding.scope(.languageEncoder, "language_model.encoder", file: "t.encoder"),
                        decoder: binding.scope(.language, "language_model", file: "t"), c.t5) : nil
    }

    /// Checkpoint tensors that transformers loads but this model never reads, skipped by
    /// the converter rather than rejected: the tied LM head, position ids, and Q-Former
    /// text-side layers some captioning checkpoints carry although `use_qformer_text_input`
    /// is off (a retrieval model declares those, so they never get here).
    static func isIgnorable(_ name: String, family: ModelFamily) -> Bool {
        if family == .t5 {
            // Aliases of `shared`, and a table transformers creates but never reads.
            if name == "language_model.encoder.embed_tokens.weight" || name == "language_model.decoder.embed_tokens.weight" { return true }
            if name == "language_model.decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight" { return true }
        } else if name == "language_model.lm_head.weight" {
            return true
        }
        if name.hasSuffix(".position_ids") { return true }
        if name.hasPrefix("qformer.embeddings.") { return true }
        if name.hasPrefix("qformer.encoder.layer."),
           name.includes(".intermediate.dense.") || name.includes(".output.dense.") || name.includes(".output.LayerNorm.") {
            return !name.includes("attention.output") && !name.includes("output_query")
        }
        return false
    }
}

extension BLIP2Config {
    /// The tensors a model file of this configuration holds, as the towers declare them.
    var tensorSpecs: [TensorSpec] {
        let listing = WeightBinding.listing()
        do {
            _ = try BLIP2Weights(listing, self)
        } catch {
            preconditionFailure("listing binds nothing and cannot fail: \(error)")
        }
        return listing.specs
    }
}
