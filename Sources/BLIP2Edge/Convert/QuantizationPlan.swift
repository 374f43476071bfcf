#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Which storage type each tensor gets for a requested file type: the default mix, then
/// any user overrides by tensor-name pattern.
public struct QuantizationPlan: Sendable {
    public struct Override: Sendable, Equatable {
        /// A shell glob (fnmatch) matched against the transformers name and the GGUF name.
        public let pattern: String
        public let type: GGMLType

        /// Q4_0x8 is Q4_0 laid out for the language model's products: an override of it means Q4_0.
        public init(pattern: String, type: GGMLType) {
            self.pattern = pattern
            self.type = type == .q4_0x8 ? .q4_0 : type
        }

        /// Parses `PATTERN=TYPE`, as `--tensor-type` takes it.
        public init?(argument: String) {
            guard let eq = argument.lastIndex(of: "="), eq != argument.startIndex,
                  let type = GGMLType(name: String(argument[argument.index(after: eq)...])) else { return nil }
            self.init(pattern: String(argument[..<eq]), type: type)
        }
    }

    public let fileType: GGMLType
    public let overrides: [Override]
    /// The language model's Q4_0 Linear weights as Q4_0x8 (blip2-quantize --interleave): the
    /// decoder's products, read once per generated token, get the layout whose n = 1 kernel
    /// needs no horizontal sums. The other towers run only n > 1 products, where the panel
    /// kernels have no such cost, and keep the gguf package's bytes.
    public let interleaveLanguageModel: Bool

    /// A file type of Q4_0x8 means Q4_0 with `interleaveLanguageModel`.
    public init(fileType: GGMLType, overrides: [Override] = [], interleaveLanguageModel: Bool = false) {
        self.fileType = fileType == .q4_0x8 ? .q4_0 : fileType
        self.overrides = overrides
        self.interleaveLanguageModel = interleaveLanguageModel || fileType == .q4_0x8
    }

    /// The default mix:
    /// - Linear weights: the file type, or F16 when their rows do not divide into blocks;
    /// - the token embedding (also the LM head, read for every generated token): at least
    ///   Q8_0, since its errors reach every logit;
    /// - the patch embedding (rows of 3x14x14 = 588, not a multiple of 32): F16;
    /// - norms, biases, position and class embeddings and query tokens: F32 (they are
    ///   small, and LayerNorm parameters are sensitive to rounding).
    func defaultType(for spec: TensorSpec) -> GGMLType {
        let row = spec.shape.last ?? 1
        let quantized = fileType == .q4_0 || fileType == .q8_0
        switch spec.role {
        case .small:
            return .f32
        case .patchEmbedding:
            return fileType == .f32 ? .f32 : .f16
        case .tokenEmbedding:
            if !quantized { return fileType }
            return row % 32 == 0 ? .q8_0 : .f16
        case .linear:
            if !quantized { return fileType }
            return row % 32 == 0 ? fileType : .f16
        }
    }

    /// The type for a tensor after overrides (the last matching override wins), interleaved
    /// when asked to and it is a language-model Linear of whole groups of 8 rows.
    func type(for spec: TensorSpec) throws(ConversionError) -> GGMLType {
        let t = try typeBeforeLayout(for: spec)
        let interleave = interleaveLanguageModel && t == .q4_0 && spec.role == .linear && spec.tower == .language
            && spec.shape.count == 2 && spec.shape[0] % 8 == 0
        return interleave ? .q4_0x8 : t
    }

    private func typeBeforeLayout(for spec: TensorSpec) throws(ConversionError) -> GGMLType {
        guard let o = overrides.last(where: { Self.matches($0.pattern, spec.name) || Self.matches($0.pattern, spec.fileName) }) else {
            return defaultType(for: spec)
        }
        let row = spec.shape.last ?? 1
        guard o.type.rowBytes(row) != nil else {
            throw .impossibleType(tensor: spec.name, type: o.type, rowLength: row, pattern: o.pattern)
        }
        return o.type
    }

    static func matches(_ pattern: String, _ name: String) -> Bool {
        fnmatch(pattern, name, 0) == 0
    }
}
