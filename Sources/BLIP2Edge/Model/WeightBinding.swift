/// Where the towers' weights come from. A tower's initialiser declares each weight once, beside
/// the field that keeps it (checkpoint key, shape, role), and gets it back bound: from a model
/// file, found and shape-checked, or, while the schema is being listed, as a placeholder (that
/// tower is listed, never run). The schema the converter and the loader check, the names in the
/// file and each tower's byte range are therefore all read off the towers themselves.
final class WeightBinding {
    private let file: GGUFFile?
    private(set) var specs: [TensorSpec] = []
    /// F32 copies of small tensors a file stores in another type (norms, biases), made at
    /// binding so that reading them later needs no lock.
    private var copies: [UnsafeMutableBufferPointer<Float>] = []

    /// Binds to the tensors of `file`.
    init(file: GGUFFile) { self.file = file }

    /// Lists what the towers declare, binding nothing.
    private init() { file = nil }
    static func listing() -> WeightBinding { WeightBinding() }

    deinit { copies.forEach { $0.deallocate() } }

    /// The weights of `tower`, named below `key` in checkpoints and `fileKey` in model files.
    func scope(_ tower: TensorSpec.Tower, _ key: String = "", file fileKey: String? = nil) -> WeightScope {
        WeightScope(binding: self, tower: tower, key: key, fileKey: fileKey ?? key)
    }

    fileprivate func bind(_ spec: TensorSpec) throws(ModelFileError) -> Weight {
        specs.append(spec)
        guard let file else { return Weight(type: .f32, data: Self.placeholder, shape: spec.shape) }
        guard let t = file.tensor(named: spec.fileName) else {
            throw .missingTensor(path: file.path, name: spec.fileName)
        }
        guard t.shape == spec.shape else {
            throw .wrongShape(path: file.path, name: spec.fileName, expected: spec.shape, found: t.shape)
        }
        // Only matmuls read Q4_0x8 (its rows are interleaved, so no row of it can be looked up).
        guard t.type != .q4_0x8 || spec.role == .linear else { throw .wrongLayout(path: file.path, name: spec.fileName) }
        return Weight(type: t.type, data: UnsafeRawPointer(file.bytes(of: t).baseAddress ?? Self.placeholder), shape: t.shape)
    }

    fileprivate func floats(_ spec: TensorSpec) throws(ModelFileError) -> UnsafePointer<Float> {
        let w = try bind(spec)
        if w.type == .f32 { return w.data.assumingMemoryBound(to: Float.self) }
        let copy = UnsafeMutableBufferPointer<Float>.allocate(capacity: w.elementCount)
        copies.append(copy)
        // A small tensor's rows are whole blocks, so it converts as one row.
        let floats = copy.baseAddress ?? Self.placeholderBuffer.pointer
        Kernels.toFloat(w.type, row: w.data, into: floats, count: w.elementCount)
        return UnsafePointer(floats)
    }

    /// What a listed tower's weights point to: zeros, never read as a weight.
    private static let placeholderBuffer = Buffer(16)
    private static var placeholder: UnsafeRawPointer { UnsafeRawPointer(placeholderBuffer.pointer) }
}

/// A tower's view of the binding: names below its prefixes.
struct WeightScope {
    fileprivate let binding: WeightBinding
    let tower: TensorSpec.Tower
    fileprivate let key: String
    fileprivate let fileKey: String

    /// The weights below `name` (and `fileName` in the file, when the file shortens it).
    func scope(_ name: String, file fileName: String? = nil) -> WeightScope {
        WeightScope(binding: binding, tower: tower, key: join(key, name), fileKey: join(fileKey, fileName ?? name))
    }

    private func join(_ prefix: String, _ name: String) -> String {
        prefix.isEmpty ? name : name.isEmpty ? prefix : prefix + "." + name
    }

    private func spec(_ name: String, _ shape: [Int], _ role: TensorSpec.Role) -> TensorSpec {
        TensorSpec(name: join(key, name), fileName: join(fileKey, name), shape: shape, role: role, tower: tower)
    }

    /// `name`.weight [out, in] and, with `bias`, `name`.bias [out].
    func linear(_ name: String, out: Int, in inFeatures: Int, bias: Bool = true) throws(ModelFileError) -> Linear {
        let w = try binding.bind(spec(join(name, "weight"), [out, inFeatures], .linear))
        return Linear(weight: w, bias: bias ? try binding.floats(spec(join(name, "bias"), [out], .small)) : nil,
                      name: join(key, name))
    }

    /// A patch-embedding convolution [out, channels, p, p] with its bias: a Linear over the
    /// flattened patches (the storage is contiguous, so each output's row is channels p p long).
    func patchEmbedding(_ name: String, out: Int, channels: Int, patch: Int) throws(ModelFileError) -> Linear {
        let w = try binding.bind(spec(join(name, "weight"), [out, channels, patch, patch], .patchEmbedding))
        return Linear(weight: w, bias: try binding.floats(spec(join(name, "bias"), [out], .small)), name: join(key, name))
    }

    /// `name`.weight and `name`.bias, [dim] each.
    func layerNorm(_ name: String, _ dim: Int, eps: Float) throws(ModelFileError) -> LayerNorm {
        LayerNorm(weight: try binding.floats(spec(join(name, "weight"), [dim], .small)),
                  bias: try binding.floats(spec(join(name, "bias"), [dim], .small)), dim: dim, eps: eps)
    }

    /// `name`.weight [dim]: a norm that only scales (T5's).
    func rmsNorm(_ name: String, _ dim: Int, eps: Float) throws(ModelFileError) -> RMSNorm {
        RMSNorm(weight: try binding.floats(spec(join(name, "weight"), [dim], .small)), dim: dim, eps: eps)
    }

    /// An untied LM head [vocab, hidden], `name`.weight, stored as a token embedding is.
    func outputHead(_ name: String, vocab: Int, hidden: Int) throws(ModelFileError) -> Linear {
        Linear(weight: try binding.bind(spec(join(name, "weight"), [vocab, hidden], .tokenEmbedding)), bias: nil, name: join(key, name))
    }

    /// A small tensor (embedding of positions or classes, queries) as float32.
    func floats(_ name: String, _ shape: [Int]) throws(ModelFileError) -> UnsafePointer<Float> {
        try binding.floats(spec(name, shape, .small))
    }

    /// The token embedding [vocab, hidden] in its file storage (also the tied LM head).
    func tokenEmbedding(_ name: String, vocab: Int, hidden: Int) throws(ModelFileError) -> Weight {
        try binding.bind(spec(name, [vocab, hidden], .tokenEmbedding))
    }
}
