import CKernels

/// Why a model file cannot be run.
public enum ModelFileError: Error, Equatable, CustomStringConvertible {
    case missingTensor(path: String, name: String)
    case wrongShape(path: String, name: String, expected: [Int], found: [Int])
    case unexpectedTensor(path: String, name: String)
    case missingTokenizer(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missingTensor(path, name): "\(path): tensor \(name) is missing"
        case let .wrongShape(path, name, expected, found): "\(path): tensor \(name) has shape \(found), the configuration implies \(expected)"
        case let .unexpectedTensor(path, name): "\(path): unexpected tensor \(name) (a file for another model?)"
        case let .missingTokenizer(path, reason): "\(path): tokenizer: \(reason)"
        }
    }
}

/// A weight matrix or vector as it lies in the mapped file: any storage type, never copied.
public struct Weight: @unchecked Sendable {
    public let type: GGMLType
    public let data: UnsafeRawPointer
    /// Outermost first.
    public let shape: [Int]

    public var rows: Int { shape.dropLast().reduce(1, *) }
    public var columns: Int { shape.last ?? 1 }
    var ckType: ck_type { ck_type(rawValue: type.rawValue) }
}

/// An opened model file: the mapping, its configuration, and every tensor bound by name
/// and checked against the shape the configuration implies, before anything runs.
public final class ModelFile: @unchecked Sendable {
    public let gguf: GGUFFile
    public let config: BLIP2Config
    private let weights: [String: Weight]
    /// F32 copies of small tensors a file stores in another type (norms, biases), made at
    /// open so that reading them later needs no lock.
    private let floatCopies: [String: UnsafeMutableBufferPointer<Float>]

    public var path: String { gguf.path }

    public init(path: String) throws {
        gguf = try GGUFFile(path: path)
        config = try BLIP2Config(metadata: gguf.metadata, path: path)
        var weights: [String: Weight] = [:]
        let specs = config.tensorSpecs
        let expected = Set(specs.map { TensorNames.gguf($0.name) })
        for t in gguf.tensors where !expected.contains(t.name) {
            throw ModelFileError.unexpectedTensor(path: path, name: t.name)
        }
        for spec in specs {
            let name = TensorNames.gguf(spec.name)
            guard let t = gguf.tensor(named: name) else { throw ModelFileError.missingTensor(path: path, name: name) }
            guard t.shape == spec.shape else {
                throw ModelFileError.wrongShape(path: path, name: name, expected: spec.shape, found: t.shape)
            }
            weights[spec.name] = Weight(type: t.type, data: gguf.bytes(of: t).baseAddress!, shape: t.shape)
        }
        self.weights = weights
        var copies: [String: UnsafeMutableBufferPointer<Float>] = [:]
        for spec in specs where spec.role == .small {
            guard let w = weights[spec.name], w.type != .f32 else { continue }
            let copy = UnsafeMutableBufferPointer<Float>.allocate(capacity: w.rows * w.columns)
            let rowBytes = w.type.rowBytes(w.columns) ?? 0
            for r in 0..<w.rows {
                ck_row_to_float(w.ckType, w.data + r * rowBytes, copy.baseAddress! + r * w.columns, w.columns)
            }
            copies[spec.name] = copy
        }
        floatCopies = copies
    }

    deinit {
        for (_, b) in floatCopies { b.deallocate() }
    }

    /// A weight by its transformers name. Binding checked every name the schema has, so a
    /// miss here is a programming error, not bad input.
    public func weight(_ name: String) -> Weight {
        guard let w = weights[name] else { preconditionFailure("no weight \(name) in the schema") }
        return w
    }

    /// A small tensor (norm, bias, embedding of positions, classes or queries) as float32.
    public func floats(_ name: String) -> UnsafePointer<Float> {
        if let copy = floatCopies[name] { return UnsafePointer(copy.baseAddress!) }
        let w = weight(name)
        precondition(w.type == .f32, "\(name) is not a small tensor")
        return w.data.assumingMemoryBound(to: Float.self)
    }
}
