import XCTest
@testable import BLIP2Edge

final class SafetensorsTests: XCTestCase {
    let dir = TemporaryDirectory()

    func open(_ b: SafetensorsBuilder, headerLength: UInt64? = nil) throws -> SafetensorsFile {
        let path = dir.file("t.safetensors")
        try b.write(to: path, headerLength: headerLength)
        return try SafetensorsFile(path: path)
    }

    func testReadsTensorsAndData() throws {
        let f = try open(SafetensorsBuilder(tensors: [
            ("a", "F32", [2, 2], floatBytes([1, 2, 3, 4])),
            ("b", "F16", [3], [0, 0x3C, 0, 0x40, 0, 0xC0]),
        ]))
        XCTAssertEqual(f.tensors.map(\.name), ["a", "b"])
        XCTAssertEqual(f.tensors[0].shape, [2, 2])
        XCTAssertEqual(f.tensors[1].dtype, .f16)
        var out = [Float](repeating: 0, count: 4)
        try out.withUnsafeMutableBytes { try f.read(at: f.tensors[0].fileOffset, into: $0) }
        XCTAssertEqual(out, [1, 2, 3, 4])
    }

    func testRejectsFileThatIsNotSafetensors() throws {
        let path = dir.file("x.safetensors")
        try Data("hello, this is just some text and not a model".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsMessage("not a safetensors file") { _ = try SafetensorsFile(path: path) }
    }

    func testRejectsTooShortFile() throws {
        let path = dir.file("x.safetensors")
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsMessage("too short") { _ = try SafetensorsFile(path: path) }
    }

    func testRejectsHeaderLengthBeyondFile() throws {
        let b = SafetensorsBuilder(tensors: [("a", "F32", [1], floatBytes([1]))])
        XCTAssertThrowsMessage("does not fit") { _ = try open(b, headerLength: 10_000) }
    }

    func testRejectsHugeHeaderLength() throws {
        let b = SafetensorsBuilder(tensors: [("a", "F32", [1], floatBytes([1]))])
        XCTAssertThrowsMessage("exceeds") { _ = try open(b, headerLength: UInt64.max) }
    }

    func testRejectsTruncatedFileAtEveryLength() throws {
        let full = SafetensorsBuilder(tensors: [("w", "F32", [2, 3], floatBytes([1, 2, 3, 4, 5, 6]))]).bytes()
        for n in 0..<full.count {
            let path = dir.file("cut.safetensors")
            try Data(full[0..<n]).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try SafetensorsFile(path: path), "a file cut to \(n) of \(full.count) bytes was accepted")
        }
    }

    func testRejectsInvalidJSON() throws {
        XCTAssertThrowsMessage("header") { _ = try open(SafetensorsBuilder(header: "{\"a\": [1, 2", data: [])) }
    }

    func testRejectsDataOutsideTheFile() throws {
        let b = SafetensorsBuilder(header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", data: [0, 0, 0, 0])
        XCTAssertThrowsMessage("outside the file") { _ = try open(b) }
    }

    func testRejectsOverlappingTensors() throws {
        let b = SafetensorsBuilder(header: """
        {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}
        """, data: Array(repeating: 0, count: 12))
        XCTAssertThrowsMessage("overlaps") { _ = try open(b) }
    }

    func testRejectsMisalignedOffsets() throws {
        let b = SafetensorsBuilder(header: """
        {"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}
        """, data: Array(repeating: 0, count: 6))
        XCTAssertThrowsMessage("not aligned") { _ = try open(b) }
    }

    func testRejectsUnknownDType() throws {
        let b = SafetensorsBuilder(header: "{\"a\":{\"dtype\":\"F12\",\"shape\":[1],\"data_offsets\":[0,2]}}", data: [0, 0])
        XCTAssertThrowsMessage("unknown dtype F12") { _ = try open(b) }
    }

    func testRejectsShapeThatDisagreesWithSize() throws {
        let b = SafetensorsBuilder(header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", data: Array(repeating: 0, count: 8))
        XCTAssertThrowsMessage("needs 12 bytes but data_offsets span 8") { _ = try open(b) }
    }

    func testRejectsShapeWhoseSizeOverflows() throws {
        let b = SafetensorsBuilder(header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", data: Array(repeating: 0, count: 8))
        XCTAssertThrowsMessage("too many elements") { _ = try open(b) }
    }

    func testRejectsNegativeAndNonIntegerNumbers() throws {
        for header in [
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}",
        ] {
            XCTAssertThrowsError(try open(SafetensorsBuilder(header: header, data: [0, 0, 0, 0])), header)
        }
    }

    func testReadsMetadata() throws {
        let f = try open(SafetensorsBuilder(header: "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[0,2]}}", data: [0, 0x3F]))
        XCTAssertEqual(f.metadata, ["format": "pt"])
        XCTAssertEqual(f.tensors.first?.shape, [])
    }
}
