import BLIP2System

/// A byte-level BPE vocabulary as GGUF stores it (`tokenizer.ggml.*`): tokens by id, their
/// kinds, the merges in rank order, and the special ids.
public struct TokenizerVocabulary: Sendable, Equatable {
    /// llama.cpp's token kinds, as stored in `tokenizer.ggml.token_type`.
    public enum TokenType: Int32, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    public var tokens: [String]
    public var types: [TokenType]
    /// "left right" pairs, highest priority first.
    public var merges: [String]
    public var bosTokenId: Int
    public var eosTokenId: Int
    public var unknownTokenId: Int
    public var paddingTokenId: Int
    public var addBOS: Bool

    public func id(of token: String) -> Int? { tokens.firstIndex(of: token) }

    public var metadata: GGUFMetadata {
        var m = GGUFMetadata()
        m.set("tokenizer.ggml.model", .string("gpt2"))
        m.set("tokenizer.ggml.tokens", .strings(tokens))
        m.set("tokenizer.ggml.token_type", .int32s(types.map(\.rawValue)))
        m.set("tokenizer.ggml.merges", .strings(merges))
        m.set("tokenizer.ggml.bos_token_id", .uint32(UInt32(bosTokenId)))
        m.set("tokenizer.ggml.eos_token_id", .uint32(UInt32(eosTokenId)))
        m.set("tokenizer.ggml.unknown_token_id", .uint32(UInt32(unknownTokenId)))
        m.set("tokenizer.ggml.padding_token_id", .uint32(UInt32(paddingTokenId)))
        m.set("tokenizer.ggml.add_bos_token", .bool(addBOS))
        m.set("tokenizer.ggml.add_eos_token", .bool(false))
        return m
    }
}

public enum TokenizerFileError: Error, Equatable, CustomStringConvertible {
    case missing(directory: String)
    case invalid(file: String, reason: String)

    public var description: String {
        switch self {
        case let .missing(directory):
            "\(directory): no tokenizer found: need tokenizer.json, or vocab.json and merges.txt"
        case let .invalid(file, reason):
            "\(file): \(reason)"
        }
    }
}

/// Reading HuggingFace's tokenizer files: `tokenizer.json` (the fast tokenizer, preferred
/// as AutoTokenizer prefers it), else `vocab.json` + `merges.txt` + `added_tokens.json`,
/// with special tokens from `tokenizer_config.json` / `special_tokens_map.json`.
extension TokenizerVocabulary {
    public init(directory: String) throws {
        func path(_ name: String) -> String { FilePaths.join(directory, name) }
        func exists(_ name: String) -> Bool { FilePaths.exists(path(name)) }
        func read(_ name: String) throws -> [UInt8] { try SmallFile.read(path(name)) }
        func json<T>(_ name: String, as decode: (JSONValue) throws(WrongField) -> T) throws -> T {
            let value: JSONValue
            do { value = try JSONValue.parse(try read(name)) } catch let e as FileError { throw e } catch {
                throw TokenizerFileError.invalid(file: path(name), reason: "not valid JSON (\(error))")
            }
            do { return try decode(value) } catch {
                throw TokenizerFileError.invalid(file: path(name), reason: "\(error.name) is not what this file should hold there")
            }
        }
        func vocabulary(_ v: JSONValue) throws(WrongField) -> [String: Int] {
            guard let vocab = v.vocabulary else { throw WrongField(name: "the top level") }
            return vocab
        }

        var vocab: [String: Int]
        var merges: [String]
        var added: [(token: String, id: Int, special: Bool?)] = []
        if exists("tokenizer.json") {
            let fast = try json("tokenizer.json", as: FastTokenizerFile.init)
            guard fast.modelType == nil || fast.modelType == "BPE" else {
                throw TokenizerFileError.invalid(file: path("tokenizer.json"), reason: "model type \(fast.modelType ?? "") is not BPE")
            }
            vocab = fast.vocab
            merges = fast.merges
            added = fast.added
        } else if exists("vocab.json") && exists("merges.txt") {
            vocab = try json("vocab.json", as: vocabulary)
            guard let text = String(validating: try read("merges.txt"), as: UTF8.self) else {
                throw TokenizerFileError.invalid(file: path("merges.txt"), reason: "not UTF-8 text")
            }
            merges = []
            for (n, l) in text.textLines().enumerated() {
                if l.isEmpty || (n == 0 && l.hasPrefix("#version")) { continue }
                guard l.split(separator: " ", omittingEmptySubsequences: false).count == 2 else {
                    throw TokenizerFileError.invalid(file: path("merges.txt"), reason: "line \(n + 1) is not two tokens separated by a space")
                }
                merges.append(String(l))
            }
            if exists("added_tokens.json") {
                added = try json("added_tokens.json", as: vocabulary).map { ($0.key, $0.value, nil) }
            }
        } else {
            throw TokenizerFileError.missing(directory: directory)
        }

        let config = exists("tokenizer_config.json") ? try json("tokenizer_config.json", as: TokenizerConfigFile.init) : nil
        let specialMap = exists("special_tokens_map.json") ? try json("special_tokens_map.json", as: SpecialTokens.init) : nil
        for entry in config?.addedTokensDecoder ?? [] {
            guard let id = Int(entry.id) else { continue }
            added.append((entry.content, id, entry.special))
        }

        // Ids must be dense: every id below the count names exactly one token.
        var byId: [Int: String] = [:]
        var special = Set<Int>()
        var userDefined = Set<Int>()
        for (token, id) in vocab { byId[id] = token }
        for a in added {
            if let existing = byId[a.id], existing != a.token {
                throw TokenizerFileError.invalid(file: directory, reason: "id \(a.id) is both \(existing) and \(a.token)")
            }
            byId[a.id] = a.token
            if a.special ?? false { special.insert(a.id) } else if vocab[a.token] == nil { userDefined.insert(a.id) }
        }
        guard !byId.isEmpty, let maxId = byId.keys.max(), byId.keys.min() == 0, maxId == byId.count - 1 else {
            throw TokenizerFileError.invalid(file: directory, reason: "token ids are not 0..<\(byId.count) without gaps")
        }
        let tokens = (0...maxId).map { byId[$0] ?? "" }
        var index: [String: Int] = [:]
        for (i, t) in tokens.enumerated() where index[t] == nil { index[t] = i }

        func specialId(_ configured: String?, _ mapped: String?, default name: String) throws -> Int {
            let name = configured ?? mapped ?? name
            guard let id = index[name] else {
                throw TokenizerFileError.invalid(file: directory, reason: "special token \(name) is not in the vocabulary")
            }
            special.insert(id)
            return id
        }
        // OPT's defaults: <s>/</s> conventions as GPT2Tokenizer saves them for facebook/opt-*.
        let bos = try specialId(config?.special.bos, specialMap?.bos, default: "</s>")
        let eos = try specialId(config?.special.eos, specialMap?.eos, default: "</s>")
        let unk = try specialId(config?.special.unk, specialMap?.unk, default: "</s>")
        let pad = try specialId(config?.special.pad, specialMap?.pad, default: "<pad>")
        if let s = index["<s>"] { special.insert(s) }

        self.tokens = tokens
        self.types = tokens.indices.map { id in
            special.contains(id) ? .control : userDefined.contains(id) ? .userDefined : .normal
        }
        self.merges = merges
        self.bosTokenId = bos
        self.eosTokenId = eos
        self.unknownTokenId = unk
        self.paddingTokenId = pad
        self.addBOS = config?.addBOS ?? true
    }
}

// MARK: - HuggingFace's JSON, field names as written

/// A field of one of the tokenizer's JSON files that is not what the file should hold.
private struct WrongField: Error { let name: String }

private extension JSONValue {
    /// `self[name]` read by `read`; nil when absent or null, an error when of another kind.
    func field<T>(_ name: String, _ read: (JSONValue) -> T?) throws(WrongField) -> T? {
        guard let v = object?[name], v != .null else { return nil }
        guard let x = read(v) else { throw WrongField(name: name) }
        return x
    }

    func required<T>(_ name: String, _ read: (JSONValue) -> T?) throws(WrongField) -> T {
        guard let x = try field(name, read) else { throw WrongField(name: name) }
        return x
    }

    /// A vocabulary: token text to id.
    var vocabulary: [String: Int]? {
        guard let o = object else { return nil }
        var out: [String: Int] = [:]
        out.reserveCapacity(o.count)
        for (k, v) in o {
            guard let id = v.int else { return nil }
            out[k] = id
        }
        return out
    }

    /// `tokenizers` writes merges as "a b" strings (older) or ["a", "b"] pairs (newer).
    var merge: String? {
        if let s = string { return s }
        guard let pair = stringArray, pair.count == 2 else { return nil }
        return pair[0] + " " + pair[1]
    }

    /// A special token is written either as its text or as an AddedToken object.
    var specialToken: String? { string ?? object?["content"]?.string }
}

private struct FastTokenizerFile {
    var modelType: String?
    var vocab: [String: Int]
    var merges: [String]
    var added: [(token: String, id: Int, special: Bool?)]

    init(_ json: JSONValue) throws(WrongField) {
        let model = try json.required("model") { $0.object != nil ? $0 : nil }
        modelType = try model.field("type", \.string)
        vocab = try model.required("vocab", \.vocabulary)
        merges = try model.required("merges") { m in m.array.flatMap { a in
            var out: [String] = []
            out.reserveCapacity(a.count)
            for x in a { guard let s = x.merge else { return nil }; out.append(s) }
            return out
        } }
        added = []
        for entry in try json.field("added_tokens", \.array) ?? [] {
            added.append((try entry.required("content", \.string), try entry.required("id", \.int), try entry.field("special", \.bool)))
        }
    }
}

private struct SpecialTokens {
    var bos, eos, unk, pad: String?

    init(_ json: JSONValue) throws(WrongField) {
        bos = try json.field("bos_token", \.specialToken)
        eos = try json.field("eos_token", \.specialToken)
        unk = try json.field("unk_token", \.specialToken)
        pad = try json.field("pad_token", \.specialToken)
    }
}

private struct TokenizerConfigFile {
    var addBOS: Bool?
    var special: SpecialTokens
    var addedTokensDecoder: [(id: String, content: String, special: Bool?)] = []

    init(_ json: JSONValue) throws(WrongField) {
        addBOS = try json.field("add_bos_token", \.bool)
        special = try SpecialTokens(json)
        for (id, entry) in try json.field("added_tokens_decoder", \.object) ?? [:] {
            addedTokensDecoder.append((id, try entry.required("content", \.string), try entry.field("special", \.bool)))
        }
    }
}

/// Reading the vocabulary back from a model file's `tokenizer.ggml.*` keys.
extension TokenizerVocabulary {
    public init(metadata m: GGUFMetadata, path: String) throws {
        func missing(_ k: String) -> ModelFileError { .missingTokenizer(path: path, reason: "\(k) is missing or has the wrong type") }
        guard m["tokenizer.ggml.model"]?.string == "gpt2" else {
            throw ModelFileError.missingTokenizer(path: path, reason: "tokenizer.ggml.model is not \"gpt2\" (byte-level BPE)")
        }
        guard let tokens = m["tokenizer.ggml.tokens"]?.array?.compactMap(\.string), !tokens.isEmpty else { throw missing("tokenizer.ggml.tokens") }
        guard let types = m["tokenizer.ggml.token_type"]?.array?.compactMap({ $0.integer.flatMap { TokenType(rawValue: Int32(truncatingIfNeeded: $0)) } }),
              types.count == tokens.count else { throw missing("tokenizer.ggml.token_type") }
        guard let merges = m["tokenizer.ggml.merges"]?.array?.compactMap(\.string) else { throw missing("tokenizer.ggml.merges") }
        func id(_ k: String) throws -> Int {
            guard let v = m[k]?.integer, v >= 0, v < tokens.count else { throw missing(k) }
            return v
        }
        self.tokens = tokens
        self.types = types
        self.merges = merges
        bosTokenId = try id("tokenizer.ggml.bos_token_id")
        eosTokenId = try id("tokenizer.ggml.eos_token_id")
        unknownTokenId = try id("tokenizer.ggml.unknown_token_id")
        paddingTokenId = try id("tokenizer.ggml.padding_token_id")
        addBOS = m["tokenizer.ggml.add_bos_token"]?.bool ?? true
    }
}
