import XCTest
@testable import BLIP2Edge

/// The towers declare each weight once; what is derived from the declarations (the schema the
/// converter and the loader check, the file names, a tower's byte range) must agree with the
/// checkpoints transformers writes.
final class ModelSchemaTests: XCTestCase {
    /// A misspelt or misshapen declaration fails here, against transformers' own names.
    func testTowersDeclareExactlyTheCheckpointsTensors() throws {
        for fixture in ["tiny-a", "tiny-b"] {
            let checkpoint = try Checkpoint(path: Fixtures.path(fixture))
            let prepared = try Converter(plan: QuantizationPlan(fileType: .f32)).prepare(input: Fixtures.path(fixture))
            let declared = Dictionary(uniqueKeysWithValues: prepared.config.tensorSpecs.map { ($0.name, $0.shape) })
            let stored = Dictionary(uniqueKeysWithValues: checkpoint.tensors.filter { !BLIP2Weights.isIgnorable($0.key, family: prepared.config.family) }
                .map { ($0.key, $0.value.tensor.shape) })
            XCTAssertEqual(declared.keys.sorted(), stored.keys.sorted(), fixture)
            for (name, shape) in stored { XCTAssertEqual(declared[name], shape, "\(fixture) \(name)") }
        }
    }

    /// File names are the checkpoint's with each tower's prefix shortened (GGUF's 63 bytes).
    func testFileNamesShortenOnlyTheTowerPrefix() throws {
        let prefixes = ["vision_model.": "v.", "qformer.": "qf.", "language_model.model.decoder.": "t.",
                        "language_projection.": "proj.", "query_tokens": "query_tokens"]
        for spec in BLIP2Config().tensorSpecs {
            let match = try XCTUnwrap(prefixes.first { spec.name.hasPrefix($0.key) }, spec.name)
            XCTAssertEqual(spec.fileName, match.value + spec.name.dropFirst(match.key.count), spec.name)
        }
    }

    /// `--low-ram` releases exactly the vision tower's pages: its range holds every vision
    /// tensor and no other tower's.
    func testVisionByteRangeHoldsTheVisionTowerAlone() throws {
        let model = try ForwardTests.model("tiny-b", .q4_0)
        let range = try XCTUnwrap(model.file.byteRange(of: .vision))
        for spec in model.config.tensorSpecs {
            let t = try XCTUnwrap(model.gguf.tensor(named: spec.fileName))
            let inside = range.contains(t.fileOffset) && t.fileOffset + t.byteCount <= range.upperBound
            let disjoint = t.fileOffset >= range.upperBound || t.fileOffset + t.byteCount <= range.lowerBound
            XCTAssertTrue(spec.tower == .vision ? inside : disjoint, spec.name)
        }
    }

    /// A session's memory check counts what its towers allocate: both come from one
    /// construction, with a counting or an allocating arena.
    func testCountingArenaAllocatesNothingAndCountsEveryRequest() {
        let counting = ScratchArena.counting(), allocating = ScratchArena.allocating()
        let sizes = [1, 257 * 1408, 0, 33]
        let counted = sizes.map(counting.buffer), allocated = sizes.map(allocating.buffer)
        XCTAssertEqual(counting.bytes, allocating.bytes)
        XCTAssertEqual(allocating.bytes, 4 * (1 + 257 * 1408 + 1 + 33))
        XCTAssertEqual(allocated.map(\.count), [1, 257 * 1408, 1, 33])
        XCTAssertTrue(counted.allSatisfy { $0 === counted[0] }, "a counting arena hands out one placeholder")
    }
}
