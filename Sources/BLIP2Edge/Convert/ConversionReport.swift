import BLIP2System

/// A byte count as people read it: "512 B", "366.72 KiB", "3.49 GiB".
public func formatBytes(_ n: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n)
    var u = 0
    while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return u == 0 ? "\(n) B" : format("%.2f ", v) + units[u]
}

extension ConversionSummary {
    /// What blip2-quantize prints after writing `path`. Kept apart from the conversion so the
    /// tests can check it at full-model sizes without converting a full model.
    public func reportLines(output path: String) -> [String] {
        // Counts go through interpolation, not a printf format: `%d` takes 32 bits and
        // printed 3 billion Q4_0 parameters as a negative number.
        func right(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
        func left(_ s: String, _ width: Int) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }
        let params = parameterCount >= 100_000_000 ? format("%.2f B", Double(parameterCount) / 1e9)
            : format("%.2f M", Double(parameterCount) / 1e6)
        var lines = [
            "wrote \(path): \(tensorCount) tensors, \(params) parameters",
            "  \(formatBytes(inputBytes)) -> \(formatBytes(outputBytes)) (\(format("%.2f", bitsPerWeight)) bits/weight) in \(format("%.2f", seconds)) s",
        ]
        for t in GGMLType.allCases {
            guard let n = parametersByType[t], let b = bytesByType[t] else { continue }
            lines.append("  \(left(t.description, 5)) \(right(String(n), 14)) parameters  \(formatBytes(b))")
        }
        return lines
    }
}
