import BLIP2Edge
import Foundation

#if canImport(Glibc)
import Glibc
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
        let ms = { (s: Double) in String(format: "%.1f ms", s * 1000) }
        let lines = [
            "load \(ms(load)), preprocess \(ms(timings.preprocess)), vision \(ms(timings.vision)), Q-Former \(ms(timings.qformer)), prefill \(ms(timings.prefill))",
            "decode \(ms(timings.decodePerToken))/token (\(tokens) tokens), total \(ms(timings.total)) on \(threads) threads, \(kernels) kernels",
            String(format: "peak resident %.1f MiB, model mapped %.1f MiB", Double(peakResidentBytes) / 1_048_576, Double(mappedBytes) / 1_048_576),
        ]
        FileHandle.standardError.write(Data(lines.joined(separator: "\n").utf8 + [10]))
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
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(Line(image: image, text: result.text, tokens: result.tokens, stats: stats))
        FileHandle.standardOutput.write(data + [10])
    }
}
