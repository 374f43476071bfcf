import Foundation
import XCTest
@testable import BLIP2Edge

/// An image encoded once answers many times, on any session of the model; tokens stream as
/// text pieces that join to the finished text.
final class EncodeOnceTests: XCTestCase {
    func testEncodedImageGivesWhatTheImageGives() throws {
        let ref = try ForwardTests.reference("tiny-a")
        let model = try ForwardTests.model("tiny-a", .f32)
        let t = try XCTUnwrap(ref.tensor(named: "image_rgb8"))
        let image = try RGBImage(width: t.shape[1], height: t.shape[0], pixels: try ref.floats("image_rgb8").map { UInt8($0) })
        let a = try Session(model: model, threads: 2), b = try Session(model: model, threads: 1)
        let encoded = try a.encode(image: image)
        let greedy = GenerationParameters.greedy(maxNewTokens: 8)
        for question in ["what is in the picture?", "how many?"] {
            let direct = try a.ask(image: image, question: question, parameters: greedy)
            XCTAssertEqual(try a.ask(encoded, question: question, parameters: greedy).tokens, direct.tokens)
            XCTAssertEqual(try b.ask(encoded, question: question, parameters: greedy).tokens, direct.tokens, "another session")
        }
        XCTAssertEqual(try b.generate(encoded, parameters: greedy).tokens, try a.generate(image: image, parameters: greedy).tokens)
        XCTAssertThrowsMessage("the question is empty") { _ = try a.ask(encoded, question: " ") }
        let other = try Session(model: try ForwardTests.model("tiny-b", .f32), threads: 1)
        XCTAssertThrowsMessage("another size") { _ = try other.generate(encoded, parameters: greedy) }
    }

    func testStreamedPiecesJoinToTheText() throws {
        let model = try ForwardTests.model("tiny-a", .f32)
        let session = try Session(model: model, threads: 2)
        let ref = try ForwardTests.reference("tiny-a")
        try session.encode(pixels: try ref.pixels())
        var stream = TextStream(tokenizer: model.tokenizer)
        var pieces = ""
        let tokens = try session.generate(promptTokens: [], parameters: .greedy(maxNewTokens: 12)) { id in
            pieces += stream.append(id)
            return true
        }
        pieces += stream.finish()
        XCTAssertEqual(pieces.trimmingCharacters(in: .whitespacesAndNewlines),
                       model.tokenizer.decode(tokens).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Byte-level BPE splits characters between tokens: no piece carries half of one.
    func testStreamHoldsBackPartialCharacters() throws {
        let tokenizer = try Tokenizer(vocabulary: TokenizerVocabulary(directory: Fixtures.path("gpt2-sized-tokenizer")))
        for text in ["你好，世界 🇫🇷👨‍👩‍👧 naïve", " leading space", "ascii only", "€€€ 𝄞"] {
            let ids = tokenizer.encode(text, addBOS: false)
            var stream = TextStream(tokenizer: tokenizer)
            var pieces: [String] = []
            for id in ids { pieces.append(stream.append(id)) }
            pieces.append(stream.finish())
            XCTAssertFalse(pieces.joined().contains("\u{FFFD}"), text)
            XCTAssertEqual(pieces.joined(), String(text.drop(while: \.isWhitespace)), text)
        }
    }
}

extension EdgeCommandTests {
    func testAskWithSeveralQuestionsEncodesOnce() throws {
        let (model, image, _) = try setUpModel()
        let questions = ["what is in the picture?", "how many cats?", "where?"]
        let options = ["--model", model, "--greedy", "--max-tokens", "5"]
        let many = try CommandRun(EdgeCommandTests.binary, ["ask", image] + questions + options + ["--stats"])
        XCTAssertEqual(many.status, 0, many.stderr)
        let answers = many.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        XCTAssertEqual(answers.count, questions.count)
        for (q, a) in zip(questions, answers) {
            let one = try CommandRun(EdgeCommandTests.binary, ["ask", image, q] + options)
            XCTAssertEqual(one.stdout, a + "\n", q)
        }
        XCTAssertEqual(many.stderr.components(separatedBy: "peak resident").count - 1, questions.count, "stats per answer")
        let empty = try CommandRun(EdgeCommandTests.binary, ["ask", image, "fine", " "] + options)
        XCTAssertEqual(empty.status, 2)
        XCTAssertTrue(empty.stderr.contains("the question is empty"), empty.stderr)
    }
}
