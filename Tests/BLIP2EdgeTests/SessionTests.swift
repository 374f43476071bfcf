import Foundation
import XCTest
@testable import BLIP2Edge

/// The public session API beyond the transformers comparisons: low-RAM mode, cancellation,
/// sampling, streaming, and prompts.
final class SessionTests: XCTestCase {
    func session(_ name: String = "tiny-a") throws -> (Session, GGUFFile) {
        let ref = try ForwardTests.reference(name)
        let s = try Session(model: try ForwardTests.model(name, .f32), threads: 2)
        try s.encode(pixels: try ref.pixels())
        return (s, ref)
    }

    /// F16 keys and values (low-RAM mode) keep every fixture case's tokens: the cache's
    /// rounding (2^-11 relative) is far below the cases' decision margins (>= 0.0096).
    func testLowRAMModeKeepsTransformersTokens() throws {
        for name in ["tiny-a", "tiny-b"] {
            let (s, ref) = try session(name)
            s.lowRAM = true
            XCTAssertTrue(s.makeGenerator(.greedy(maxNewTokens: 1)).makeCache(capacity: 1).halfPrecision, "low-RAM mode must use an F16 cache")
            for c in ["caption_greedy", "vqa_greedy", "caption_beam3", "vqa_beam4_lp0"] {
                let g = try ref.generationCase(c)
                XCTAssertEqual(try s.generate(promptTokens: g.prompt, parameters: g.parameters), g.expected, "\(name) \(c) with an F16 cache")
            }
        }
    }

    func testCancelStopsGeneration() throws {
        let (s, _) = try session()
        var seen = 0
        XCTAssertThrowsError(try s.generate(promptTokens: [], parameters: .greedy(maxNewTokens: 50)) { _ in
            seen += 1
            s.cancel()
            return true
        }) { error in
            XCTAssertEqual(error as? RuntimeError, .cancelled)
        }
        XCTAssertEqual(seen, 1)
        // The next generation starts afresh.
        XCTAssertEqual(try s.generate(promptTokens: [], parameters: .greedy(maxNewTokens: 3)).count, 3)
    }

    func testCancelFromAnotherThread() throws {
        let (s, _) = try session()
        final class Outcome: @unchecked Sendable { var result: Result<[Int], Error>? }
        let started = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        let outcome = Outcome()
        Thread.detachNewThread {
            outcome.result = Result { try s.generate(promptTokens: [], parameters: .greedy(maxNewTokens: 100)) { _ in
                started.signal()
                Thread.sleep(forTimeInterval: 0.01)
                return true
            } }
            done.signal()
        }
        started.wait()
        s.cancel()
        done.wait()
        guard case let .failure(error)? = outcome.result else { return XCTFail("generation was not cancelled") }
        XCTAssertEqual(error as? RuntimeError, .cancelled)
    }

    func testStreamingCallbackSeesEveryTokenAndCanStop() throws {
        let (s, ref) = try session()
        var streamed: [Int] = []
        let all = try s.generate(promptTokens: [], parameters: .greedy(maxNewTokens: 12)) { streamed.append($0); return true }
        XCTAssertEqual(streamed, all)
        XCTAssertEqual(all, try ref.ints("gen.caption_greedy.ids"))
        let first = try s.generate(promptTokens: [], parameters: .greedy(maxNewTokens: 12)) { _ in false }
        XCTAssertEqual(first, Array(all.prefix(1)))
    }

    func testSamplingIsSeededAndTopKOneIsGreedy() throws {
        let (s, _) = try session()
        var p = GenerationParameters.greedy(maxNewTokens: 12)
        p.minNewTokens = 12
        let greedy = try s.generate(promptTokens: [], parameters: p)
        p.sampling = .init(temperature: 1, topK: 1, topP: 1, seed: 7)
        XCTAssertEqual(try s.generate(promptTokens: [], parameters: p), greedy, "top-k 1 leaves only the argmax")
        p.sampling = .init(temperature: 1.5, topK: 0, topP: 0.95, seed: 7)
        let a = try s.generate(promptTokens: [], parameters: p)
        XCTAssertEqual(try s.generate(promptTokens: [], parameters: p), a, "the same seed gives the same tokens")
        p.sampling?.seed = 8
        XCTAssertNotEqual(try s.generate(promptTokens: [], parameters: p), a, "another seed, other tokens (12 draws from flat distributions)")
    }

    func testInvalidParametersAreErrors() throws {
        let (s, _) = try session()
        var p = GenerationParameters.greedy()
        p.maxNewTokens = 0
        XCTAssertThrowsMessage("at least 1") { _ = try s.generate(promptTokens: [], parameters: p) }
        p = .greedy()
        p.beamCount = 100
        XCTAssertThrowsMessage("beams") { _ = try s.generate(promptTokens: [], parameters: p) }
        XCTAssertThrowsMessage("outside the vocabulary") { _ = try s.generate(promptTokens: [1 << 30], parameters: .greedy()) }
        XCTAssertThrowsMessage("the question is empty") {
            _ = try s.ask(image: try RGBImage(width: 1, height: 1, pixels: [0, 0, 0]), question: " ")
        }
        XCTAssertThrowsMessage("context") { _ = try s.generate(promptTokens: [], parameters: .greedy(maxNewTokens: 1000)) }
    }
}

final class SessionMemoryTests: XCTestCase {
    /// Working memory sized beyond the machine is refused up front, not a crash in malloc.
    func testOversizedSessionIsAnError() throws {
        let model = try ForwardTests.model("tiny-a", .q8_0)
        XCTAssertThrowsMessage("out of memory in a session") {
            _ = try Session(model: model, threads: 1, maxPromptTokens: 1 << 40)
        }
        XCTAssertNoThrow(try Session(model: model, threads: 1, maxPromptTokens: 64))
    }
}
