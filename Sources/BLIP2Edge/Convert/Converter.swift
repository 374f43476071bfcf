import CKernels
import Dispatch
import Foundation

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

    public init(plan: QuantizationPlan, threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.plan = plan
        self.threads = max(1, threads)
    }

    /// Everything the output will hold, checked against the checkpoint before any byte is
    /// written.
    public struct Prepared {
        public let checkpoint: Checkpoint
        public let config: BLIP2Config
        public let vocabulary: TokenizerVocabulary
        public let specs: [TensorSpec]
        public let tensors: [GGUFTensorPlan]
        public let metadata: GGUFMetadata
    }

    public func prepare(input: String) throws -> Prepared {
        let checkpoint = try Checkpoint(path: input)
        func sidecar(_ name: String, required: Bool) throws -> Data? {
            let path = checkpoint.sidecar(name)
            guard FileManager.default.fileExists(atPath: path) else {
                if required { throw ConversionError.missingSidecar(path: path) }
                return nil
            }
            do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw FileError.readFailed(path: path, reason: "could not read the file")
            }
        }
        let configJSON = try sidecar("config.json", required: true) ?? Data()
        let preprocessorJSON = try sidecar("preprocessor_config.json", required: true) ?? Data()
        let generationJSON = try sidecar("generation_config.json", required: false)
        let vocabulary = try TokenizerVocabulary(directory: checkpoint.directory)
        let config = try BLIP2Config(configJSON: configJSON, preprocessorJSON: preprocessorJSON,
                                     generationJSON: generationJSON, imageTokenFallback: vocabulary.id(of: "<image>"))
        guard vocabulary.tokens.count <= config.text.vocabSize else {
            throw ConversionError.vocabularyTooLarge(tokens: vocabulary.tokens.count, embeddingRows: config.text.vocabSize)
        }

        let specs = config.tensorSpecs
        let expected = Set(specs.map(\.name))
        let unexpected = checkpoint.tensors.keys.filter { !expected.contains($0) && !BLIP2Config.isIgnorable($0) }.sorted()
        guard unexpected.isEmpty else { throw ConversionError.unexpectedTensors(names: unexpected) }
        var tensors: [GGUFTensorPlan] = []
        for spec in specs {
            guard let found = checkpoint.tensors[spec.name]?.tensor else { throw ConversionError.missingTensor(name: spec.name) }
            guard found.shape == spec.shape else {
                throw ConversionError.shapeMismatch(name: spec.name, expected: spec.shape, found: found.shape)
            }
            guard found.dtype.isConvertible else {
                throw ConversionError.unsupportedDType(name: spec.name, dtype: found.dtype.rawValue)
            }
            let name = TensorNames.gguf(spec.name)
            guard name.utf8.count <= GGUFFile.maxTensorNameBytes else { throw ConversionError.nameTooLong(name: name) }
            tensors.append(GGUFTensorPlan(name: name, type: try plan.type(for: spec), shape: spec.shape))
        }

        var metadata = GGUFMetadata()
        metadata.set("general.architecture", .string(BLIP2Config.architecture))
        metadata.set("general.name", .string(URL(fileURLWithPath: checkpoint.directory).standardized.lastPathComponent))
        metadata.set("general.file_type", .uint32(Self.ggmlFileType(plan.fileType)))
        metadata.set("general.quantization_version", .uint32(2))
        for (k, v) in config.metadata.entries { metadata.set(k, v) }
        for (k, v) in vocabulary.metadata.entries { metadata.set(k, v) }
        return Prepared(checkpoint: checkpoint, config: config, vocabulary: vocabulary, specs: specs,
                        tensors: tensors, metadata: metadata)
    }

    /// llama.cpp's `general.file_type` numbers (ALL_F32, MOSTLY_F16, MOSTLY_Q4_0, MOSTLY_Q8_0).
    static func ggmlFileType(_ t: GGMLType) -> UInt32 {
        switch t {
        case .f32: 0
        case .f16: 1
        case .q4_0: 2
        case .q8_0: 7
        }
    }

    @discardableResult
    public func convert(input: String, output: String) throws -> ConversionSummary {
        let start = DispatchTime.now()
        let prepared = try prepare(input: input)
        try checkOutputPath(output, inputs: prepared.checkpoint.files.map(\.path))
        let layout = GGUFLayout(metadata: prepared.metadata, tensors: prepared.tensors)
        let out = try AtomicOutputFile(finalPath: output)
        var summary = ConversionSummary()
        let totalInput = prepared.specs.reduce(0) { $0 + (prepared.checkpoint.tensors[$1.name]?.tensor.byteCount ?? 0) }
        var buffers = ChunkBuffers(capacityBytes: chunkBytes)
        do {
            try layout.header.withUnsafeBytes { b in try out.write(b) }
            var written = layout.header.count
            var inputDone = 0
            for (i, (spec, plan)) in zip(prepared.specs, prepared.tensors).enumerated() {
                guard let (fileIndex, source) = prepared.checkpoint.tensors[spec.name] else { continue }
                try out.writeZeros(layout.tensorOffsets[i] - written)
                written = layout.tensorOffsets[i]
                try convertTensor(source, in: prepared.checkpoint.files[fileIndex], to: plan, name: spec.name,
                                  buffers: &buffers, out: out) { bytesIn in
                    inputDone += bytesIn
                    progress?(ConversionProgress(tensorIndex: i, tensorCount: prepared.tensors.count, tensorName: spec.name,
                                                 inputBytesDone: inputDone, inputBytesTotal: totalInput,
                                                 seconds: Self.seconds(since: start)))
                }
                written += plan.byteCount
                summary.tensorCount += 1
                summary.parameterCount += plan.elementCount
                summary.inputBytes += source.byteCount
                summary.parametersByType[plan.type, default: 0] += plan.elementCount
                summary.bytesByType[plan.type, default: 0] += plan.byteCount
            }
            try out.writeZeros(layout.totalSize - written)
            try out.commit()
        } catch {
            out.discard()
            throw error
        }
        summary.outputBytes = layout.totalSize
        summary.seconds = Self.seconds(since: start)
        return summary
    }

    private func checkOutputPath(_ output: String, inputs: [String]) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ConversionError.outputIsDirectory(path: output)
        }
        let resolved = URL(fileURLWithPath: output).resolvingSymlinksInPath().path
        if inputs.contains(where: { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path == resolved }) {
            throw ConversionError.outputIsInput(path: output)
        }
    }

    static func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }

    /// Reads a tensor in chunks of whole rows, converts each chunk on all threads, and
    /// appends the result to the output.
    private func convertTensor(_ source: SafetensorsTensor, in file: SafetensorsFile, to plan: GGUFTensorPlan, name: String,
                               buffers: inout ChunkBuffers, out: AtomicOutputFile, chunkDone: (Int) -> Void) throws {
        let rowLength = plan.shape.last ?? 1
        let rows = plan.elementCount / rowLength
        let inRowBytes = rowLength * source.dtype.size
        guard let outRowBytes = plan.type.rowBytes(rowLength) else { return }
        let rowsPerChunk = max(1, chunkBytes / max(inRowBytes, rowLength * 4))
        buffers.reserve(input: rowsPerChunk * inRowBytes, floats: rowsPerChunk * rowLength, output: rowsPerChunk * outRowBytes)
        var row = 0
        while row < rows {
            let n = min(rowsPerChunk, rows - row)
            let input = UnsafeMutableRawBufferPointer(rebasing: buffers.input[0..<(n * inRowBytes)])
            try file.read(at: source.fileOffset + row * inRowBytes, into: input)
            let nonFinite = RowConverter(input: UnsafeRawPointer(input.baseAddress!), dtype: source.dtype,
                                         floats: buffers.floats.baseAddress!, output: buffers.output.baseAddress!,
                                         type: plan.type, rowLength: rowLength)
                .run(rows: n, threads: threads)
            if nonFinite > 0 { throw ConversionError.nonFinite(name: name, count: nonFinite) }
            try out.write(UnsafeRawBufferPointer(rebasing: buffers.output[0..<(n * outRowBytes)]))
            row += n
            chunkDone(n * inRowBytes)
        }
    }
}

/// Scratch memory reused across all tensors of a conversion.
struct ChunkBuffers: ~Copyable {
    private(set) var input: UnsafeMutableRawBufferPointer
    private(set) var floats: UnsafeMutableBufferPointer<Float>
    private(set) var output: UnsafeMutableRawBufferPointer

    init(capacityBytes: Int) {
        input = .allocate(byteCount: capacityBytes, alignment: 64)
        floats = .allocate(capacity: capacityBytes / 4)
        output = .allocate(byteCount: capacityBytes, alignment: 64)
    }

    mutating func reserve(input i: Int, floats f: Int, output o: Int) {
        if input.count < i { input.deallocate(); input = .allocate(byteCount: i, alignment: 64) }
        if floats.count < f { floats.deallocate(); floats = .allocate(capacity: f) }
        if output.count < o { output.deallocate(); output = .allocate(byteCount: o, alignment: 64) }
    }

    deinit {
        input.deallocate()
        floats.deallocate()
        output.deallocate()
    }
}

/// Converts rows from a checkpoint dtype to a storage type, rows split across threads.
private struct RowConverter: @unchecked Sendable {
    let input: UnsafeRawPointer
    let dtype: SafetensorsDType
    let floats: UnsafeMutablePointer<Float>
    let output: UnsafeMutableRawPointer
    let type: GGMLType
    let rowLength: Int

    /// Returns the number of non-finite values met where the storage type cannot hold them.
    func run(rows: Int, threads: Int) -> Int {
        let parts = min(threads, rows)
        guard parts > 1 else { return convert(rows: 0..<rows) }
        let counts = PerThreadCounts(parts)
        defer { counts.storage.deallocate() }
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            counts.storage[p] = convert(rows: (rows * p / parts)..<(rows * (p + 1) / parts))
        }
        return counts.storage.reduce(0, +)
    }

    private func convert(rows: Range<Int>) -> Int {
        let n = rows.count * rowLength
        let first = rows.lowerBound * rowLength
        let x: UnsafePointer<Float>
        switch dtype {
        case .f32:
            x = UnsafePointer(input.assumingMemoryBound(to: Float.self) + first)
        case .f16:
            ck_f16_to_f32(input.assumingMemoryBound(to: UInt16.self) + first, floats + first, n)
            x = UnsafePointer(floats + first)
        case .bf16:
            ck_bf16_to_f32(input.assumingMemoryBound(to: UInt16.self) + first, floats + first, n)
            x = UnsafePointer(floats + first)
        default:
            preconditionFailure("dtype \(dtype) was rejected before conversion")
        }
        let outOffset = rows.lowerBound * (type.rowBytes(rowLength) ?? 0)
        switch type {
        case .f32:
            (output + outOffset).copyMemory(from: x, byteCount: n * 4)
            return 0
        case .f16:
            ck_f32_to_f16(x, (output + outOffset).assumingMemoryBound(to: UInt16.self), n)
            return 0
        case .q8_0:
            return ck_quantize_q8_0_gguf(x, (output + outOffset).assumingMemoryBound(to: ck_block_q8_0.self), n)
        case .q4_0:
            return ck_quantize_q4_0_gguf(x, (output + outOffset).assumingMemoryBound(to: ck_block_q4_0.self), n)
        }
    }
}

/// One slot per thread; each thread writes only its own.
private struct PerThreadCounts: @unchecked Sendable {
    let storage: UnsafeMutableBufferPointer<Int>
    init(_ n: Int) {
        storage = .allocate(capacity: n)
        storage.initialize(repeating: 0)
    }
}
