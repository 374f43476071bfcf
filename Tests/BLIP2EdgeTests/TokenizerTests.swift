import Foundation
import XCTest
@testable import BLIP2Edge

/// Our BPE tokenizer against transformers' on a generated corpus (Tests/Fixtures/tokenizer,
/// from Tools/make_tokenizer_fixtures.py): every string must give exactly HF's ids and
/// decode to exactly HF's text. No tolerance: tokenization is discrete.
final class TokenizerTests: XCTestCase {
    struct Cases: Decodable {
        struct Encode: Decodable { let text: String; let ids: [Int]; let decoded: String }
        struct Decode: Decodable { let ids: [Int]; let text: String }
        let encode: [Encode]
        let decode: [Decode]
    }

    func load(_ name: String) throws -> Cases {
        try JSONDecoder().decode(Cases.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tokenizer/\(name).json"))))
    }

    func check(_ name: String, directory: String) throws {
        let tokenizer = try Tokenizer(vocabulary: TokenizerVocabulary(directory: Fixtures.path(directory)))
        let cases = try load(name)
        XCTAssertGreaterThan(cases.encode.count, 300)
        var wrong = 0
        for c in cases.encode {
            let ids = tokenizer.encode(c.text)
            if ids != c.ids {
                wrong += 1
                if wrong <= 10 { XCTFail("\(name): \(c.text.debugDescription) encodes to \(ids), HF gives \(c.ids)") }
            }
            XCTAssertEqual(tokenizer.decode(c.ids), c.decoded, "\(name): decoding the ids of \(c.text.debugDescription)")
        }
        XCTAssertEqual(wrong, 0, "\(name): \(wrong) of \(cases.encode.count) strings encode differently")
        for c in cases.decode {
            XCTAssertEqual(tokenizer.decode(c.ids), c.text, "\(name): decoding \(c.ids)")
        }
    }

    func testTinyVocabularyMatchesTransformers() throws {
        try check("tiny", directory: "tiny-a")
    }

    func testGPT2SizedVocabularyMatchesTransformers() throws {
        try check("gpt2-sized", directory: "gpt2-sized-tokenizer")
    }

    func testVocabularyFromModelFileEqualsTheFilesOne() throws {
        let dir = TemporaryDirectory()
        let out = dir.file("m.gguf")
        try Converter(plan: QuantizationPlan(fileType: .q8_0)).convert(input: Fixtures.path("tiny-a"), output: out)
        let file = try GGUFFile(path: out)
        XCTAssertEqual(try TokenizerVocabulary(metadata: file.metadata, path: out), try TokenizerVocabulary(directory: Fixtures.path("tiny-a")))
    }
}
