@testable import BLIP2Edge

/// The GGUF reader, then everything a model file feeds: configuration, vocabulary,
/// tokenizer, tensor binding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = scratchFile(data, size, name: "model.gguf")
    guard let file = try? GGUFFile(path: path) else { return 0 }
    var sink: UInt8 = 0
    for t in file.tensors { sink &+= touch(file.bytes(of: t)) }
    if let config = try? BLIP2Config(metadata: file.metadata, path: path) { sink &+= UInt8(truncatingIfNeeded: config.tensorSpecs.count) }
    if let vocabulary = try? TokenizerVocabulary(metadata: file.metadata, path: path),
       let tokenizer = try? Tokenizer(vocabulary: vocabulary) {
        sink &+= UInt8(truncatingIfNeeded: tokenizer.encode("a photo of two cats 12 ü 😀").count)
        sink &+= UInt8(truncatingIfNeeded: tokenizer.decode(Array(0..<min(64, vocabulary.tokens.count))).utf8.count)
    }
    if let model = try? ModelFile(path: path) { sink &+= UInt8(truncatingIfNeeded: model.gguf.tensors.count) }
    return sink == 255 ? 0 : 0
}
