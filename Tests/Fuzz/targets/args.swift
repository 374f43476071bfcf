import BLIP2Edge

/// blip2-edge's options through the shared parser: the input split at NUL bytes is the argument list.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzArgs(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let args = UnsafeBufferPointer(start: data, count: size).split(separator: 0, omittingEmptySubsequences: false)
        .map { String(decoding: $0, as: UTF8.self) }
    guard let options = try? Options(parsing: args) else { return 0 }
    _ = try? options.parameters(defaults: BLIP2Model.captionDefaults)
    _ = try? options.parameters(defaults: BLIP2Model.questionDefaults)
    return 0
}
