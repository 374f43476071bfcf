import Foundation

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
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }
        func read(_ name: String) throws -> Data { try SmallFile.read(path(name)) }
        func json<T: Decodable>(_ name: String, as _: T.Type) throws -> T {
            do { return try JSONDecoder().decode(T.self, from: try read(name)) } catch let e as FileError { throw e } catch {
                throw TokenizerFileError.invalid(file: path(name), reason: "not the JSON this file should hold")
            }
        }

        var vocab: [String: Int]
        var merges: [String]
        var added: [(token: String, id: Int, special: Bool?)] = []
        if exists("tokenizer.json") {
            let fast = try json("tokenizer.json", as: FastTokenizerFile.self)
            guard fast.model.type == nil || fast.model.type == "BPE" else {
                throw TokenizerFileError.invalid(file: path("tokenizer.json"), reason: "model type \(fast.model.type ?? "") is not BPE")
            }
            vocab = fast.model.vocab
            merges = fast.model.merges.map(\.joined)
            added = (fast.added_tokens ?? []).map { ($0.content, $0.id, $0.special) }
        } else if exists("vocab.json") && exists("merges.txt") {
            vocab = try json("vocab.json", as: [String: Int].self)
            guard let text = String(data: try read("merges.txt"), encoding: .utf8) else {
                throw TokenizerFileError.invalid(file: path("merges.txt"), reason: "not UTF-8 text")
            }
            merges = []
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let l = line.hasSuffix("\r") ? line.dropLast() : line
                if l.isEmpty || (n == 0 && l.hasPrefix("#version")) { continue }
                guard l.split(separator: " ", omittingEmptySubsequences: false).count == 2 else {
                    throw TokenizerFileError.invalid(file: path("merges.txt"), reason: "line \(n + 1) is not two tokens separated by a space")
                }
                merges.append(String(l))
            }
            if exists("added_tokens.json") {
                added = try json("added_tokens.json", as: [String: Int].self).map { ($0.key, $0.value, nil) }
            }
        } else {
            throw TokenizerFileError.missing(directory: directory)
        }

        let config = exists("tokenizer_config.json") ? try json("tokenizer_config.json", as: TokenizerConfigFile.self) : nil
        let specialMap = exists("special_tokens_map.json") ? try json("special_tokens_map.json", as: SpecialTokensFile.self) : nil
        for (idString, entry) in config?.added_tokens_decoder ?? [:] {
            guard let id = Int(idString) else { continue }
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

        func specialId(_ configured: SpecialToken?, _ mapped: SpecialToken?, default name: String) throws -> Int {
            let name = configured?.content ?? mapped?.content ?? name
            guard let id = index[name] else {
                throw TokenizerFileError.invalid(file: directory, reason: "special token \(name) is not in the vocabulary")
            }
            special.insert(id)
            return id
        }
        // OPT's defaults: <s>/</s> conventions as GPT2Tokenizer saves them for facebook/opt-*.
        let bos = try specialId(config?.bos_token, specialMap?.bos_token, default: "</s>")
        let eos = try specialId(config?.eos_token, specialMap?.eos_token, default: "</s>")
        let unk = try specialId(config?.unk_token, specialMap?.unk_token, default: "</s>")
        let pad = try specialId(config?.pad_token, specialMap?.pad_token, default: "<pad>")
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
        self.addBOS = config?.add_bos_token ?? true
    }
}

// MARK: - HuggingFace's JSON, field names as written

private struct FastTokenizerFile: Decodable {
    struct Model: Decodable {
        var type: String?
        var vocab: [String: Int]
        var merges: [Merge]
    }
    /// `tokenizers` writes merges as "a b" strings (older) or ["a", "b"] pairs (newer).
    struct Merge: Decodable {
        let joined: String
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) {
                joined = s
            } else {
                let pair = try c.decode([String].self)
                guard pair.count == 2 else {
                    throw DecodingError.dataCorruptedError(in: c, debugDescription: "merge is not a pair")
                }
                joined = pair[0] + " " + pair[1]
            }
        }
    }
    struct Added: Decodable {
        var id: Int
        var content: String
        var special: Bool?
    }
    var model: Model
    var added_tokens: [Added]?
}

/// A special token is written either as its text or as an AddedToken object.
private struct SpecialToken: Decodable {
    let content: String
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            content = s
        } else {
            struct Object: Decodable { var content: String }
            content = try c.decode(Object.self).content
        }
    }
}

private struct TokenizerConfigFile: Decodable {
    struct AddedDecoder: Decodable {
        var content: String
        var special: Bool?
    }
    var add_bos_token: Bool?
    var bos_token, eos_token, unk_token, pad_token: SpecialToken?
    var added_tokens_decoder: [String: AddedDecoder]?
}

private struct SpecialTokensFile: Decodable {
    var bos_token, eos_token, unk_token, pad_token: SpecialToken?
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
