@testable import BLIP2Edge

/// The safetensors header parser and positioned reads of what it accepts.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = scratchFile(data, size, name: "model.safetensors")
    guard let file = try? SafetensorsFile(path: path) else { return 0 }
    var buffer = [UInt8](repeating: 0, count: 64)
    for t in file.tensors {
        let n = min(64, t.byteCount)
        try? buffer.withUnsafeMutableBytes { try file.read(at: t.fileOffset, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<n])) }
    }
    return 0
}
