import Foundation

/// Writes a fuzz input to a scratch file (the readers under test take paths, as users give
/// them) and returns its path. One file per process, rewritten each run.
func scratchFile(_ data: UnsafePointer<UInt8>, _ size: Int, name: String = "input") -> String {
    let dir = (ProcessInfo.processInfo.environment["FUZZ_SCRATCH"] ?? NSTemporaryDirectory()) + "/blip2-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let path = dir + "/" + name
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size))
    return path
}

/// Touches the first and last byte of a view, so an out-of-bounds view faults under ASan.
@inline(never)
func touch(_ b: UnsafeRawBufferPointer) -> UInt8 {
    guard let first = b.first, let last = b.last else { return 0 }
    return first &+ last
}
