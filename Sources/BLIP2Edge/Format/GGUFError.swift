/// Why a GGUF model file was rejected. Every case names the file and what is wrong.
public enum GGUFError: Error, Equatable, CustomStringConvertible {
    case notGGUF(path: String)
    case unsupportedVersion(path: String, version: UInt32)
    case truncated(path: String, what: String)
    case invalid(path: String, reason: String)
    case unsupportedTensorType(path: String, tensor: String, type: String)
    case missingKey(path: String, key: String)
    case wrongKeyType(path: String, key: String, expected: String)

    public var description: String {
        switch self {
        case let .notGGUF(path):
            "\(path): not a GGUF model file (no GGUF magic at the start)"
        case let .unsupportedVersion(path, version):
            "\(path): GGUF version \(version) is not supported (this build reads version 3)"
        case let .truncated(path, what):
            "\(path): file is truncated: it ends inside the \(what)"
        case let .invalid(path, reason):
            "\(path): \(reason)"
        case let .unsupportedTensorType(path, tensor, type):
            "\(path): tensor \(tensor) has type \(type); this build reads F32, F16, Q8_0 and Q4_0 (and I8 as Q4_0x8 in files that say \(GGMLType.interleavedKey))"
        case let .missingKey(path, key):
            "\(path): metadata key \(key) is missing"
        case let .wrongKeyType(path, key, expected):
            "\(path): metadata key \(key) should be \(expected)"
        }
    }
}
