import BLIP2CommandLine
import BLIP2Edge
import BLIP2System

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

let usage = """
usage: blip2-quantize IN OUT [options]    convert a HuggingFace BLIP-2 checkpoint
       blip2-quantize inspect FILE        show a model file's metadata and tensors

IN is a .safetensors file, a sharded checkpoint's model.safetensors.index.json, or a
model directory; config.json, preprocessor_config.json and the tokenizer (tokenizer.json,
or vocab.json + merges.txt) are read from beside it. Weights may be F32, F16 or BF16.
OUT is written to a temporary file in its folder and renamed into place when complete.

options:
  --type TYPE               q4_0 (default), q8_0, f16 or f32
  --tensor-type PAT=TYPE    store tensors whose name matches the glob PAT as TYPE
                            (repeatable; the last match wins; names as in transformers
                            or in the file, e.g. 'language_model.*.fc1.weight=q8_0')
  --interleave              store the language model's Q4_0 Linear weights 8 rows
                            interleaved (Q4_0x8): the same bytes reordered so that a
                            decode step's products need no horizontal sums (faster
                            decode on x86; on ARM measure first: those kernels have
                            run only under qemu). The gguf package then reads
                            those tensors as raw I8 bytes
  --threads N               threads for conversion (default: all cores)
  --progress                show progress even when stderr is not a terminal
  --quiet                   print nothing but errors
  -h, --help                show this help

The q4_0 mix: Linear weights Q4_0 (F16 where rows do not divide into 32-blocks); the
token embedding / tied LM head Q8_0; the patch embedding F16; norms, biases, position and
class embeddings and query tokens F32.
"""

/// The convert command's options (`inspect` takes only a file).
struct ConvertOptions: ParsableArguments {
    var positional: [String] = []
    @Option("--type", as: .oneOf("q4_0, q8_0, f16 or f32") { GGMLType(name: $0) }) var type = GGMLType.q4_0
    @Option("--tensor-type", as: .wants("PATTERN=TYPE (TYPE q4_0, q8_0, f16 or f32)") { QuantizationPlan.Override(argument: $0) })
    var overrides: [QuantizationPlan.Override] = []
    @Option("--threads", as: .int(1...1024, "a number from 1 to 1024")) var threads = Processors.available
    @Flag("--interleave") var interleave: Bool
    @Flag("--progress") var progress: Bool
    @Flag("--quiet") var quiet: Bool
}

func runConvert(_ o: ConvertOptions) throws {
    let positional = o.positional
    guard positional.count == 2 else {
        throw UsageError(positional.count < 2 ? "need an input and an output path" : "too many arguments: \(positional.joined(separator: " "))")
    }
    let showProgress = (o.progress || isatty(STDERR_FILENO) == 1) && !o.quiet
    var converter = Converter(plan: QuantizationPlan(fileType: o.type, overrides: o.overrides, interleaveLanguageModel: o.interleave), threads: o.threads)
    if showProgress {
        converter.progress = { p in
            let rate = p.seconds > 0 ? Double(p.inputBytesDone) / p.seconds / 1e9 : 0
            StandardStreams.writeError(format("\r[%4ld/%4ld] ", p.tensorIndex + 1, p.tensorCount)
                + "\(formatBytes(p.inputBytesDone)) / \(formatBytes(p.inputBytesTotal))  " + format("%.2f GB/s ", rate))
        }
    }
    let s = try converter.convert(input: positional[0], output: positional[1])
    if showProgress { StandardStreams.writeError("\n") }
    guard !o.quiet else { return }
    for line in s.reportLines(output: positional[1]) { print(line) }
}

func runInspect(_ args: [String]) throws {
    guard args.count == 1, !args[0].hasPrefix("-") else { throw UsageError("inspect takes one model file") }
    let file = try GGUFFile(path: args[0])
    print("\(file.path): GGUF v\(file.version), \(file.metadata.entries.count) metadata keys, \(file.tensors.count) tensors, alignment \(file.alignment)")
    print("\nmetadata:")
    for (key, value) in file.metadata.entries {
        print("  \(key) = \(describe(value))")
    }
    print("\ntensors:")
    func shape(_ t: GGUFTensorInfo) -> String { "[" + t.shape.map(String.init).joined(separator: ", ") + "]" }
    let width = file.tensors.map(\.name.count).max() ?? 10
    let typeWidth = file.tensors.map(\.type.description.count).max() ?? 4
    let shapeWidth = file.tensors.map { shape($0).count }.max() ?? 2
    var bytesByType: [GGMLType: Int] = [:]
    for t in file.tensors {
        print("  \(t.name.padded(to: width))  \(t.type.description.padded(to: typeWidth)) \(shape(t).padded(to: shapeWidth)) \(formatBytes(t.byteCount))")
        bytesByType[t.type, default: 0] += t.byteCount
    }
    let params = file.tensors.reduce(0) { $0 + $1.elementCount }
    let bytes = file.tensors.reduce(0) { $0 + $1.byteCount }
    print("\ntotal: \(params) parameters, \(formatBytes(bytes)) of tensor data (\(format("%.2f", Double(bytes) * 8 / Double(max(params, 1)))) bits/weight)")
    for t in GGMLType.allCases { if let b = bytesByType[t] { print("  \(t): \(formatBytes(b))") } }
}

func describe(_ v: GGUFValue) -> String {
    switch v {
    case let .string(s): return "\"\(s)\""
    case let .array(type, values):
        let shown = values.prefix(6).map(describe).joined(separator: ", ")
        return values.count <= 6 ? "[\(shown)]" : "[\(values.count) \(type) values: \(shown), ...]"
    case let .float32(f): return "\(f)"
    case let .float64(f): return "\(f)"
    case let .bool(b): return "\(b)"
    default: return v.integer.map(String.init) ?? "?"
    }
}

let tool = Tool(name: "blip2-quantize", usage: usage, options: ConvertOptions.self)
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.isEmpty { tool.showUsage(exit: 2) }
if arguments.contains("-h") || arguments.contains("--help") { tool.showUsage(exit: 0) }
tool.run {
    if arguments.first == "inspect" {
        try runInspect(Array(arguments.dropFirst()))
    } else {
        try runConvert(ConvertOptions(parsing: arguments))
    }
}
