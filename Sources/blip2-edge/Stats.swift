import BLIP2Edge
import BLIP2System

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What --stats and --json report.
struct Stats: Encodable {
    var load: Double
    var timings: StageTimings
    var tokens: Int
    var threads: Int
    var mappedBytes: Int
    var kernels = BLIP2Model.kernelVariant
    var peakResidentBytes: Int = Stats.peakRSS()

    /// ru_maxrss is in KiB on Linux.
    static func peakRSS() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) * 1024
    }

    func report() {
        let ms = { (s: Double) in format("%.1f ms", s * 1000) }
        let lines = [
            "load \(ms(load)), preprocess \(ms(timings.preprocess)), vision \(ms(timings.vision)), Q-Former \(ms(timings.qformer)), prefill \(ms(timings.prefill))",
            "decode \(ms(timings.decodePerToken))/token (\(tokens) tokens), total \(ms(timings.total)) on \(threads) threads, \(kernels) kernels",
            format("peak resident %.1f MiB, model mapped %.1f MiB", Double(peakResidentBytes) / 1_048_576, Double(mappedBytes) / 1_048_576),
        ]
        StandardStreams.writeError(lines.joined(separator: "\n") + "\n")
    }
}

enum JSONOutput {
    struct Line: Encodable {
        let image: String
        let text: String
        let tokens: [Int]
        let stats: Stats
    }

    static func print(image: String, result: GenerationResult, stats: Stats) throws {
        StandardStreams.writeOutput(try JSONEncoding.text(Line(image: image, text: result.text, tokens: result.tokens, stats: stats), sortedKeys: true) + "\n")
    }
}
