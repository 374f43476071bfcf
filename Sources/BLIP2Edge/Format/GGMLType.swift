/// The tensor element types this library reads and writes, numbered as in ggml.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q8_0 = 8
    /// Q4_0 with 8 rows interleaved (CKernels' ck_block_q4_0x8): the same bytes in an order
    /// whose n = 1 product needs no horizontal sums. Not a ggml type: a file stores it as raw
    /// bytes (ggml's I8, 8 rows a "row") and says so with `interleavedKey`, so the gguf
    /// package still reads the file (the tensor as bytes) and nothing mistakes it for Q4_0.
    case q4_0x8 = 0x8002

    /// The metadata key (bool true) that makes a file's I8 tensors Q4_0x8.
    static let interleavedKey = "blip2.i8_tensors_are_q4_0x8"
    /// ggml's I8, as a Q4_0x8 tensor is stored.
    static let storageI8: UInt32 = 24
    /// Bytes of one 8-row Q4_0x8 block.
    static let interleavedBlockBytes = 144

    /// Elements per block (1 for the plain float types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16: 1
        case .q4_0, .q8_0, .q4_0x8: 32
        }
    }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .f32: 4
        case .f16: 2
        case .q4_0, .q4_0x8: 18
        case .q8_0: 34
        }
    }

    public var description: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .q4_0: "Q4_0"
        case .q8_0: "Q8_0"
        case .q4_0x8: "Q4_0x8"
        }
    }

    /// Parses the spelling users type on the command line (`q4_0`, `Q8_0`, `f16`, ...).
    public init?(name: String) {
        // Q4_0x8 is a layout of Q4_0, chosen with blip2-quantize --interleave, not a type.
        guard let t = GGMLType.allCases.first(where: { $0 != .q4_0x8 && $0.description.lowercased() == name.lowercased() }) else {
            return nil
        }
        self = t
    }

    /// Bytes of one row of `rowLength` elements, or nil if the row does not divide into
    /// blocks or the size overflows.
    public func rowBytes(_ rowLength: Int) -> Int? {
        guard rowLength >= 0, rowLength % blockSize == 0 else { return nil }
        let (bytes, overflow) = (rowLength / blockSize).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }

    /// The type id a GGUF tensor info holds for this type.
    var fileTypeID: UInt32 { self == .q4_0x8 ? Self.storageI8 : rawValue }

    /// A tensor's dimensions as a GGUF file states them (outermost first, reversed on disk):
    /// Q4_0x8 [m, k] is I8 [m / 8, k / 32 * 144].
    func fileShape(_ shape: [Int]) -> [Int] {
        guard self == .q4_0x8, shape.count == 2 else { return shape }
        return [shape[0] / 8, shape[1] / blockSize * Self.interleavedBlockBytes]
    }

    /// A readable name for any ggml type id, for error messages about types we do not read.
    static func ggmlName(_ raw: UInt32) -> String {
        let names: [UInt32: String] = [
            0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1",
            10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 24: "I8",
            25: "I16", 26: "I32", 27: "I64", 28: "F64", 30: "BF16",
        ]
        return names[raw] ?? "unknown type \(raw)"
    }
}
