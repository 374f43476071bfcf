import BLIP2System

/// BERT's WordPiece vocabulary and normalizer settings, as a retrieval model file stores them
/// (`tokenizer.ggml.model` "bert", llama.cpp's key names where it has them).
public struct WordPieceVocabulary: Sendable, Equatable {
    public var tokens: [String]
    /// Ids matched whole in the raw text before anything else ([CLS], [DEC], ...).
    public var specialIds: [Int]
    public var unknownTokenId: Int
    public var clsTokenId: Int
    public var sepTokenId: Int
    public var paddingTokenId: Int
    public var lowerCase = true
    /// Accents are stripped when lower-casing unless the tokenizer says otherwise.
    public var stripAccents = true
    public var splitChineseCharacters = true
    /// Longer words become [UNK] whole.
    public var maxCharactersPerWord = 100
    /// The processor's limit on tokens, [CLS] and [SEP] included.
    public var maxLength = 512

    public var metadata: GGUFMetadata {
        var m = GGUFMetadata()
        let special = Set(specialIds)
        m.set("tokenizer.ggml.model", .string("bert"))
        m.set("tokenizer.ggml.tokens", .strings(tokens))
        m.set("tokenizer.ggml.token_type", .int32s(tokens.indices.map {
            special.contains($0) ? TokenizerVocabulary.TokenType.control.rawValue : TokenizerVocabulary.TokenType.normal.rawValue
        }))
        m.set("tokenizer.ggml.unknown_token_id", .uint32(UInt32(unknownTokenId)))
        m.set("tokenizer.ggml.cls_token_id", .uint32(UInt32(clsTokenId)))
        m.set("tokenizer.ggml.seperator_token_id", .uint32(UInt32(sepTokenId)))
        m.set("tokenizer.ggml.padding_token_id", .uint32(UInt32(paddingTokenId)))
        m.set("tokenizer.bert.lower_case", .bool(lowerCase))
        m.set("tokenizer.bert.strip_accents", .bool(stripAccents))
        m.set("tokenizer.bert.split_chinese_characters", .bool(splitChineseCharacters))
        m.set("tokenizer.bert.max_characters_per_word", .uint32(UInt32(maxCharactersPerWord)))
        m.set("tokenizer.bert.max_length", .uint32(UInt32(maxLength)))
        return m
    }

    /// Reads it back from a model file's metadata, requiring every key.
    public init(metadata m: GGUFMetadata, path: String) throws(ModelFileError) {
        func missing(_ k: String) -> ModelFileError { .missingTokenizer(path: path, reason: "\(k) is missing or has the wrong type") }
        guard m["tokenizer.ggml.model"]?.string == "bert" else {
            throw .missingTokenizer(path: path, reason: "tokenizer.ggml.model is not \"bert\" (WordPiece)")
        }
        guard let tokens = m["tokenizer.ggml.tokens"]?.array?.compactMap(\.string), !tokens.isEmpty else { throw missing("tokenizer.ggml.tokens") }
        guard let types = m["tokenizer.ggml.token_type"]?.array?.compactMap(\.integer), types.count == tokens.count else {
            throw missing("tokenizer.ggml.token_type")
        }
        func id(_ k: String) throws(ModelFileError) -> Int {
            guard let v = m[k]?.integer, v >= 0, v < tokens.count else { throw missing(k) }
            return v
        }
        func flag(_ k: String) throws(ModelFileError) -> Bool {
            guard let v = m[k]?.bool else { throw missing(k) }
            return v
        }
        func count(_ k: String) throws(ModelFileError) -> Int {
            guard let v = m[k]?.integer, v >= 1, v <= 1 << 20 else { throw missing(k) }
            return v
        }
        self.tokens = tokens
        specialIds = types.indices.filter { types[$0] == Int(TokenizerVocabulary.TokenType.control.rawValue) }
        unknownTokenId = try id("tokenizer.ggml.unknown_token_id")
        clsTokenId = try id("tokenizer.ggml.cls_token_id")
        sepTokenId = try id("tokenizer.ggml.seperator_token_id")
        paddingTokenId = try id("tokenizer.ggml.padding_token_id")
        lowerCase = try flag("tokenizer.bert.lower_case")
        stripAccents = try flag("tokenizer.bert.strip_accents")
        splitChineseCharacters = try flag("tokenizer.bert.split_chinese_characters")
        maxCharactersPerWord = try count("tokenizer.bert.max_characters_per_word")
        maxLength = try count("tokenizer.bert.max_length")
    }
}

/// Reading HuggingFace's BERT tokenizer files: `tokenizer.json` (a WordPiece model with a
/// BertNormalizer), else `vocab.txt`; settings and special tokens from `tokenizer_config.json`.
/// Special tokens the vocabulary lacks (`[DEC]`, BLIP-2's BOS) get the next ids, as
/// transformers adds them.
extension WordPieceVocabulary {
    public init(directory: String) throws {
        func path(_ name: String) -> String { FilePaths.join(directory, name) }
        func exists(_ name: String) -> Bool { FilePaths.exists(path(name)) }
        func json(_ name: String) throws -> JSONValue {
            // The reason alone: TokenizerFileError names the file.
            do { return try JSONValue.object(try SmallFile.read(path(name)), file: path(name)) } catch let ConfigError.invalid(_, reason) {
                throw TokenizerFileError.invalid(file: path(name), reason: reason)
            }
        }
        func invalid(_ file: String, _ reason: String) -> TokenizerFileError { .invalid(file: path(file), reason: reason) }

        var byId: [Int: String] = [:]
        var special: [String] = []
        let config = exists("tokenizer_config.json") ? try json("tokenizer_config.json") : nil
        if exists("tokenizer.json") {
            let fast = try json("tokenizer.json")
            guard fast["model.type"]?.string == "WordPiece", case let .object(vocab)? = fast["model.vocab"] else {
                throw invalid("tokenizer.json", "not a WordPiece tokenizer (model.type \(fast["model.type"]?.literal ?? "missing"))")
            }
            for (token, id) in vocab {
                guard let id = id.int else { throw invalid("tokenizer.json", "the id of \(token) is not an integer") }
                byId[id] = token
            }
            for added in fast["added_tokens"]?.list ?? [] {
                guard let id = added["id"]?.int, let content = added["content"]?.string else { continue }
                byId[id] = content
                if added["special"]?.bool ?? false { special.append(content) }
            }
            if let n = fast["normalizer"] {
                guard n["type"]?.string == "BertNormalizer" else {
                    throw invalid("tokenizer.json", "normalizer \(n["type"]?.literal ?? "null") is not BertNormalizer")
                }
                lowerCase = n["lowercase"]?.bool ?? true
                stripAccents = n["strip_accents"]?.bool ?? lowerCase
                splitChineseCharacters = n["handle_chinese_chars"]?.bool ?? true
            }
            if let prefix = fast["model.continuing_subword_prefix"]?.string, prefix != "##" {
                throw invalid("tokenizer.json", "continuing_subword_prefix \(prefix) is not ##")
            }
            maxCharactersPerWord = fast["model.max_input_chars_per_word"]?.int ?? 100
        } else if exists("vocab.txt") {
            guard let text = String(validating: try SmallFile.read(path("vocab.txt")), as: UTF8.self) else {
                throw invalid("vocab.txt", "not UTF-8 text")
            }
            var lines = text.textLines()
            if lines.last == "" { lines.removeLast() }
            for (id, token) in lines.enumerated() { byId[id] = token }
            lowerCase = config?["do_lower_case"]?.bool ?? true
            stripAccents = config?["strip_accents"]?.bool ?? lowerCase
            splitChineseCharacters = config?["tokenize_chinese_chars"]?.bool ?? true
        } else {
            throw TokenizerFileError.invalid(file: directory, reason: "no BERT tokenizer found: need tokenizer.json or vocab.txt")
        }
        if case let .object(decoder)? = config?["added_tokens_decoder"] {
            for (key, entry) in decoder {
                guard let id = Int(key), let content = entry["content"]?.string else { continue }
                byId[id] = content
                if entry["special"]?.bool ?? false { special.append(content) }
            }
        }
        var index: [String: Int] = [:]
        for (id, token) in byId.sorted(by: { $0.key < $1.key }) where index[token] == nil { index[token] = id }
        // The processor's special tokens, by role; those the vocabulary lacks come next.
        var roles: [String: String] = ["unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                                       "mask_token": "[MASK]"]
        for role in ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"] {
            if let name = config?[role]?.string ?? config?["\(role).content"]?.string { roles[role] = name }
            guard let name = roles[role] else { continue }
            special.append(name)
            if index[name] == nil {
                let id = (byId.keys.max() ?? -1) + 1
                byId[id] = name
                index[name] = id
            }
        }
        guard let maxId = byId.keys.max(), byId.keys.min() == 0, maxId == byId.count - 1 else {
            throw TokenizerFileError.invalid(file: directory, reason: "token ids are not 0..<\(byId.count) without gaps")
        }
        tokens = (0...maxId).map { byId[$0] ?? "" }
        specialIds = Set(special.compactMap { index[$0] }).sorted()
        func required(_ role: String) throws -> Int {
            guard let name = roles[role], let id = index[name] else {
                throw TokenizerFileError.invalid(file: directory, reason: "the tokenizer has no \(role)")
            }
            return id
        }
        unknownTokenId = try required("unk_token")
        clsTokenId = try required("cls_token")
        sepTokenId = try required("sep_token")
        paddingTokenId = try required("pad_token")
        if let n = config?["model_max_length"]?.int, n >= 2, n <= 1 << 20 { maxLength = n }
    }
}
