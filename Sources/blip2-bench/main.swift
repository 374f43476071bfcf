import BLIP2CommandLine
import BLIP2Edge
import BLIP2System
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Benchmarks and measurements that are not tests: they report numbers for BENCHMARKS.md.
///   blip2-bench tokenizer --model F [--words N]      encode time per word of a long prompt
///   blip2-bench quality --reference A --candidate B IMAGE [--tokens N] [--threads N]
///       KL divergence and same-top-token rate of B's next-token distributions against A's,
///       teacher-forced over the tokens A generates greedily (llama.cpp's perplexity metrics)
///   blip2-bench retrieval --model F IMAGE [--runs N] [--threads N]
///       a retrieval model's stage times (medians): image features, text features, ITM per pair
///   blip2-bench ranking --reference A --candidate B --texts FILE IMAGE...
///       how B's ITC and ITM rankings of the images for each text agree with A's (Kendall tau,
///       same first image)
let usage = """
usage: blip2-bench tokenizer --model FILE [--words N] [--runs N]
       blip2-bench quality --reference FILE --candidate FILE IMAGE [--tokens N] [--threads N]
       blip2-bench retrieval --model FILE IMAGE [--runs N] [--threads N]
       blip2-bench ranking --reference FILE --candidate FILE --texts FILE IMAGE... [--threads N]
"""

struct BenchOptions: ParsableArguments {
    var positional: [String] = []
    @Option("--model", as: .text) var model: String?
    @Option("--words", as: .int(1...1_000_000)) var words = 1000
    @Option("--runs", as: .int(1...10_000)) var runs = 21
    @Option("--reference", as: .text) var reference: String?
    @Option("--candidate", as: .text) var candidate: String?
    @Option("--tokens", as: .int(1...1024)) var tokens = 20
    @Option("--threads", as: .int(0...1024)) var threads = 0
    @Option("--texts", as: .text) var texts: String?
}

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

func peakResidentMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Kendall's tau-a of two score lists over the same items.
func kendallTau(_ a: [Float], _ b: [Float]) -> Double {
    var concordant = 0, discordant = 0
    for i in a.indices {
        for j in (i + 1)..<a.count {
            let s = (a[i] - a[j]) * (b[i] - b[j])
            if s > 0 { concordant += 1 } else if s < 0 { discordant += 1 }
        }
    }
    let pairs = a.count * (a.count - 1) / 2
    return pairs == 0 ? 1 : Double(concordant - discordant) / Double(pairs)
}

let tool = Tool(name: "blip2-bench", usage: usage, options: BenchOptions.self)
let arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else { tool.showUsage(exit: 2) }
if command == "-h" || command == "--help" { tool.showUsage(exit: 0) }

func now() -> Double { Clock.monotonicSeconds() }

tool.run {
    let options = try BenchOptions(parsing: Array(arguments.dropFirst()))
    switch command {
    case "tokenizer":
        guard let path = options.model else { throw UsageError("tokenizer needs --model") }
        let model = try BLIP2Model(path: path)
        let words = options.words, runs = options.runs
        // Prose with questions, digits and punctuation: the kinds of text prompts carry.
        let vocabulary = ["the", "cat", "is", "sitting", "on", "a", "red", "couch", "next", "to", "two", "dogs,", "while",
                          "Question:", "what", "colour", "are", "their", "collars?", "Answer:", "1,024", "photographs",
                          "of", "Zürich", "at", "night;", "it's", "3.14", "(maybe)", "unbelievably", "crowded!"]
        var rng = SystemRandomNumberGenerator()
        let text = (0..<words).map { _ in vocabulary.randomElement(using: &rng)! }.joined(separator: " ")
        var times: [Double] = []
        var tokens = 0
        for _ in 0..<runs {
            let t = now()
            tokens = model.tokenizer.encode(text).count
            times.append(now() - t)
        }
        times.sort()
        let median = times[times.count / 2]
        print(format("tokenizer: %ld words -> %ld tokens; median %.3f ms (%.2f us/word) over %ld runs",
                     words, tokens, median * 1e3, median / Double(words) * 1e6, runs))
    case "quality":
        guard let refPath = options.reference, let candPath = options.candidate, options.positional.count == 1 else {
            throw UsageError("quality needs --reference, --candidate and an image")
        }
        let steps = options.tokens, threads = options.threads
        let image = try ImageDecoder.read([UInt8](try SmallFile.read(options.positional[0])))
        var greedy = GenerationParameters.greedy(maxNewTokens: steps)
        greedy.minNewTokens = steps
        // The reference picks the tokens; both then score the same sequence.
        let reference = try Session(model: try BLIP2Model(path: refPath), threads: threads)
        let tokens = try reference.generate(image: image, parameters: greedy).tokens
        let refLogits = try reference.logits(image: image, following: tokens)
        // Rows before the first generated token's prediction: OPT's image and BOS; T5's logits are
        // the decoder's alone, from its start token.
        let prefix = reference.model.config.family == .t5 ? 1 : reference.model.config.queryTokenCount + 1
        let vocab = reference.model.config.languageVocabSize
        let candidate = try Session(model: try BLIP2Model(path: candPath), threads: threads)
        let candLogits = try candidate.logits(image: image, following: tokens)
        var kl = [Double](), same = 0
        // Position p predicts token p + 1; the generated tokens are predicted from prefix - 1 on.
        for p in (prefix - 1)..<(prefix - 1 + tokens.count) {
            let a = refLogits[(p * vocab)..<((p + 1) * vocab)], b = candLogits[(p * vocab)..<((p + 1) * vocab)]
            func logSoftmax(_ x: ArraySlice<Float>) -> [Double] {
                let m = Double(x.max() ?? 0)
                let lse = m + log(x.reduce(0.0) { $0 + exp(Double($1) - m) })
                return x.map { Double($0) - lse }
            }
            let la = logSoftmax(a), lb = logSoftmax(b)
            kl.append(zip(la, lb).reduce(0.0) { $0 + exp($1.0) * ($1.0 - $1.1) })
            if la.indices.max(by: { la[$0] < la[$1] }) == lb.indices.max(by: { lb[$0] < lb[$1] }) { same += 1 }
        }
        let meanKL = kl.reduce(0, +) / Double(kl.count)
        print("quality: \(FilePaths.lastComponent(of: candPath)) vs \(FilePaths.lastComponent(of: refPath)) "
              + format("over %ld steps: mean KL %.5f (max %.5f), same top token %.1f%%", kl.count, meanKL,
                       kl.max() ?? 0, 100 * Double(same) / Double(kl.count)))
    case "retrieval":
        guard let path = options.model, options.positional.count == 1 else { throw UsageError("retrieval needs --model and an image") }
        let session = try RetrievalSession(model: try RetrievalModel(path: path), threads: options.threads)
        let rgb = try ImageDecoder.read([UInt8](try SmallFile.read(options.positional[0])))
        let text = "a red bicycle leaning against a brick wall next to a wooden door"
        var image = try session.encode(image: rgb)  // warms the page cache and the pool
        var imageTimes: [Double] = [], textTimes: [Double] = [], itmTimes: [Double] = []
        for _ in 0..<options.runs {
            var t = now()
            image = try session.encode(image: rgb)
            imageTimes.append(now() - t)
            t = now()
            _ = try session.features(text: text)
            textTimes.append(now() - t)
            t = now()
            _ = try session.matchProbability(image, text: text)
            itmTimes.append(now() - t)
        }
        print("retrieval: \(FilePaths.lastComponent(of: path)), "
              + format("%ld threads, %ld runs, %ld text tokens: image features %.3f s, text features %.1f ms, ITM %.1f ms per pair; peak resident %.0f MiB",
                     session.threads, options.runs, try session.model.tokens(text).count,
                     median(imageTimes), median(textTimes) * 1e3, median(itmTimes) * 1e3, peakResidentMiB()))
    case "ranking":
        guard let refPath = options.reference, let candPath = options.candidate, let textsPath = options.texts,
              options.positional.count >= 2 else {
            throw UsageError("ranking needs --reference, --candidate, --texts and at least two images")
        }
        guard let textFile = String(validating: try SmallFile.read(textsPath), as: UTF8.self) else { throw UsageError("\(textsPath) is not UTF-8") }
        let texts = textFile.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        let images = try options.positional.map { try ImageDecoder.read(try SmallFile.read($0)) }
        /// scores[text][image] of ITC and ITM.
        func scores(_ path: String) throws -> (itc: [[Float]], itm: [[Float]]) {
            let session = try RetrievalSession(model: try RetrievalModel(path: path), threads: options.threads)
            let encoded = try images.map { try session.encode(image: $0) }
            var itc: [[Float]] = [], itm: [[Float]] = []
            for text in texts {
                let s = try encoded.map { try session.match($0, text: text) }
                itc.append(s.map(\.similarity))
                itm.append(s.map(\.matchProbability))
            }
            return (itc, itm)
        }
        let a = try scores(refPath), b = try scores(candPath)
        for (name, x, y) in [("ITC", a.itc, b.itc), ("ITM", a.itm, b.itm)] {
            let taus = zip(x, y).map { kendallTau($0, $1) }
            let top1 = zip(x, y).filter { p in p.0.indices.max { p.0[$0] < p.0[$1] } == p.1.indices.max { p.1[$0] < p.1[$1] } }.count
            let maxDiff = zip(x, y).flatMap { zip($0, $1).map { abs($0 - $1) } }.max() ?? 0
            print("ranking \(name): \(FilePaths.lastComponent(of: candPath)) vs \(FilePaths.lastComponent(of: refPath)), "
                  + format("%ld texts x %ld images: Kendall tau mean %.4f (min %.4f), same top image %ld/%ld, largest score difference %.4f",
                         texts.count, images.count,
                         taus.reduce(0, +) / Double(taus.count), taus.min() ?? 0, top1, texts.count, maxDiff))
        }
    default:
        throw UsageError("unknown command \(command) (tokenizer, quality, retrieval, ranking)")
    }
}
