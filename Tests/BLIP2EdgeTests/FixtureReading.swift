import XCTest
@testable import BLIP2Edge

/// Reading the forward-pass fixtures (GGUF files written by the Python scripts).
extension GGUFFile {
    func floats(_ name: String) throws -> [Float] {
        let t = try XCTUnwrap(tensor(named: name), "fixture lacks \(name)")
        return Array(bytes(of: t).bindMemory(to: Float.self))
    }

    /// The processor's output: stored as F32 where small, else as the resized 8-bit image and
    /// a per-channel table (pixel = lut[c][rgb8[y][x][c]], bit-identical by construction).
    func pixels() throws -> [Float] {
        if tensor(named: "pixel_values") != nil { return try floats("pixel_values") }
        let rgb = try ints("pixel_values.rgb8")
        let lut = try floats("pixel_values.lut")
        let plane = rgb.count / 3
        var out = [Float](repeating: 0, count: rgb.count)
        for i in 0..<plane {
            for c in 0..<3 { out[c * plane + i] = lut[c * 256 + rgb[3 * i + c]] }
        }
        return out
    }

    func promptIds(_ prompt: String) throws -> [Int] {
        metadata["\(prompt).prompt_ids"] == nil ? [] : try ints("\(prompt).prompt_ids")
    }

    /// One `generate` case of the forward fixtures: its settings, prompt ids and expected ids.
    func generationCase(_ name: String) throws -> (parameters: GenerationParameters, prompt: [Int], expected: [Int]) {
        let k = "gen.\(name)."
        var p = GenerationParameters()
        p.maxNewTokens = try XCTUnwrap(metadata[k + "max_new_tokens"]?.integer)
        p.minNewTokens = metadata[k + "min_new_tokens"]?.integer ?? 0
        p.beamCount = metadata[k + "num_beams"]?.integer ?? 1
        p.lengthPenalty = Float(metadata[k + "length_penalty"]?.number ?? 1)
        p.earlyStopping = metadata[k + "early_stopping"]?.bool ?? false
        p.repetitionPenalty = Float(metadata[k + "repetition_penalty"]?.number ?? 1)
        p.noRepeatNgramSize = metadata[k + "no_repeat_ngram_size"]?.integer ?? 0
        let prompt = try promptIds(try XCTUnwrap(metadata[k + "prompt"]?.string))
        return (p, prompt, try ints(k + "ids"))
    }

    func ints(_ key: String) throws -> [Int] {
        let a = try XCTUnwrap(metadata[key]?.array, "fixture lacks \(key)")
        return a.compactMap(\.integer)
    }

    /// Rows of ids stored flat (`KEYids`) with their lengths (`KEYlengths`).
    func rows(_ key: String) throws -> [[Int]] {
        let flat = try ints(key + "ids"), lengths = try ints(key + "lengths")
        var out: [[Int]] = [], start = 0
        for n in lengths {
            guard n >= 0, start + n <= flat.count else { XCTFail("\(key)lengths exceed \(key)ids"); return out }
            out.append(Array(flat[start..<(start + n)]))
            start += n
        }
        XCTAssertEqual(start, flat.count, "\(key)ids holds more than its lengths")
        return out
    }
}
