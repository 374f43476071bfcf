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

    func ints(_ key: String) throws -> [Int] {
        let a = try XCTUnwrap(metadata[key]?.array, "fixture lacks \(key)")
        return a.compactMap(\.integer)
    }
}
