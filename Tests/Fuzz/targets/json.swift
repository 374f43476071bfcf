import Foundation
@testable import BLIP2Edge
import BLIP2System

/// The converter's JSON ingestion: config.json / preprocessor_config.json /
/// generation_config.json resolution, tokenizer files (tokenizer.json, or vocab.json +
/// merges.txt split at the first NUL byte), and a sharded checkpoint's index.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    // The parser itself, and its text written back and read again: the same value.
    if let v = try? JSONValue.parse(Array(bytes)), (try? JSONValue.parse(Array(v.text.utf8))) != v {
        fatalError("JSON written back reads as another value: \(v.text)")
    }
    _ = try? BLIP2Config(configJSON: Array(bytes), preprocessorJSON: Array(bytes), generationJSON: Array(bytes), imageTokenFallback: 3)
    let dir = (scratchFile(data, size, name: "tokenizer.json") as NSString).deletingLastPathComponent
    if let v = try? TokenizerVocabulary(directory: dir) { _ = try? Tokenizer(vocabulary: v).encode("Question: what? Answer:") }
    try? FileManager.default.removeItem(atPath: dir + "/tokenizer.json")
    let parts = bytes.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
    _ = FileManager.default.createFile(atPath: dir + "/vocab.json", contents: parts.first.map { Data($0) })
    _ = FileManager.default.createFile(atPath: dir + "/merges.txt", contents: parts.count > 1 ? Data(parts[1]) : Data())
    if let v = try? TokenizerVocabulary(directory: dir) { _ = try? Tokenizer(vocabulary: v).encode("a b") }
    try? FileManager.default.removeItem(atPath: dir + "/vocab.json")
    try? FileManager.default.removeItem(atPath: dir + "/merges.txt")
    let index = scratchFile(data, size, name: "model.safetensors.index.json")
    _ = try? Checkpoint(path: index)
    return 0
}
