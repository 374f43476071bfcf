import BLIP2System

/// What a finished conversion did.
public struct ConversionSummary: Sendable {
    public var tensorCount = 0
    public var parameterCount = 0
    public var inputBytes = 0
    public var outputBytes = 0
    /// Parameters and bytes per storage type, for the bits-per-weight report.
    public var parametersByType: [GGMLType: Int] = [:]
    public var bytesByType: [GGMLType: Int] = [:]
    public var seconds = 0.0

    public var bitsPerWeight: Double { parameterCount == 0 ? 0 : Double(outputBytes) * 8 / Double(parameterCount) }
}

/// Progress after each chunk of data, for a terminal display.
public struct ConversionProgress: Sendable {
    public let tensorIndex: Int
    public let tensorCount: Int
    public let tensorName: String
    public let inputBytesDone: Int
    public let inputBytesTotal: Int
    public let seconds: Double
}

/// Converts a HuggingFace BLIP-2 checkpoint into one self-contained GGUF model file,
/// streaming tensor by tensor through fixed-size buffers so memory stays bounded whatever
/// the model's size.
public struct Converter {
    public var plan: QuantizationPlan
    public var threads: Int
    /// Input bytes per chunk: large enough to amortise a read, small enough that resident
    /// memory stays far below the 1 GiB goal for any tensor.
    public var chunkBytes = 16 << 20
    public var progress: (@Sendable (ConversionProgress) -> Void)?

    public init(plan: QuantizationPlan, threads: Int = Processors.available) {
        self.plan = plan
        self.threads = max(1, threads)
    }

    /// Everything the output will hold, checked against the checkpoint before any byte is
    /// written.
    struct Prepared {
        let checkpoint: Checkpoint
        let config: BLIP2Config
        /// The tokenizer: byte-level BPE for OPT, WordPiece for a retrieval model's Q-Former,
        /// SentencePiece Unigram for FlanT5.
        let vocabulary: TokenizerVocabulary?
        let wordPiece: WordPieceVocabulary?
        let unigram: UnigramVocabulary?
        let specs: [TensorSpec]
        let tensors: [GGUFTensorPlan]
        let metadata: GGUFMetadata
        /// Where each tensor's bytes lie in the checkpoint, by tensor index.
        let sources: [TensorSource]
    }

    func prepare(input: String) throws -> Prepared {
        let checkpoint = try Checkpoint(path: input)
        func sidecar(_ name: String, required: Bool) throws -> [UInt8]? {
            let path = checkpoint.sidecar(name)
            guard FilePaths.exists(path) else {
                if required { throw ConversionError.missingSidecar(path: path) }
                return nil
            }
            return try SmallFile.read(path)
        }
        let configJSON = try sidecar("config.json", required: true) ?? []
        let preprocessorJSON = try sidecar("preprocessor_config.json", required: true) ?? []
        let generationJSON = try sidecar("generation_config.json", required: false)
        let family = try BLIP2Config.family(configJSON: configJSON)
        let vocabulary = family == .opt ? try TokenizerVocabulary(directory: checkpoint.directory) : nil
        let wordPiece = family == .retrieval ? try WordPieceVocabulary(directory: checkpoint.directory) : nil
        let unigram = family == .t5 ? try UnigramVocabulary(directory: checkpoint.directory) : nil
        var config = try BLIP2Config(configJSON: configJSON, preprocessorJSON: preprocessorJSON,
                                     generationJSON: generationJSON, imageTokenFallback: vocabulary?.id(of: "<image>"))
        if config.family == .t5 { config.t5.separateHead = checkpoint.tensors["language_model.lm_head.weight"] != nil }
        let (tokenCount, embeddingRows) = switch config.family {
        case .opt: (vocabulary?.tokens.count ?? 0, config.text.vocabSize)
        case .retrieval: (wordPiece?.tokens.count ?? 0, config.qformer.vocabSize)
        case .t5: (unigram?.pieces.count ?? 0, config.t5.vocabSize)
        }
        guard tokenCount <= embeddingRows else {
            throw ConversionError.vocabularyTooLarge(tokens: tokenCount, embeddingRows: embeddingRows)
        }

        let specs = config.tensorSpecs
        var expected = Set(specs.map(\.name))
        var assembled: [Int: TensorSource] = [:]
        for (i, spec) in specs.enumerated() where checkpoint.tensors[spec.name] == nil {
            if let bias = try Self.legacyQKVBias(spec, in: checkpoint) {
                assembled[i] = bias.source
                expected.formUnion(bias.names)
            }
        }
        let unexpected = checkpoint.tensors.keys.filter { !expected.contains($0) && !BLIP2Weights.isIgnorable($0, family: family) }.sorted()
        guard unexpected.isEmpty else { throw ConversionError.unexpectedTensors(names: unexpected) }
        var tensors: [GGUFTensorPlan] = []
        var sources: [TensorSource] = []
        for (i, spec) in specs.enumerated() {
            guard spec.fileName.utf8.count <= GGUFFile.maxTensorNameBytes else { throw ConversionError.nameTooLong(name: spec.fileName) }
            if let source = assembled[i] {
                sources.append(source)
            } else {
                guard let (file, found) = checkpoint.tensors[spec.name] else { throw ConversionError.missingTensor(name: spec.name) }
                guard found.shape == spec.shape else {
                    throw ConversionError.shapeMismatch(name: spec.name, expected: spec.shape, found: found.shape)
                }
                guard found.dtype.isConvertible else {
                    throw ConversionError.unsupportedDType(name: spec.name, dtype: found.dtype.rawValue)
                }
                sources.append(TensorSource(dtype: found.dtype, pieces: [.file(file, offset: found.fileOffset, bytes: found.byteCount)]))
            }
            tensors.append(GGUFTensorPlan(name: spec.fileName, type: try plan.type(for: spec), shape: spec.shape))
        }

        var metadata = GGUFMetadata()
        metadata.set("general.architecture", .string(BLIP2Config.architecture))
        metadata.set("general.name", .string(FilePaths.lastComponent(of: FilePaths.resolved(checkpoint.directory) ?? checkpoint.directory)))
        metadata.set("general.file_type", .uint32(Self.ggmlFileType(plan.fileType)))
        metadata.set("general.quantization_version", .uint32(2))
        if tensors.contains(where: { $0.type == .q4_0x8 }) { metadata.set(GGMLType.interleavedKey, .bool(true)) }
        for (k, v) in config.metadata.entries { metadata.set(k, v) }
        for (k, v) in (vocabulary?.metadata ?? wordPiece?.metadata ?? unigram?.metadata ?? GGUFMetadata()).entries { metadata.set(k, v) }
        return Prepared(checkpoint: checkpoint, config: config, vocabulary: vocabulary, wordPiece: wordPiece, unigram: unigram, specs: specs,
                        tensors: tensors, metadata: metadata, sources: sources)
    }

    /// Checkpoints saved by transformers 4 hold the vision attention's biases as separate
    /// `q_bias` and `v_bias`; transformers 5 (and our files) hold `qkv.bias` = q | 0 | v.
    static func legacyQKVBias(_ spec: TensorSpec, in checkpoint: Checkpoint) throws -> (source: TensorSource, names: [String])? {
        guard spec.name.hasSuffix(".self_attn.qkv.bias") else { return nil }
        let prefix = String(spec.name.dropLast("qkv.bias".count))
        let names = [prefix + "q_bias", prefix + "v_bias"]
        guard let q = checkpoint.tensors[names[0]], let v = checkpoint.tensors[names[1]] else { return nil }
        let width = spec.shape[0] / 3
        for (name, t) in zip(names, [q.tensor, v.tensor]) {
            guard t.shape == [width] else { throw ConversionError.shapeMismatch(name: name, expected: [width], found: t.shape) }
            guard t.dtype.isConvertible else { throw ConversionError.unsupportedDType(name: name, dtype: t.dtype.rawValue) }
        }
        // The fused bias is converted as one row, from one dtype.
        guard v.tensor.dtype == q.tensor.dtype else {
            throw ConversionError.dtypeMismatch(name: names[1], dtype: v.tensor.dtype.rawValue, other: names[0], otherDType: q.tensor.dtype.rawValue)
        }
        let pieces: [Piece] = [.file(q.file, offset: q.tensor.fileOffset, bytes: q.tensor.byteCount), .zeros(bytes: q.tensor.byteCount),
                               .file(v.file, offset: v.tensor.fileOffset, bytes: v.tensor.byteCount)]
        return (TensorSource(dtype: q.tensor.dtype, pieces: pieces), names)
    }

    /// llama.cpp's `general.file_type` numbers (ALL_F32, MOSTLY_F16, MOSTLY_Q4_0, MOSTLY_Q8_0).
    static func ggmlFileType(_ t: GGMLType) -> UInt32 {
        switch t {
        case .f32: 0
        case .f16: 1
        case .q4_0, .q4_0x8: 2
        case .q8_0: 7
        }
    }

    @discardableResult
    public func convert(input: String, output: String) throws -> ConversionSummary {
        let start = Clock.monotonicNanoseconds()
        let prepared = try prepare(input: input)
        try checkOutputPath(output, inputs: prepared.checkpoint.files.map(\.path))
        let layout = GGUFLayout(metadata: prepared.metadata, tensors: prepared.tensors)
        let chunks = chunkList(prepared)
        let totalInput = chunks.reduce(0) { $0 + $1.inputBytes }
        let out = try AtomicOutputFile(finalPath: output)
        var summary = ConversionSummary()
        let maxInput = chunks.map(\.inputBytes).max() ?? 0
        let maxFloats = chunks.map { $0.rows * $0.rowLength }.max() ?? 0
        let maxOutput = chunks.map { $0.rows * (prepared.tensors[$0.tensor].type.rowBytes($0.rowLength) ?? 0) }.max() ?? 0
        let reader = ChunkReader(files: prepared.checkpoint.files, bufferBytes: maxInput)
        let writer = ChunkWriter(out: out, bufferBytes: maxOutput)
        let floats = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(1, maxFloats))
        defer { floats.deallocate() }
        let pool = try ThreadPool(threads: threads)
        do {
            try layout.header.withUnsafeBytes { b in try out.write(b) }
            var written = layout.header.count
            var inputDone = 0
            if !chunks.isEmpty { reader.start(chunks[0], slot: 0) }
            for (k, chunk) in chunks.enumerated() {
                let input = try reader.wait(slot: k % 2)
                // The next read runs while this chunk converts: a cold disk and the CPU overlap.
                if k + 1 < chunks.count { reader.start(chunks[k + 1], slot: (k + 1) % 2) }
                let plan = prepared.tensors[chunk.tensor]
                let name = prepared.specs[chunk.tensor].name
                let padding = chunk.firstRow == 0 ? layout.tensorOffsets[chunk.tensor] - written : 0
                // This chunk's result goes to the buffer whose previous write has finished; the
                // write itself runs while the next chunk converts.
                let converted = try writer.buffer(slot: k % 2)
                let nonFinite = RowConverter(input: UnsafeRawPointer(input), dtype: chunk.dtype, floats: floats.baseAddress!,
                                             output: converted, type: plan.type, rowLength: chunk.rowLength)
                    .run(rows: chunk.rows, pool: pool)
                if nonFinite > 0 { throw ConversionError.nonFinite(name: name, count: nonFinite) }
                let bytes = chunk.rows * (plan.type.rowBytes(chunk.rowLength) ?? 0)
                writer.start(slot: k % 2, padding: padding, bytes: bytes)
                written += padding + bytes
                inputDone += chunk.inputBytes
                summary.inputBytes += chunk.inputBytes
                if chunk.firstRow + chunk.rows == plan.elementCount / chunk.rowLength {
                    summary.tensorCount += 1
                    summary.parameterCount += plan.elementCount
                    summary.parametersByType[plan.type, default: 0] += plan.elementCount
                    summary.bytesByType[plan.type, default: 0] += plan.byteCount
                }
                progress?(ConversionProgress(tensorIndex: chunk.tensor, tensorCount: prepared.tensors.count, tensorName: name,
                                             inputBytesDone: inputDone, inputBytesTotal: totalInput,
                                             seconds: Self.seconds(since: start)))
            }
            try writer.finish()
            try out.writeZeros(layout.totalSize - written)
            try out.commit()
        } catch {
            reader.drain()
            writer.drain()
            out.discard()
            throw error
        }
        summary.outputBytes = layout.totalSize
        summary.seconds = Self.seconds(since: start)
        return summary
    }

    /// A run of bytes of a tensor's input.
    enum Piece {
        case file(Int, offset: Int, bytes: Int)
        /// The k part of a fused qkv bias, which checkpoints with q_bias and v_bias leave out.
        case zeros(bytes: Int)

        var bytes: Int {
            switch self {
            case let .file(_, _, bytes), let .zeros(bytes): bytes
            }
        }
    }

    /// A tensor's input bytes, in order: one range of a checkpoint file, or several pieces
    /// for a tensor assembled from others.
    struct TensorSource {
        let dtype: SafetensorsDType
        let pieces: [Piece]

        /// The pieces that hold bytes `range` of the tensor.
        func pieces(_ range: Range<Int>) -> [Piece] {
            var start = 0
            return pieces.compactMap { piece in
                defer { start += piece.bytes }
                let part = range.clamped(to: start..<(start + piece.bytes))
                guard !part.isEmpty else { return nil }
                switch piece {
                case let .file(file, offset, _): return .file(file, offset: offset + part.lowerBound - start, bytes: part.count)
                case .zeros: return .zeros(bytes: part.count)
                }
            }
        }
    }

    /// A run of whole rows of one tensor, read and converted as a unit.
    struct Chunk {
        let tensor: Int
        let dtype: SafetensorsDType
        let pieces: [Piece]
        let firstRow: Int
        let rows: Int
        let rowLength: Int

        var inputBytes: Int { pieces.reduce(0) { $0 + $1.bytes } }
    }

    /// Splits every tensor into chunks of about `chunkBytes` (as float32; at least a row).
    func chunkList(_ prepared: Prepared) -> [Chunk] {
        var chunks: [Chunk] = []
        for (i, (source, plan)) in zip(prepared.sources, prepared.tensors).enumerated() {
            let rowLength = plan.shape.last ?? 1
            let rows = plan.elementCount / rowLength
            let rowBytes = rowLength * source.dtype.size
            // Q4_0x8 interleaves whole groups of 8 rows, so its chunks hold whole groups.
            let group = plan.type == .q4_0x8 ? 8 : 1
            let perChunk = max(1, chunkBytes / max(1, rowLength * 4) / group) * group
            var row = 0
            while row < rows {
                let n = min(perChunk, rows - row)
                chunks.append(Chunk(tensor: i, dtype: source.dtype, pieces: source.pieces((row * rowBytes)..<((row + n) * rowBytes)),
                                    firstRow: row, rows: n, rowLength: rowLength))
                row += n
            }
        }
        return chunks
    }

    private func checkOutputPath(_ output: String, inputs: [String]) throws {
        if FilePaths.isDirectory(output) { throw ConversionError.outputIsDirectory(path: output) }
        // An output that does not exist yet cannot be an input.
        guard let resolved = FilePaths.resolved(output) else { return }
        if inputs.contains(where: { FilePaths.resolved($0) == resolved }) {
            throw ConversionError.outputIsInput(path: output)
        }
    }

    static func seconds(since start: UInt64) -> Double {
        Double(Clock.monotonicNanoseconds() - start) / 1e9
    }
}
