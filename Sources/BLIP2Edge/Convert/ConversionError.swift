/// Why a conversion stopped. The output file is never left behind half-written.
public enum ConversionError: Error, Equatable, CustomStringConvertible {
    case missingSidecar(path: String)
    case missingTensor(name: String)
    case unexpectedTensors(names: [String])
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    case unsupportedDType(name: String, dtype: String)
    case dtypeMismatch(name: String, dtype: String, other: String, otherDType: String)
    case nonFinite(name: String, count: Int)
    case impossibleType(tensor: String, type: GGMLType, rowLength: Int, pattern: String)
    case nameTooLong(name: String)
    case vocabularyTooLarge(tokens: Int, embeddingRows: Int)
    case outputIsInput(path: String)
    case outputIsDirectory(path: String)
    case interrupted

    public var description: String {
        switch self {
        case let .missingSidecar(path):
            "\(path) is missing: the converter needs it beside the weights"
        case let .missingTensor(name):
            "tensor \(name) is missing from the checkpoint"
        case let .unexpectedTensors(names):
            "the checkpoint has tensors this model does not have: \(names.prefix(5).joined(separator: ", "))\(names.count > 5 ? " and \(names.count - 5) more" : "") (is config.json the right one?)"
        case let .shapeMismatch(name, expected, found):
            "tensor \(name) has shape \(found), but config.json implies \(expected)"
        case let .unsupportedDType(name, dtype):
            "tensor \(name) has dtype \(dtype); the converter reads F32, F16 and BF16"
        case let .dtypeMismatch(name, dtype, other, otherDType):
            "tensor \(name) has dtype \(dtype) but \(other) has \(otherDType); the converter fuses them into one tensor"
        case let .nonFinite(name, count):
            "tensor \(name) holds \(count) NaN or infinite values; refusing to quantize it"
        case let .impossibleType(tensor, type, rowLength, pattern):
            "--tensor-type \(pattern)=\(type): tensor \(tensor) has rows of \(rowLength), not a multiple of \(type)'s \(type.blockSize)-element blocks"
        case let .nameTooLong(name):
            "tensor name \(name) is longer than GGUF's 63 bytes"
        case let .vocabularyTooLarge(tokens, rows):
            "the tokenizer has \(tokens) tokens but the token embedding only \(rows) rows"
        case let .outputIsInput(path):
            "\(path): the output would overwrite an input file"
        case let .outputIsDirectory(path):
            "\(path) is a directory; give a file name for the output"
        case .interrupted:
            "interrupted"
        }
    }
}
