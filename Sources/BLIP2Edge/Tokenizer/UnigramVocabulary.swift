import BLIP2System

/// A SentencePiece Unigram vocabulary as transformers' T5Tokenizer (flan-t5) uses it: pieces with
/// their log-probability scores, SentencePiece's normalization rules, and the added tokens
/// (`<pad>` `</s>` `<unk>`, `<extra_id_0>`..`<extra_id_99>` at 32099..32000). A model file stores it
/// under llama.cpp's T5 keys (`tokenizer.ggml.model` "t5").
public struct UnigramVocabulary: Sendable, Equatable {
    public var pieces: [String]
    /// Log-probabilities, as SentencePiece stores them (float32); added tokens have 0.
    public var scores: [Float]
    /// `.control`: a special added token (matched whole in the raw text, dropped by decode when
    /// skipping special tokens); `.userDefined`: a non-special added token (matched whole in the
    /// normalized text); `.unknown`: the unknown piece when it is not an added token; else `.normal`.
    public var types: [TokenizerVocabulary.TokenType]
    public var unknownTokenId: Int
    public var eosTokenId: Int
    public var paddingTokenId: Int
    /// The Precompiled normalizer's blob (SentencePiece's `precompiled_charsmap`); empty for none.
    public var precompiledCharsMap: [UInt8]
    /// transformers' decode clean-up (" ." -> "." ...), from tokenizer_config.json; v5's default is off.
    public var cleanUpTokenizationSpaces = false

    public init(pieces: [String], scores: [Float], types: [TokenizerVocabulary.TokenType], unknownTokenId: Int,
                eosTokenId: Int, paddingTokenId: Int, precompiledCharsMap: [UInt8], cleanUpTokenizationSpaces: Bool = false) {
        self.pieces = pieces
        self.scores = scores
        self.types = types
        self.unknownTokenId = unknownTokenId
        self.eosTokenId = eosTokenId
        self.paddingTokenId = paddingTokenId
        self.precompiledCharsMap = precompiledCharsMap
        self.cleanUpTokenizationSpaces = cleanUpTokenizationSpaces
    }

    /// The first id whose piece has exactly these bytes (`<extra_id_0>` -> 32099 in flan-t5).
    /// Byte equality, not String's ==, which would equate canonically equivalent texts.
    public func id(of piece: String) -> Int? { pieces.firstIndex { $0.utf8.elementsEqual(piece.utf8) } }

    public var metadata: GGUFMetadata {
        var m = GGUFMetadata()
        m.set("tokenizer.ggml.model", .string("t5"))
        m.set("tokenizer.ggml.tokens", .strings(pieces))
        m.set("tokenizer.ggml.scores", .floats(scores))
        m.set("tokenizer.ggml.token_type", .int32s(types.map(\.rawValue)))
        m.set("tokenizer.ggml.precompiled_charsmap", .array(.uint8, precompiledCharsMap.map { .uint8($0) }))
        m.set("tokenizer.ggml.unknown_token_id", .uint32(UInt32(unknownTokenId)))
        m.set("tokenizer.ggml.eos_token_id", .uint32(UInt32(eosTokenId)))
        m.set("tokenizer.ggml.padding_token_id", .uint32(UInt32(paddingTokenId)))
        m.set("tokenizer.ggml.add_eos_token", .bool(true))
        m.set("tokenizer.ggml.clean_spaces", .bool(cleanUpTokenizationSpaces))
        return m
    }

    /// Reads it back from a model file's metadata, requiring every key.
    public init(metadata m: GGUFMetadata, path: String) throws(ModelFileError) {
        func missing(_ k: String) -> ModelFileError { .missingTokenizer(path: path, reason: "\(k) is missing or has the wrong type") }
        guard m["tokenizer.ggml.model"]?.string == "t5" else {
            throw .missingTokenizer(path: path, reason: "tokenizer.ggml.model is not \"t5\" (SentencePiece Unigram)")
        }
        guard let pieces = m["tokenizer.ggml.tokens"]?.array?.compactMap(\.string), !pieces.isEmpty else { throw missing("tokenizer.ggml.tokens") }
        guard case let .array(.float32, rawScores)? = m["tokenizer.ggml.scores"], rawScores.count == pieces.count else {
            throw missing("tokenizer.ggml.scores")
        }
        let scores = rawScores.compactMap { v -> Float? in if case let .float32(f) = v { f } else { nil } }
        // -infinity marks tokens added after the model's pieces (see init(directory:)).
        guard scores.count == pieces.count, scores.allSatisfy({ $0.isFinite || $0 == -.infinity }) else { throw missing("tokenizer.ggml.scores") }
        guard let types = m["tokenizer.ggml.token_type"]?.array?.compactMap({
            $0.integer.flatMap { TokenizerVocabulary.TokenType(rawValue: Int32(truncatingIfNeeded: $0)) }
        }), types.count == pieces.count else { throw missing("tokenizer.ggml.token_type") }
        guard case let .array(.uint8, rawMap)? = m["tokenizer.ggml.precompiled_charsmap"] else {
            throw missing("tokenizer.ggml.precompiled_charsmap")
        }
        let charsMap = rawMap.compactMap { v -> UInt8? in if case let .uint8(b) = v { b } else { nil } }
        func id(_ k: String) throws(ModelFileError) -> Int {
            guard let v = m[k]?.integer, v >= 0, v < pieces.count else { throw missing(k) }
            return v
        }
        func flag(_ k: String) throws(ModelFileError) -> Bool {
            guard let v = m[k]?.bool else { throw missing(k) }
            return v
        }
        guard try flag("tokenizer.ggml.add_eos_token") else {
            throw .missingTokenizer(path: path, reason: "tokenizer.ggml.add_eos_token is false; T5's tokenizer always appends </s>")
        }
        self.init(pieces: pieces, scores: scores, types: types, unknownTokenId: try id("tokenizer.ggml.unknown_token_id"),
                  eosTokenId: try id("tokenizer.ggml.eos_token_id"), paddingTokenId: try id("tokenizer.ggml.padding_token_id"),
                  precompiledCharsMap: charsMap, cleanUpTokenizationSpaces: try flag("tokenizer.ggml.clean_spaces"))
        if !charsMap.isEmpty {
            do { _ = try PrecompiledCharsMap(charsMap) } catch {
                throw .missingTokenizer(path: path, reason: "tokenizer.ggml.precompiled_charsmap: \(error.description)")
            }
        }
    }
}

/// Reading HuggingFace's `tokenizer.json` with a Unigram model, as transformers 5's T5Tokenizer
/// does: it keeps only the pieces and scores, the Precompiled charsmap and the added tokens, and
/// builds the rest of the pipeline itself (WhitespaceSplit + Metaspace, `</s>` appended), so the
/// file's pre-tokenizer, decoder and post-processor are not read. Special tokens by role come from
/// `tokenizer_config.json` (T5's defaults `</s>`, `<unk>`, `<pad>` otherwise).
extension UnigramVocabulary {
    public init(directory: String) throws {
        func path(_ name: String) -> String { FilePaths.join(directory, name) }
        func exists(_ name: String) -> Bool { FilePaths.exists(path(name)) }
        func json(_ name: String) throws -> JSONValue {
            // The reason alone: TokenizerFileError names the file.
            do { return try JSONValue.object(try SmallFile.read(path(name)), file: path(name)) } catch let ConfigError.invalid(_, reason) {
                throw TokenizerFileError.invalid(file: path(name), reason: reason)
            }
        }
        func invalid(_ reason: String) -> TokenizerFileError { .invalid(file: path("tokenizer.json"), reason: reason) }

        guard exists("tokenizer.json") else {
            throw TokenizerFileError.invalid(file: directory, reason: "no T5 tokenizer found: need tokenizer.json (a Unigram model)")
        }
        let fast = try json("tokenizer.json")
        guard fast["model.type"]?.string == "Unigram", case let .array(vocab)? = fast["model.vocab"], !vocab.isEmpty else {
            throw invalid("not a Unigram tokenizer (model.type \(fast["model.type"]?.literal ?? "missing"))")
        }
        if fast["model.byte_fallback"]?.bool == true { throw invalid("byte_fallback is not supported (T5's is off)") }
        var pieces: [String] = [], scores: [Float] = []
        pieces.reserveCapacity(vocab.count)
        scores.reserveCapacity(vocab.count)
        for (i, entry) in vocab.enumerated() {
            // Scores are SentencePiece's float32 values written as doubles: converting back is exact.
            guard case let .array(pair) = entry, pair.count == 2, let piece = pair[0].string, let score = pair[1].number,
                  Float(score).isFinite else {
                throw invalid("model.vocab[\(i)] is not a [piece, score] pair")
            }
            pieces.append(piece)
            scores.append(Float(score))
        }
        var types = [TokenizerVocabulary.TokenType](repeating: .normal, count: pieces.count)
        let modelPieces = pieces.count
        for added in (fast["added_tokens"]?.list ?? []).sorted(by: { ($0["id"]?.int ?? -1) < ($1["id"]?.int ?? -1) }) {
            guard let id = added["id"]?.int, let content = added["content"]?.string else { throw invalid("an added token lacks id or content") }
            if id == pieces.count, id >= modelPieces, !pieces.contains(where: { $0.utf8.elementsEqual(content.utf8) }) {
                // A token added after the model's pieces (BLIP-2's `<image>`): matched in the text,
                // never a node of the segmentation, which a score of -infinity ensures.
                pieces.append(content)
                scores.append(-.infinity)
                types.append(.normal)
            }
            // Compared as bytes: String's == is canonical equivalence, Rust's is not.
            guard id >= 0, id < pieces.count, pieces[id].utf8.elementsEqual(content.utf8) else {
                throw invalid("added token \(content) (id \(id)) is not the Unigram piece with that id, nor the next id after them")
            }
            let special = added["special"]?.bool ?? false
            // AddedToken's defaults (normalized = !special, no stripping) are what the tokenizer
            // implements; anything else would silently match differently.
            let normalized = added["normalized"]?.bool ?? !special
            let flags = ["single_word", "lstrip", "rstrip"].filter { added[$0]?.bool ?? false }
            guard normalized == !special, flags.isEmpty else {
                throw invalid("added token \(content) has settings this tokenizer does not implement (normalized \(normalized), \(flags))")
            }
            types[id] = special ? .control : .userDefined
        }
        var charsMap: [UInt8] = []
        for n in fast["normalizer"].map({ $0["type"]?.string == "Sequence" ? ($0["normalizers"]?.list ?? []) : [$0] }) ?? [] {
            guard n["type"]?.string == "Precompiled", let encoded = n["precompiled_charsmap"]?.string else { continue }
            guard let blob = Base64.decode(encoded.utf8) else { throw invalid("precompiled_charsmap is not base64") }
            charsMap = blob
            do { _ = try PrecompiledCharsMap(charsMap) } catch { throw invalid(error.description) }
            break
        }

        let config = exists("tokenizer_config.json") ? try json("tokenizer_config.json") : nil
        func role(_ name: String, _ fallback: String) throws -> Int {
            let token = config?[name]?.string ?? config?["\(name).content"]?.string ?? fallback
            guard let id = pieces.firstIndex(where: { $0.utf8.elementsEqual(token.utf8) }) else {
                throw TokenizerFileError.invalid(file: directory, reason: "\(name) \(token) is not in the vocabulary")
            }
            return id
        }
        let unk = fast["model.unk_id"]?.int ?? 2
        guard unk >= 0, unk < pieces.count else { throw invalid("model.unk_id \(unk) is outside the vocabulary") }
        if types[unk] == .normal { types[unk] = .unknown }
        self.init(pieces: pieces, scores: scores, types: types, unknownTokenId: unk, eosTokenId: try role("eos_token", "</s>"),
                  paddingTokenId: try role("pad_token", "<pad>"), precompiledCharsMap: charsMap,
                  cleanUpTokenizationSpaces: config?["clean_up_tokenization_spaces"]?.bool ?? false)
    }
}
