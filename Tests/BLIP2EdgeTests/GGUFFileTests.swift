import XCTest
@testable import BLIP2Edge

final class GGUFFileTests: XCTestCase {
    let dir = TemporaryDirectory()

    /// A small valid file: metadata of every value type and three tensors.
    func sampleBytes(alignment: Int = 32) -> [UInt8] {
        var m = GGUFMetadata()
        m.set("general.architecture", .string("test"))
        m.set("u8", .uint8(7)); m.set("i8", .int8(-7)); m.set("u16", .uint16(65000)); m.set("i16", .int16(-300))
        m.set("u32", .uint32(4_000_000_000)); m.set("i32", .int32(-5)); m.set("u64", .uint64(1 << 40))
        m.set("i64", .int64(-(1 << 40))); m.set("f32", .float32(1.5)); m.set("f64", .float64(-2.25))
        m.set("yes", .bool(true)); m.set("text", .string("héllo ✓"))
        m.set("names", .strings(["a", "", "ü"])); m.set("empty", .array(.int32, []))
        let plans = [
            GGUFTensorPlan(name: "w.q4", type: .q4_0, shape: [3, 64]),
            GGUFTensorPlan(name: "w.f16", type: .f16, shape: [5]),
            GGUFTensorPlan(name: "w.f32", type: .f32, shape: [2, 1, 3]),
        ]
        let layout = GGUFLayout(metadata: m, tensors: plans, alignment: alignment)
        var bytes = layout.header
        for (i, p) in plans.enumerated() {
            bytes += Array(repeating: 0, count: layout.tensorOffsets[i] - bytes.count)
            bytes += (0..<p.byteCount).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }
        }
        bytes += Array(repeating: 0, count: layout.totalSize - bytes.count)
        return bytes
    }

    func open(_ bytes: [UInt8]) throws -> GGUFFile {
        let path = dir.file("m.gguf")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return try GGUFFile(path: path)
    }

    func testRoundTripsMetadataAndTensors() throws {
        let f = try open(sampleBytes())
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.metadata["u32"], .uint32(4_000_000_000))
        XCTAssertEqual(f.metadata["i64"], .int64(-(1 << 40)))
        XCTAssertEqual(f.metadata["f64"], .float64(-2.25))
        XCTAssertEqual(f.metadata["text"], .string("héllo ✓"))
        XCTAssertEqual(f.metadata["names"], .strings(["a", "", "ü"]))
        XCTAssertEqual(f.metadata["empty"], .array(.int32, []))
        XCTAssertEqual(f.tensors.map(\.name), ["w.q4", "w.f16", "w.f32"])
        let q = try XCTUnwrap(f.tensor(named: "w.q4"))
        XCTAssertEqual(q.shape, [3, 64])
        XCTAssertEqual(q.byteCount, 3 * 2 * 18)
        XCTAssertEqual(q.fileOffset % 32, 0)
        XCTAssertEqual(Array(f.bytes(of: q).prefix(3)), [0, 31, 62])
        XCTAssertEqual(f.tensor(named: "w.f32")?.shape, [2, 1, 3])
    }

    func testHonoursCustomAlignment() throws {
        let f = try open(sampleBytes(alignment: 64))
        XCTAssertEqual(f.alignment, 64)
        XCTAssertTrue(f.tensors.allSatisfy { $0.fileOffset % 64 == 0 })
    }

    func testEveryTruncationIsAnErrorNotACrash() throws {
        let full = sampleBytes()
        let f = try open(full)
        let needed = f.tensors.map { $0.fileOffset + $0.byteCount }.max()!
        for n in stride(from: 0, to: needed, by: 1) {
            XCTAssertThrowsError(try open(Array(full[0..<n])), "a file cut to \(n) bytes was accepted")
        }
    }

    func testRejectsWrongMagic() throws {
        var b = sampleBytes()
        b[0] = UInt8(ascii: "X")
        XCTAssertThrowsMessage("not a GGUF model file") { _ = try open(b) }
    }

    func testRejectsOtherVersions() throws {
        var b = sampleBytes()
        b[4] = 2
        XCTAssertThrowsMessage("GGUF version 2 is not supported") { _ = try open(b) }
    }

    /// Offsets of fixed fields in the sample: after magic and version come the counts.
    func patch<T: FixedWidthInteger>(_ b: inout [UInt8], at offset: Int, _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { for (i, x) in $0.enumerated() { b[offset + i] = x } }
    }

    func testRejectsAbsurdCounts() throws {
        var b = sampleBytes()
        patch(&b, at: 8, UInt64.max)
        XCTAssertThrowsMessage("tensors (limit") { _ = try open(b) }
        b = sampleBytes()
        patch(&b, at: 16, UInt64(1) << 40)
        XCTAssertThrowsMessage("metadata keys (limit") { _ = try open(b) }
    }

    /// The byte offset of a tensor info's type field, found by its name in the header.
    func tensorInfoOffset(_ b: [UInt8], name: String) -> Int {
        let needle = Array(name.utf8)
        let at = (0..<(b.count - needle.count)).first { Array(b[$0..<($0 + needle.count)]) == needle }!
        return at + needle.count
    }

    func testRejectsUnknownTensorType() throws {
        var b = sampleBytes()
        let info = tensorInfoOffset(b, name: "w.f16")
        // n_dims (4) + one dim (8), then the type.
        patch(&b, at: info + 12, UInt32(12))
        XCTAssertThrowsMessage("has type Q4_K") { _ = try open(b) }
    }

    func testRejectsMisalignedOffset() throws {
        var b = sampleBytes()
        let info = tensorInfoOffset(b, name: "w.f16")
        patch(&b, at: info + 16, UInt64(33))
        XCTAssertThrowsMessage("not a multiple of the alignment") { _ = try open(b) }
    }

    func testRejectsDataBeyondTheFile() throws {
        var b = sampleBytes()
        let info = tensorInfoOffset(b, name: "w.f16")
        patch(&b, at: info + 16, UInt64(1) << 40)
        XCTAssertThrowsMessage("ends inside the data of tensor w.f16") { _ = try open(b) }
    }

    func testRejectsOverlappingTensors() throws {
        var b = sampleBytes()
        let info = tensorInfoOffset(b, name: "w.f16")
        patch(&b, at: info + 16, UInt64(64)) // inside w.q4's 108 bytes
        XCTAssertThrowsMessage("overlap") { _ = try open(b) }
    }

    func testRejectsHugeDimensions() throws {
        var b = sampleBytes()
        let info = tensorInfoOffset(b, name: "w.f16")
        patch(&b, at: info + 4, UInt64.max)
        XCTAssertThrowsMessage("dimension") { _ = try open(b) }
    }

    func testRejectsRowsThatDoNotDivideIntoBlocks() throws {
        var b = sampleBytes()
        let info = tensorInfoOffset(b, name: "w.q4")
        patch(&b, at: info + 4, UInt64(33)) // innermost dim of a Q4_0 tensor
        XCTAssertThrowsMessage("do not divide into Q4_0 blocks") { _ = try open(b) }
    }

    func testRejectsStringLengthBeyondTheFile() throws {
        var b = sampleBytes()
        // The first key's length sits right after the 24-byte header.
        patch(&b, at: 24, UInt64(1) << 50)
        XCTAssertThrowsMessage("truncated") { _ = try open(b) }
    }

    func testRejectsLongTensorNames() throws {
        let name = String(repeating: "n", count: 64)
        let layout = GGUFLayout(metadata: GGUFMetadata(), tensors: [GGUFTensorPlan(name: name, type: .f32, shape: [1])])
        XCTAssertThrowsMessage("name of 64 bytes") { _ = try open(layout.header + [0, 0, 0, 0]) }
    }

    func testRejectsEmptyAndDirectoryPaths() throws {
        try Data().write(to: URL(fileURLWithPath: dir.file("empty.gguf")))
        XCTAssertThrowsMessage("not a GGUF") { _ = try GGUFFile(path: dir.file("empty.gguf")) }
        XCTAssertThrowsMessage("not a regular file") { _ = try GGUFFile(path: dir.path) }
        XCTAssertThrowsMessage("No such file") { _ = try GGUFFile(path: dir.file("absent.gguf")) }
    }
}
