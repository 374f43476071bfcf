/// Why a model file cannot be run.
public enum ModelFileError: Error, Equatable, CustomStringConvertible {
    case missingTensor(path: String, name: String)
    case wrongShape(path: String, name: String, expected: [Int], found: [Int])
    case wrongLayout(path: String, name: String)
    case unexpectedTensor(path: String, name: String)
    case missingTokenizer(path: String, reason: String)
    /// A file of another family than the command or API needs: says what the file is for.
    case wrongFamily(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missingTensor(path, name): "\(path): tensor \(name) is missing"
        case let .wrongShape(path, name, expected, found): "\(path): tensor \(name) has shape \(found), the configuration implies \(expected)"
        case let .wrongLayout(path, name): "\(path): tensor \(name) is stored as Q4_0x8, which only a Linear layer's weight may be"
        case let .unexpectedTensor(path, name): "\(path): unexpected tensor \(name) (a file for another model?)"
        case let .missingTokenizer(path, reason): "\(path): tokenizer: \(reason)"
        case let .wrongFamily(path, reason): "\(path): \(reason)"
        }
    }
}

/// An opened model file: the mapping, its configuration, and every tower's weights bound by
/// name and checked against the shapes the configuration implies, before anything runs.
final class ModelFile: @unchecked Sendable {
    let gguf: GGUFFile
    let config: BLIP2Config
    let weights: BLIP2Weights
    /// Owns the F32 copies the weights may point to.
    private let binding: WeightBinding

    var path: String { gguf.path }

    init(path: String) throws {
        gguf = try GGUFFile(path: path)
        config = try BLIP2Config(metadata: gguf.metadata, path: path)
        // Tensors of another model are named first: they explain the missing ones.
        let expected = Set(config.tensorSpecs.map(\.fileName))
        if let t = gguf.tensors.first(where: { !expected.contains($0.name) }) {
            throw ModelFileError.unexpectedTensor(path: path, name: t.name)
        }
        binding = WeightBinding(file: gguf)
        weights = try BLIP2Weights(binding, config)
    }

    /// Where a tower's weights lie in the file (they lie together: see `BLIP2Weights`).
    func byteRange(of tower: TensorSpec.Tower) -> Range<Int>? {
        let tensors = binding.specs.filter { $0.tower == tower }.compactMap { gguf.tensor(named: $0.fileName) }
        guard let start = tensors.map(\.fileOffset).min(), let end = tensors.map({ $0.fileOffset + $0.byteCount }).max() else {
            return nil
        }
        return start..<end
    }
}
