/// A tensor to be written: what the header must say about it before any data is known.
struct GGUFTensorPlan: Sendable, Equatable {
    let name: String
    let type: GGMLType
    /// Outermost first, as PyTorch writes shapes.
    let shape: [Int]

    init(name: String, type: GGMLType, shape: [Int]) {
        self.name = name
        self.type = type
        self.shape = shape
    }

    var elementCount: Int { shape.reduce(1, *) }
    var byteCount: Int { (type.rowBytes(shape.last ?? 1) ?? 0) * (elementCount / (shape.last ?? 1)) }
}

/// The byte layout of a GGUF v3 file computed before any tensor data exists, so that the
/// header can be written first and the data streamed after it, tensor by tensor.
struct GGUFLayout: Sendable {
    let header: [UInt8]
    /// Absolute file offset of each tensor's data, in plan order.
    let tensorOffsets: [Int]
    let totalSize: Int
    let alignment: Int

    init(metadata: GGUFMetadata, tensors: [GGUFTensorPlan], alignment: Int = 32) {
        var meta = metadata
        if alignment != 32 { meta.set("general.alignment", .uint32(UInt32(alignment))) }
        var out: [UInt8] = []
        out.append(contentsOf: [0x47, 0x47, 0x55, 0x46]) // "GGUF"
        Self.put(UInt32(3), &out)
        Self.put(UInt64(tensors.count), &out)
        Self.put(UInt64(meta.entries.count), &out)
        for (key, value) in meta.entries {
            Self.putString(key, &out)
            Self.put(value.type.rawValue, &out)
            Self.putValue(value, &out)
        }
        var relative: [Int] = []
        var cursor = 0
        for t in tensors {
            Self.putString(t.name, &out)
            let dims = t.type.fileShape(t.shape)
            Self.put(UInt32(dims.count), &out)
            for d in dims.reversed() { Self.put(UInt64(d), &out) }
            Self.put(t.type.fileTypeID, &out)
            Self.put(UInt64(cursor), &out)
            relative.append(cursor)
            cursor += Self.align(t.byteCount, alignment)
        }
        let dataStart = Self.align(out.count, alignment)
        out.append(contentsOf: repeatElement(0, count: dataStart - out.count))
        self.header = out
        self.tensorOffsets = relative.map { $0 + dataStart }
        self.totalSize = dataStart + cursor
        self.alignment = alignment
    }

    static func align(_ n: Int, _ a: Int) -> Int { (n + a - 1) / a * a }

    private static func put<T: FixedWidthInteger>(_ v: T, _ out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func putString(_ s: String, _ out: inout [UInt8]) {
        put(UInt64(s.utf8.count), &out)
        out.append(contentsOf: s.utf8)
    }

    private static func putValue(_ value: GGUFValue, _ out: inout [UInt8]) {
        switch value {
        case let .uint8(v): put(v, &out)
        case let .int8(v): put(v, &out)
        case let .uint16(v): put(v, &out)
        case let .int16(v): put(v, &out)
        case let .uint32(v): put(v, &out)
        case let .int32(v): put(v, &out)
        case let .uint64(v): put(v, &out)
        case let .int64(v): put(v, &out)
        case let .float32(v): put(v.bitPattern, &out)
        case let .float64(v): put(v.bitPattern, &out)
        case let .bool(v): put(UInt8(v ? 1 : 0), &out)
        case let .string(s): putString(s, &out)
        case let .array(type, values):
            put(type.rawValue, &out)
            put(UInt64(values.count), &out)
            for v in values { putValue(v, &out) }
        }
    }
}
