/// The tensor element types this library reads and writes, numbered as in ggml.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q8_0 = 8

    /// Elements per block (1 for the plain float types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16: 1
        case .q4_0, .q8_0: 32
        }
    }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .f32: 4
        case .f16: 2
        case .q4_0: 18
        case .q8_0: 34
        }
    }

    public var description: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .q4_0: "Q4_0"
        case .q8_0: "Q8_0"
        }
    }

    /// Parses the spelling users type on the command line (`q4_0`, `Q8_0`, `f16`, ...).
    public init?(name: String) {
        guard let t = GGMLType.allCases.first(where: { $0.description.lowercased() == name.lowercased() }) else {
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
