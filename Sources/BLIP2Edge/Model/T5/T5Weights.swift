/// The FlanT5 language model's weights (checkpoint `language_model.*`, file `t.*`), as
/// transformers' T5ForConditionalGeneration names them. T5's Linears have no bias and its
/// norms no bias either. The encoder's weights come first in the file (their own tower, so
/// that `--low-ram` can release them once the prompt is encoded), then the shared embedding,
/// the decoder and the LM head, which every generated token reads.
enum T5Weights {
    /// SelfAttention or EncDecAttention: q, k, v [inner, d] and o [d, inner].
    struct AttentionWeights {
        let q, k, v, o: Linear

        init(_ w: WeightScope, _ c: T5Config) throws {
            let d = c.hiddenSize, inner = c.innerDim
            q = try w.linear("q", out: inner, in: d, bias: false)
            k = try w.linear("k", out: inner, in: d, bias: false)
            v = try w.linear("v", out: inner, in: d, bias: false)
            o = try w.linear("o", out: d, in: inner, bias: false)
        }
    }

    /// DenseReluDense of a gated feed-forward: wo(act(wi_0 x) * wi_1 x).
    struct FeedForwardWeights {
        let wi0, wi1: Linear    // [d_ff, d]
        let wo: Linear          // [d, d_ff]

        init(_ w: WeightScope, _ c: T5Config) throws {
            wi0 = try w.linear("wi_0", out: c.ffnDim, in: c.hiddenSize, bias: false)
            wi1 = try w.linear("wi_1", out: c.ffnDim, in: c.hiddenSize, bias: false)
            wo = try w.linear("wo", out: c.hiddenSize, in: c.ffnDim, bias: false)
        }
    }

    /// encoder.block.i: layer.0 self-attention, layer.1 feed-forward, each with its norm.
    struct EncoderBlock {
        let attentionNorm: RMSNorm
        let attention: AttentionWeights
        let ffnNorm: RMSNorm
        let ffn: FeedForwardWeights

        init(_ w: WeightScope, _ c: T5Config) throws {
            attention = try AttentionWeights(w.scope("layer.0.SelfAttention"), c)
            attentionNorm = try w.rmsNorm("layer.0.layer_norm", c.hiddenSize, eps: c.layerNormEps)
            ffn = try FeedForwardWeights(w.scope("layer.1.DenseReluDense"), c)
            ffnNorm = try w.rmsNorm("layer.1.layer_norm", c.hiddenSize, eps: c.layerNormEps)
        }
    }

    /// decoder.block.i: layer.0 causal self-attention, layer.1 cross-attention over the
    /// encoder's output, layer.2 feed-forward.
    struct DecoderBlock {
        let attentionNorm: RMSNorm
        let attention: AttentionWeights
        let crossNorm: RMSNorm
        let cross: AttentionWeights
        let ffnNorm: RMSNorm
        let ffn: FeedForwardWeights

        init(_ w: WeightScope, _ c: T5Config) throws {
            attention = try AttentionWeights(w.scope("layer.0.SelfAttention"), c)
            attentionNorm = try w.rmsNorm("layer.0.layer_norm", c.hiddenSize, eps: c.layerNormEps)
            cross = try AttentionWeights(w.scope("layer.1.EncDecAttention"), c)
            crossNorm = try w.rmsNorm("layer.1.layer_norm", c.hiddenSize, eps: c.layerNormEps)
            ffn = try FeedForwardWeights(w.scope("layer.2.DenseReluDense"), c)
            ffnNorm = try w.rmsNorm("layer.2.layer_norm", c.hiddenSize, eps: c.layerNormEps)
        }
    }

    struct Encoder {
        // block.0.layer.0.SelfAttention.relative_attention_bias [buckets, heads] (file: relative_bias,
        // the checkpoint's name being over GGUF's 63 bytes)
        let relativeBias: UnsafePointer<Float>
        let blocks: [EncoderBlock]
        let finalNorm: RMSNorm                  // final_layer_norm [d]

        init(_ w: WeightScope, _ c: T5Config) throws {
            relativeBias = try w.scope("block.0.layer.0.SelfAttention.relative_attention_bias", file: "relative_bias")
                .floats("weight", [c.relativeBuckets, c.headCount])
            blocks = try (0..<c.encoderLayerCount).map { try EncoderBlock(w.scope("block.\($0)"), c) }
            finalNorm = try w.rmsNorm("final_layer_norm", c.hiddenSize, eps: c.layerNormEps)
        }
    }

    struct Decoder {
        let shared: Weight                      // shared [vocab, d]: the token embedding of both stacks
        let relativeBias: UnsafePointer<Float>  // block.0.layer.0.SelfAttention.relative_attention_bias [buckets, heads]
        let blocks: [DecoderBlock]
        let finalNorm: RMSNorm
        let lmHead: Linear                      // lm_head [vocab, d], or the shared embedding

        init(_ language: WeightScope, _ c: T5Config) throws {
            shared = try language.tokenEmbedding("shared.weight", vocab: c.vocabSize, hidden: c.hiddenSize)
            let w = language.scope("decoder")
            relativeBias = try w.scope("block.0.layer.0.SelfAttention.relative_attention_bias", file: "relative_bias")
                .floats("weight", [c.relativeBuckets, c.headCount])
            blocks = try (0..<c.decoderLayerCount).map { try DecoderBlock(w.scope("block.\($0)"), c) }
            finalNorm = try w.rmsNorm("final_layer_norm", c.hiddenSize, eps: c.layerNormEps)
            lmHead = c.separateHead ? try language.outputHead("lm_head", vocab: c.vocabSize, hidden: c.hiddenSize)
                : Linear(weight: shared, bias: nil, name: "LM head (shared)")
        }
    }

    struct Weights {
        let encoder: Encoder
        let decoder: Decoder

        init(encoder: WeightScope, decoder: WeightScope, _ c: T5Config) throws {
            self.encoder = try Encoder(encoder, c)
            self.decoder = try Decoder(decoder, c)
        }
    }
}
