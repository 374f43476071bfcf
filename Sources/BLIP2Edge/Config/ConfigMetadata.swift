import BLIP2System

/// The configuration as GGUF metadata: one typed key per field of the table in
/// ConfigFields.swift, below `blip2.`, so a model file needs no JSON beside it. Keys follow
/// llama.cpp's naming where one exists (block_count, head_count, layer_norm_epsilon).
extension BLIP2Config {
    public static let architecture = "blip2"
    /// What reads text (the model's family), kept beside the fields: the fields depend on it.
    static let familyKey = "blip2.text.architecture"

    public var metadata: GGUFMetadata {
        var m = GGUFMetadata()
        m.set(Self.familyKey, .string(family.rawValue))
        for f in fields {
            let key = "blip2." + f.gguf
            switch f.value {
            case let .int(p, _), let .side(p, _): m.set(key, .uint32(UInt32(clamping: self[keyPath: p])))
            case let .id(p): m.set(key, .uint32(UInt32(clamping: self[keyPath: p])))
            case let .ids(p): m.set(key, .uint32s(self[keyPath: p].map { UInt32(clamping: $0) }))
            case let .epsilon(p): m.set(key, .float32(self[keyPath: p]))
            case let .double(p): m.set(key, .float64(self[keyPath: p]))
            case let .bool(p): m.set(key, .bool(self[keyPath: p]))
            case let .rgb(p): m.set(key, .floats(self[keyPath: p]))
            case let .activation(p): m.set(key, .string(self[keyPath: p].rawValue))
            }
        }
        return m
    }

    /// Reads the configuration back from a model file's metadata, requiring every key.
    public init(metadata m: GGUFMetadata, path: String) throws {
        self.init()
        guard m["general.architecture"]?.string == Self.architecture else {
            throw GGUFError.invalid(path: path, reason: "general.architecture is not \"\(Self.architecture)\": not a BLIP-2 model file")
        }
        guard let name = m[Self.familyKey]?.string, let family = ModelFamily(rawValue: name) else {
            let known = ModelFamily.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
            throw GGUFError.invalid(path: path, reason: "\(Self.familyKey) is not \(known)")
        }
        self.family = family
        // The values are read as the JSON ones are, so the two sources cannot drift apart.
        for f in fields {
            let key = "blip2." + f.gguf
            guard let v = m[key] else { throw GGUFError.missingKey(path: path, key: key) }
            try set(f.value, from: JSONValue(v), file: path, path: key)
        }
        try validate(file: path)
    }
}
