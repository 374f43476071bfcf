/// A tensor a model file holds, as a tower declared it: the checkpoint's name, the file's
/// name, the shape the configuration implies, and what it is (which decides its storage).
struct TensorSpec: Sendable, Equatable {
    /// What a tensor is, which decides how it may be stored.
    enum Role: Sendable, Equatable {
        /// A Linear layer's [out, in] weight: quantizable when `in` divides into blocks.
        case linear
        /// The token embedding (also the tied LM head), or an untied LM head: read for every
        /// generated token, its errors reach every logit.
        case tokenEmbedding
        /// The patch embedding convolution [hidden, 3, p, p].
        case patchEmbedding
        /// LayerNorm weights and biases, biases, position and class embeddings, queries.
        case small
    }

    /// The model part a tensor belongs to; a tower's tensors lie together in the file.
    enum Tower: Sendable, Equatable {
        /// `languageEncoder`: an encoder-decoder's encoder, needed only while a prompt is encoded.
        case vision, qformer, languageEncoder, language
    }

    /// transformers' name, as in the checkpoint.
    let name: String
    /// The name in a model file: GGUF keeps names to 63 bytes and transformers' run to 66,
    /// so each tower's prefix is shortened and the rest kept.
    let fileName: String
    let shape: [Int]
    let role: Role
    let tower: Tower
}
