/// A tensor's place in a GGUF file.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    public let type: GGMLType
    /// Dimensions outermost first, as PyTorch and numpy write them ([out, in] for a Linear
    /// weight). GGUF itself stores them innermost first.
    public let shape: [Int]
    /// Absolute byte offset of the data in the file.
    public let fileOffset: Int
    public let byteCount: Int

    public var elementCount: Int { shape.reduce(1, *) }
    /// Length of the innermost dimension: what a block-quantized row spans.
    public var rowLength: Int { shape.last ?? 1 }
}

/// A GGUF v3 file, memory-mapped and validated. Tensors are views into the mapping: nothing
/// is copied, and the mapping lives as long as this object.
public final class GGUFFile: Sendable {
    /// Limits on counts read from a file, far above any BLIP-2 file (about 1,100 tensors and
    /// 60 keys), so a lying header cannot make us allocate or loop without bound.
    public static let maxTensors = 65_536
    public static let maxKeys = 65_536
    public static let maxDims = 4
    /// ggml keeps names in a 64-byte buffer with a terminating NUL.
    public static let maxTensorNameBytes = 63

    let file: MappedFile
    public let version: UInt32
    public let alignment: Int
    public let metadata: GGUFMetadata
    public let tensors: [GGUFTensorInfo]
    /// Absolute offset where the tensor data section starts.
    public let dataOffset: Int
    private let tensorIndex: [String: Int]

    public var path: String { file.path }
    /// Bytes mapped.
    public var size: Int { file.bytes.count }

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    init(file: MappedFile) throws(GGUFError) {
        self.file = file
        let path = file.path
        var cursor = ByteCursor(file.bytes)
        func truncated(_ t: ByteCursor.Truncated) -> GGUFError { .truncated(path: path, what: t.what) }

        do {
            guard file.bytes.count >= 4, try cursor.read(UInt32.self, "magic") == 0x4655_4747 else {
                throw GGUFError.notGGUF(path: path)
            }
            version = try cursor.read(UInt32.self, "header")
            guard version == 3 else { throw GGUFError.unsupportedVersion(path: path, version: version) }
            let tensorCount = try cursor.read(UInt64.self, "header")
            let keyCount = try cursor.read(UInt64.self, "header")
            guard tensorCount <= UInt64(Self.maxTensors) else {
                throw GGUFError.invalid(path: path, reason: "header claims \(tensorCount) tensors (limit \(Self.maxTensors))")
            }
            guard keyCount <= UInt64(Self.maxKeys) else {
                throw GGUFError.invalid(path: path, reason: "header claims \(keyCount) metadata keys (limit \(Self.maxKeys))")
            }

            var metadata = GGUFMetadata()
            for i in 0..<Int(keyCount) {
                let key = try Self.readString(&cursor, path: path, what: "key of metadata entry \(i)")
                guard metadata[key] == nil else {
                    throw GGUFError.invalid(path: path, reason: "metadata key \(key) appears twice")
                }
                let rawType = try cursor.read(UInt32.self, "type of metadata key \(key)")
                let value = try Self.readValue(&cursor, rawType: rawType, path: path, key: key, nested: false)
                metadata.set(key, value)
            }
            self.metadata = metadata

            var alignment = 32
            if let a = metadata["general.alignment"] {
                guard case let .uint32(v) = a, v > 0, v & (v - 1) == 0, v <= 1 << 20 else {
                    throw GGUFError.invalid(path: path, reason: "general.alignment must be a power of two (uint32)")
                }
                alignment = Int(v)
            }
            self.alignment = alignment

            let interleaved = metadata[GGMLType.interleavedKey] == .bool(true)
            var raw: [(name: String, type: GGMLType, shape: [Int], offset: Int, bytes: Int)] = []
            var index: [String: Int] = [:]
            raw.reserveCapacity(Int(tensorCount))
            for i in 0..<Int(tensorCount) {
                let name = try Self.readString(&cursor, path: path, what: "name of tensor \(i)")
                guard !name.isEmpty, name.utf8.count <= Self.maxTensorNameBytes else {
                    throw GGUFError.invalid(path: path, reason: "tensor \(i) has a name of \(name.utf8.count) bytes (1 to \(Self.maxTensorNameBytes) allowed)")
                }
                guard index[name] == nil else {
                    throw GGUFError.invalid(path: path, reason: "tensor \(name) appears twice")
                }
                let nDims = try cursor.read(UInt32.self, "tensor info of \(name)")
                guard nDims >= 1, nDims <= UInt32(Self.maxDims) else {
                    throw GGUFError.invalid(path: path, reason: "tensor \(name) has \(nDims) dimensions (1 to \(Self.maxDims) allowed)")
                }
                var dims: [Int] = []
                var elements = 1
                for _ in 0..<Int(nDims) {
                    let d = try cursor.read(UInt64.self, "tensor info of \(name)")
                    guard d >= 1, d <= UInt64(Int32.max) else {
                        throw GGUFError.invalid(path: path, reason: "tensor \(name) has dimension \(d)")
                    }
                    let (e, overflow) = elements.multipliedReportingOverflow(by: Int(d))
                    guard !overflow else {
                        throw GGUFError.invalid(path: path, reason: "tensor \(name) has too many elements")
                    }
                    elements = e
                    dims.append(Int(d))
                }
                let rawType = try cursor.read(UInt32.self, "tensor info of \(name)")
                let type: GGMLType
                if rawType == GGMLType.storageI8, interleaved {
                    // Q4_0x8 stored as I8 [m / 8, k / 32 * 144]: back to its shape [m, k].
                    let block = GGMLType.interleavedBlockBytes
                    guard dims.count == 2, dims[0] % block == 0 else {
                        throw GGUFError.invalid(path: path, reason: "tensor \(name): an I8 tensor of a Q4_0x8 file must be [groups, blocks x \(block)], not \(Array(dims.reversed()))")
                    }
                    type = .q4_0x8
                    dims = [dims[0] / block * type.blockSize, dims[1] * 8]
                    let (e, overflow) = dims[0].multipliedReportingOverflow(by: dims[1])
                    guard !overflow else { throw GGUFError.invalid(path: path, reason: "tensor \(name) has too many elements") }
                    elements = e
                } else {
                    guard rawType != GGMLType.q4_0x8.rawValue, let t = GGMLType(rawValue: rawType) else {
                        throw GGUFError.unsupportedTensorType(path: path, tensor: name, type: GGMLType.ggmlName(rawType))
                    }
                    type = t
                }
                let offset = try cursor.read(UInt64.self, "tensor info of \(name)")
                guard offset <= UInt64(Int.max), Int(offset) % alignment == 0 else {
                    throw GGUFError.invalid(path: path, reason: "tensor \(name) has offset \(offset), not a multiple of the alignment \(alignment)")
                }
                guard let rowBytes = type.rowBytes(dims[0]) else {
                    throw GGUFError.invalid(path: path, reason: "tensor \(name): rows of \(dims[0]) elements do not divide into \(type) blocks of \(type.blockSize)")
                }
                let (bytes, overflow) = rowBytes.multipliedReportingOverflow(by: elements / dims[0])
                guard !overflow else { throw GGUFError.invalid(path: path, reason: "tensor \(name) is too large") }
                index[name] = raw.count
                raw.append((name, type, Array(dims.reversed()), Int(offset), bytes))
            }

            let headerEnd = cursor.offset
            let dataOffset = (headerEnd + alignment - 1) / alignment * alignment
            let dataSize = file.bytes.count - dataOffset
            // Checked in file order so an overlap names both tensors.
            var previousEnd = 0
            var previousName = ""
            for t in raw.sorted(by: { $0.offset < $1.offset }) {
                guard t.offset >= previousEnd || t.bytes == 0 else {
                    throw GGUFError.invalid(path: path, reason: "tensors \(previousName) and \(t.name) overlap")
                }
                guard t.offset <= dataSize, t.bytes <= dataSize - t.offset else {
                    throw GGUFError.truncated(path: path, what: "data of tensor \(t.name) (needs \(t.bytes) bytes at data offset \(t.offset), file has \(max(0, dataSize)))")
                }
                previousEnd = t.offset + t.bytes
                previousName = t.name
            }
            self.dataOffset = dataOffset
            self.tensors = raw.map {
                GGUFTensorInfo(name: $0.name, type: $0.type, shape: $0.shape, fileOffset: dataOffset + $0.offset, byteCount: $0.bytes)
            }
            self.tensorIndex = index
        } catch let t as ByteCursor.Truncated {
            throw truncated(t)
        } catch let e as GGUFError {
            throw e
        } catch {
            throw GGUFError.invalid(path: path, reason: "\(error)")
        }
    }

    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The tensor's bytes, a view into the mapping (valid while this file is alive).
    public func bytes(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file.bytes[tensor.fileOffset..<(tensor.fileOffset + tensor.byteCount)])
    }

    // MARK: - Decoding

    private static func readString(_ c: inout ByteCursor, path: String, what: String) throws -> String {
        let length = try c.read(UInt64.self, what)
        guard length <= UInt64(c.remaining) else { throw GGUFError.truncated(path: path, what: what) }
        let bytes = try c.slice(Int(length), what)
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw GGUFError.invalid(path: path, reason: "\(what) is not valid UTF-8")
        }
        return s
    }

    private static func readValue(_ c: inout ByteCursor, rawType: UInt32, path: String, key: String, nested: Bool) throws -> GGUFValue {
        guard let type = GGUFValueType(rawValue: rawType) else {
            throw GGUFError.invalid(path: path, reason: "metadata key \(key) has unknown value type \(rawType)")
        }
        let what = "value of metadata key \(key)"
        switch type {
        case .uint8: return .uint8(try c.read(UInt8.self, what))
        case .int8: return .int8(try c.read(Int8.self, what))
        case .uint16: return .uint16(try c.read(UInt16.self, what))
        case .int16: return .int16(try c.read(Int16.self, what))
        case .uint32: return .uint32(try c.read(UInt32.self, what))
        case .int32: return .int32(try c.read(Int32.self, what))
        case .uint64: return .uint64(try c.read(UInt64.self, what))
        case .int64: return .int64(try c.read(Int64.self, what))
        case .float32: return .float32(try c.readFloat(what))
        case .float64: return .float64(try c.readDouble(what))
        case .bool:
            let b = try c.read(UInt8.self, what)
            guard b <= 1 else { throw GGUFError.invalid(path: path, reason: "metadata key \(key) has bool value \(b)") }
            return .bool(b == 1)
        case .string: return .string(try readString(&c, path: path, what: what))
        case .array:
            guard !nested else {
                throw GGUFError.invalid(path: path, reason: "metadata key \(key) holds nested arrays, which are not supported")
            }
            let rawElement = try c.read(UInt32.self, what)
            guard let elementType = GGUFValueType(rawValue: rawElement) else {
                throw GGUFError.invalid(path: path, reason: "metadata key \(key) has unknown array element type \(rawElement)")
            }
            let count = try c.read(UInt64.self, what)
            // Every element takes at least one byte (a string at least eight), so a count
            // beyond the bytes left is a lie we can reject before allocating.
            let minSize = UInt64(elementType.fixedSize ?? 8)
            guard count <= UInt64(c.remaining) / minSize else { throw GGUFError.truncated(path: path, what: what) }
            var values: [GGUFValue] = []
            values.reserveCapacity(Int(count))
            for _ in 0..<Int(count) {
                values.append(try readValue(&c, rawType: rawElement, path: path, key: key, nested: true))
            }
            return .array(elementType, values)
        }
    }
}
