import Foundation
@testable import BLIP2Edge

/// A GPT-2-sized tokenizer (50k merges), the retrieval model's WordPiece tokenizer and the
/// flan-t5-sized Unigram tokenizer on arbitrary text, and decoding of arbitrary ids (negative,
/// beyond the vocabulary, special).
let fuzzTokenizer: Tokenizer = {
    let dir = ProcessInfo.processInfo.environment["FUZZ_VOCABULARY"] ?? "Tests/Fixtures/gpt2-sized-tokenizer"
    guard let v = try? TokenizerVocabulary(directory: dir), let t = try? Tokenizer(vocabulary: v) else {
        fatalError("fuzz-tokenizer: cannot load the vocabulary at \(dir) (set FUZZ_VOCABULARY)")
    }
    return t
}()

let fuzzWordPiece: WordPieceTokenizer = {
    let dir = ProcessInfo.processInfo.environment["FUZZ_WORDPIECE"] ?? "Tests/Fixtures/tiny-itm-a"
    guard let v = try? WordPieceVocabulary(directory: dir) else {
        fatalError("fuzz-tokenizer: cannot load the WordPiece vocabulary at \(dir) (set FUZZ_WORDPIECE)")
    }
    return WordPieceTokenizer(vocabulary: v)
}()

let fuzzUnigram: UnigramTokenizer = {
    let dir = ProcessInfo.processInfo.environment["FUZZ_UNIGRAM"] ?? "Tests/Fixtures/t5-tokenizer"
    guard let v = try? UnigramVocabulary(directory: dir) else {
        fatalError("fuzz-tokenizer: cannot load the Unigram vocabulary at \(dir) (set FUZZ_UNIGRAM)")
    }
    return UnigramTokenizer(vocabulary: v)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let text = String(decoding: bytes, as: UTF8.self)
    _ = fuzzTokenizer.encode(text)
    let pieces = fuzzWordPiece.encode(text, maxLength: size % 7 == 0 ? nil : size % 64)
    if pieces.first != fuzzWordPiece.vocabulary.clsTokenId || pieces.last != fuzzWordPiece.vocabulary.sepTokenId { fatalError("no [CLS] ... [SEP]") }
    let unigram = fuzzUnigram.encode(text)
    if unigram.last != fuzzUnigram.vocabulary.eosTokenId || unigram.contains(where: { fuzzUnigram.piece($0) == nil }) {
        fatalError("Unigram ids without </s> or outside the vocabulary")
    }
    var ids: [Int] = []
    var i = 0
    while i + 3 < size {
        ids.append(Int(Int32(bitPattern: UInt32(data[i]) | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2]) << 16 | UInt32(data[i + 3]) << 24)) % 60_000)
        i += 4
    }
    _ = fuzzTokenizer.decode(ids)
    _ = fuzzUnigram.decode(ids, skipSpecialTokens: size % 2 == 0)
    return 0
}
