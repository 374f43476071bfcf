/// Encodable values as JSON text: what JSONEncoder did for our reply and report types, in
/// the standard library's terms. Keys come out in the order they are encoded (a struct's
/// declaration order) or sorted; nil optionals are left out; a non-finite float is an error.
public enum JSONEncoding {
    public static func text<T: Encodable>(_ value: T, sortedKeys: Bool = false) throws -> String {
        let root = Node()
        try root.store(value, codingPath: [])
        var out = ""
        try root.write(into: &out, sortedKeys: sortedKeys)
        return out
    }
}

/// One value being encoded; containers fill it in place, so it is a reference.
private final class Node {
    enum Content { case empty, scalar(String), array([Node]), object([(String, Node)]) }
    var content = Content.empty

    func store<T: Encodable>(_ value: T, codingPath: [CodingKey]) throws {
        switch value {
        case let s as String:
            var out = ""
            JSONWriter.quote(s, into: &out)
            content = .scalar(out)
        case let b as Bool: content = .scalar(b ? "true" : "false")
        case let i as any BinaryInteger: content = .scalar("\(i)")
        case let f as Float: content = .scalar(try finite(JSONWriter.number(f), value, codingPath))
        case let d as Double: content = .scalar(try finite(JSONWriter.number(d), value, codingPath))
        default: try value.encode(to: NodeEncoder(node: self, codingPath: codingPath))
        }
    }

    private func finite(_ text: String?, _ value: Any, _ codingPath: [CodingKey]) throws -> String {
        guard let text else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "\(value) is not a JSON number"))
        }
        return text
    }

    func child(for key: String) -> Node {
        let n = Node()
        if case var .object(pairs) = content {
            pairs.removeAll { $0.0 == key }
            pairs.append((key, n))
            content = .object(pairs)
        } else {
            content = .object([(key, n)])
        }
        return n
    }

    func appendChild() -> Node {
        let n = Node()
        if case var .array(items) = content {
            content = .empty // keeps `items` uniquely referenced while it grows
            items.append(n)
            content = .array(items)
        } else {
            content = .array([n])
        }
        return n
    }

    func write(into out: inout String, sortedKeys: Bool) throws {
        switch content {
        case .empty: out.append("{}")
        case let .scalar(s): out.append(s)
        case let .array(items):
            out.append("[")
            for (k, n) in items.enumerated() {
                if k > 0 { out.append(",") }
                try n.write(into: &out, sortedKeys: sortedKeys)
            }
            out.append("]")
        case let .object(pairs):
            out.append("{")
            for (k, (key, n)) in (sortedKeys ? pairs.sorted { $0.0 < $1.0 } : pairs).enumerated() {
                if k > 0 { out.append(",") }
                JSONWriter.quote(key, into: &out)
                out.append(":")
                try n.write(into: &out, sortedKeys: sortedKeys)
            }
            out.append("}")
        }
    }
}

private struct NodeEncoder: Encoder {
    let node: Node
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy _: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object = node.content {} else { node.content = .object([]) }
        return KeyedEncodingContainer(Keyed<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        if case .array = node.content {} else { node.content = .array([]) }
        return Unkeyed(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> SingleValueEncodingContainer { Single(node: node, codingPath: codingPath) }
}

private struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: Node
    let codingPath: [CodingKey]

    mutating func encodeNil(forKey key: Key) throws { node.child(for: key.stringValue).content = .scalar("null") }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try node.child(for: key.stringValue).store(value, codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy _: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let child = node.child(for: key.stringValue)
        child.content = .object([])
        return KeyedEncodingContainer(Keyed<NestedKey>(node: child, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        let child = node.child(for: key.stringValue)
        child.content = .array([])
        return Unkeyed(node: child, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> Encoder { NodeEncoder(node: node.child(for: "super"), codingPath: codingPath) }

    mutating func superEncoder(forKey key: Key) -> Encoder {
        NodeEncoder(node: node.child(for: key.stringValue), codingPath: codingPath + [key])
    }
}

private struct Unkeyed: UnkeyedEncodingContainer {
    let node: Node
    let codingPath: [CodingKey]
    var count: Int { if case let .array(items) = node.content { items.count } else { 0 } }

    mutating func encodeNil() throws { node.appendChild().content = .scalar("null") }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try node.appendChild().store(value, codingPath: codingPath)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy _: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let child = node.appendChild()
        child.content = .object([])
        return KeyedEncodingContainer(Keyed<NestedKey>(node: child, codingPath: codingPath))
    }

    mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
        let child = node.appendChild()
        child.content = .array([])
        return Unkeyed(node: child, codingPath: codingPath)
    }

    mutating func superEncoder() -> Encoder { NodeEncoder(node: node.appendChild(), codingPath: codingPath) }
}

private struct Single: SingleValueEncodingContainer {
    let node: Node
    let codingPath: [CodingKey]

    mutating func encodeNil() throws { node.content = .scalar("null") }
    mutating func encode<T: Encodable>(_ value: T) throws { try node.store(value, codingPath: codingPath) }
}
