import Foundation
import XCTest
@testable import BLIP2Edge

/// The Unigram (flan-t5) tokenizer against transformers' T5Tokenizer on two SentencePiece-trained
/// tokenizers of flan-t5's shape, one with flan-t5's 32100 ids and a small one (Tests/Fixtures/
/// t5-tokenizer*, goldens.gguf; made by Tools/make_t5_tokenizer_fixtures.py). Tokenization is
/// discrete: every id and every decoded character must be equal.
final class T5TokenizerTests: XCTestCase {
    let dir = TemporaryDirectory()


    func strings(_ ref: GGUFFile, _ key: String) throws -> [String] {
        try XCTUnwrap(ref.metadata[key]?.array?.compactMap(\.string), "fixture lacks \(key)")
    }

    func checkGoldens(_ name: String) throws {
        let ref = try GGUFFile(path: Fixtures.path("\(name)/goldens.gguf"))
        let tokenizer = UnigramTokenizer(vocabulary: try UnigramVocabulary(directory: Fixtures.path(name)))
        let texts = try strings(ref, "strings")
        let ids = try ref.rows(""), bare = try ref.rows("bare.")
        let decoded = try strings(ref, "decoded"), decodedSpecial = try strings(ref, "decoded_special")
        XCTAssertGreaterThan(texts.count, 500)
        XCTAssertEqual([ids.count, bare.count, decoded.count, decodedSpecial.count], Array(repeating: texts.count, count: 4))
        var wrong: [String] = []
        for (i, text) in texts.enumerated() {
            let got = tokenizer.encode(text)
            if got != ids[i] { wrong.append("\(text.debugDescription): \(got) != \(ids[i])") }
            if tokenizer.encode(text, addEndOfSequence: false) != bare[i] { wrong.append("\(text.debugDescription) without </s>") }
            let back = tokenizer.decode(ids[i]), backSpecial = tokenizer.decode(ids[i], skipSpecialTokens: false)
            if back != decoded[i] { wrong.append("decode \(ids[i]): \(back.debugDescription) != \(decoded[i].debugDescription)") }
            if backSpecial != decodedSpecial[i] {
                wrong.append("decode with specials \(ids[i]): \(backSpecial.debugDescription) != \(decodedSpecial[i].debugDescription)")
            }
        }
        let random = try ref.rows("random.")
        let randomDecoded = try strings(ref, "random.decoded"), randomSpecial = try strings(ref, "random.decoded_special")
        XCTAssertEqual(random.count, randomDecoded.count)
        for (i, r) in random.enumerated() {
            if tokenizer.decode(r) != randomDecoded[i] { wrong.append("decode \(r): \(tokenizer.decode(r).debugDescription)") }
            if tokenizer.decode(r, skipSpecialTokens: false) != randomSpecial[i] { wrong.append("decode with specials \(r)") }
        }
        XCTAssertEqual(wrong.count, 0, "\(name): \(wrong.count) mismatches of \(texts.count) strings and \(random.count) id lists:\n"
                       + wrong.prefix(20).joined(separator: "\n"))
    }

    func testFlanT5SizedTokenizerMatchesTransformers() throws {
        try checkGoldens("t5-tokenizer")
    }

    func testSmallTokenizerMatchesTransformers() throws {
        try checkGoldens("t5-tokenizer-small")
    }

    func testVocabularyHasFlanT5Layout() throws {
        let v = try UnigramVocabulary(directory: Fixtures.path("t5-tokenizer"))
        XCTAssertEqual(v.pieces.count, 32100)
        XCTAssertEqual([v.paddingTokenId, v.eosTokenId, v.unknownTokenId], [0, 1, 2])
        XCTAssertEqual(v.pieces[32099], "<extra_id_0>")
        XCTAssertEqual(v.pieces[32000], "<extra_id_99>")
        XCTAssertEqual(v.id(of: "<extra_id_0>"), 32099)
        XCTAssertNil(v.id(of: "<extra_id_100>"))
        XCTAssertEqual(v.types.filter { $0 == .control }.count, 103)
        XCTAssertFalse(v.cleanUpTokenizationSpaces)
        XCTAssertTrue(try UnigramVocabulary(directory: Fixtures.path("t5-tokenizer-small")).cleanUpTokenizationSpaces)
        let t = UnigramTokenizer(vocabulary: v)
        XCTAssertEqual(t.encode(""), [1])
        XCTAssertEqual(t.encode("\n"), [1])
        XCTAssertEqual(t.piece(32099), "<extra_id_0>")
        XCTAssertNil(t.piece(32100))
        XCTAssertNil(t.piece(-1))
        // transformers drops ids past the vocabulary when decoding; so does the tokenizer.
        XCTAssertEqual(t.decode([400, 99999, 401]), t.decode([400, 401]))
    }

    // MARK: Model file

    /// The vocabulary written as a model file's metadata and read back from a real GGUF file.
    func roundTrip(_ v: UnigramVocabulary) throws -> UnigramVocabulary {
        var m = v.metadata
        m.set("general.architecture", .string("t5"))
        let layout = GGUFLayout(metadata: m, tensors: [], alignment: 32)
        var bytes = layout.header
        bytes += Array(repeating: 0, count: layout.totalSize - bytes.count)
        let path = dir.file("vocab.gguf")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let file = try GGUFFile(path: path)
        return try UnigramVocabulary(metadata: file.metadata, path: path)
    }

    func testVocabularySurvivesTheModelFile() throws {
        for name in ["t5-tokenizer", "t5-tokenizer-small"] {
            let v = try UnigramVocabulary(directory: Fixtures.path(name))
            XCTAssertEqual(try roundTrip(v), v, name)
            XCTAssertEqual(v.metadata["tokenizer.ggml.model"], .string("t5"))
            XCTAssertEqual(v.metadata["tokenizer.ggml.add_eos_token"], .bool(true))
        }
    }

    func testModelFileMissingAnyKeyIsRefused() throws {
        let full = try UnigramVocabulary(directory: Fixtures.path("t5-tokenizer-small")).metadata
        for key in full.keys {
            var m = GGUFMetadata()
            for (k, v) in full.entries where k != key { m.set(k, v) }
            XCTAssertThrowsMessage(key) { _ = try UnigramVocabulary(metadata: m, path: "model.gguf") }
        }
        var wrongType = full
        wrongType.set("tokenizer.ggml.scores", .int32s([1, 2]))
        XCTAssertThrowsMessage("tokenizer.ggml.scores") { _ = try UnigramVocabulary(metadata: wrongType, path: "m") }
        var badMap = full
        badMap.set("tokenizer.ggml.precompiled_charsmap", .array(.uint8, [.uint8(9), .uint8(0), .uint8(0)]))
        XCTAssertThrowsMessage("precompiled_charsmap") { _ = try UnigramVocabulary(metadata: badMap, path: "m") }
        var badId = full
        badId.set("tokenizer.ggml.eos_token_id", .uint32(5000))
        XCTAssertThrowsMessage("eos_token_id") { _ = try UnigramVocabulary(metadata: badId, path: "m") }
        var bert = full
        bert.set("tokenizer.ggml.model", .string("bert"))
        XCTAssertThrowsMessage("not \"t5\"") { _ = try UnigramVocabulary(metadata: bert, path: "m") }
    }

    // MARK: Bad input

    func charsMap(_ name: String) throws -> [UInt8] {
        try UnigramVocabulary(directory: Fixtures.path(name)).precompiledCharsMap
    }

    func testCharsMapNormalizesAsNFKCWithSentencePiecesRules() throws {
        let map = try PrecompiledCharsMap(try charsMap("t5-tokenizer"))
        XCTAssertEqual(map.normalize("ＡＢＣ１２３"), "ABC123")
        XCTAssertEqual(map.normalize("ﬁ"), "fi")
        // A grapheme under 6 bytes takes its shortest match whole: the accent after Ａ is lost.
        XCTAssertEqual(map.normalize("Ａ\u{301}"), "A")
        XCTAssertEqual(map.normalize("plain text"), "plain text")
    }

    func testMalformedCharsMapsAreTypedErrors() throws {
        func le(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }
        XCTAssertThrowsError(try PrecompiledCharsMap([])) { XCTAssertEqual($0 as? PrecompiledCharsMapError, .truncated(need: 4, have: 0)) }
        XCTAssertThrowsError(try PrecompiledCharsMap(le(8) + [1, 2, 3])) { XCTAssertEqual($0 as? PrecompiledCharsMapError, .truncated(need: 12, have: 7)) }
        XCTAssertThrowsError(try PrecompiledCharsMap(le(0) + [65, 0])) { XCTAssertEqual($0 as? PrecompiledCharsMapError, .emptyTrie) }
        XCTAssertThrowsError(try PrecompiledCharsMap(le(0xFFFF_FFFF))) { XCTAssertTrue($0 is PrecompiledCharsMapError) }
        // One unit whose children would lie past the array's end.
        XCTAssertThrowsError(try PrecompiledCharsMap(le(4) + le(0))) { XCTAssertEqual($0 as? PrecompiledCharsMapError, .outOfBounds(unit: 0)) }
        // A full block with a valid trie shape but replacement strings that are not UTF-8.
        XCTAssertThrowsError(try PrecompiledCharsMap(le(1024) + [UInt8](repeating: 0, count: 1024) + [0xFF, 0])) {
            XCTAssertEqual($0 as? PrecompiledCharsMapError, .replacementsNotUTF8)
        }
        // The real blob cut short or with bytes changed: an error or a normalizer that does not trap.
        let real = try charsMap("t5-tokenizer-small")
        var rng = SystemRandomNumberGenerator()
        var refused = 0
        for cut in [1, 4, 5, 100, 1000, real.count / 2, real.count - 1] {
            if (try? PrecompiledCharsMap(Array(real.prefix(cut)))) == nil { refused += 1 }
        }
        XCTAssertGreaterThan(refused, 5)
        for _ in 0..<40 {
            var blob = real
            for _ in 0..<8 { blob[Int.random(in: 4..<blob.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            if let map = try? PrecompiledCharsMap(blob) { _ = map.normalize("ＡＢＣ ﬁ ① ｶﾞ e\u{301} 😀 日本 \u{0}x") }
        }
    }

    func testBadTokenizerFilesAreTypedErrors() throws {
        let good = Fixtures.path("t5-tokenizer-small/tokenizer.json")
        let json = try String(contentsOfFile: good, encoding: .utf8)
        func variant(_ name: String, _ text: String) throws -> String {
            let d = dir.file(name)
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            try text.write(toFile: (d as NSString).appendingPathComponent("tokenizer.json"), atomically: true, encoding: .utf8)
            return d
        }
        func refused(_ fragment: String, _ directory: String) {
            XCTAssertThrowsError(try UnigramVocabulary(directory: directory)) { error in
                XCTAssertTrue(error is TokenizerFileError, "\(error)")
                XCTAssertTrue("\(error)".contains(fragment), "\(error) does not mention \(fragment)")
            }
        }
        refused("tokenizer.json: not valid JSON (an unterminated string at byte", try variant("truncated", String(json.prefix(json.count / 2))))
        refused("tokenizer.json: not valid JSON (unexpected end of the document at byte 0)", try variant("empty", ""))
        refused("need tokenizer.json", dir.file("absent"))
        refused("not a Unigram tokenizer", try variant("bpe", json.replacingOccurrences(of: "\"type\":\"Unigram\"", with: "\"type\":\"BPE\"")))
        refused("base64", try variant("charsmap", json.replacingOccurrences(of: "\"precompiled_charsmap\":\"", with: "\"precompiled_charsmap\":\"!!")))
        refused("is not the Unigram piece", try variant("added", json.replacingOccurrences(of: "\"content\":\"</s>\"", with: "\"content\":\"<eos>\"")))
        refused("not a [piece, score] pair", try variant("pair", json.replacingOccurrences(of: "[\"<pad>\",0.0]", with: "[\"<pad>\"]")))
        refused("does not implement", try variant("lstrip", json.replacingOccurrences(
            of: "\"content\":\"<extra_id_7>\",\"single_word\":false,\"lstrip\":false", with: "\"content\":\"<extra_id_7>\",\"single_word\":false,\"lstrip\":true")))
    }

    /// A flan-t5 prompt of about 512 tokens: the Viterbi is linear in the text, not in the vocabulary.
    func testLongPromptIsQuick() throws {
        let t = UnigramTokenizer(vocabulary: try UnigramVocabulary(directory: Fixtures.path("t5-tokenizer")))
        let text = Array(repeating: "Question: what is the man holding in the picture? Answer: a red umbrella.", count: 30).joined(separator: " ")
        let start = Date()
        let ids = t.encode(text)
        XCTAssertGreaterThan(ids.count, 300)
        XCTAssertLessThan(Date().timeIntervalSince(start), 2, "a debug build encodes 512 tokens in well under a second")
        XCTAssertEqual(t.decode(ids), text)
    }
}
