import Foundation
import XCTest
@testable import BLIP2Edge

/// JPEG decoding against what transformers' BLIP processor sees for `PIL.Image.open(path)`
/// with Pillow 13.0.0 / libjpeg-turbo 3.2.0 (Tests/Fixtures/jpeg, from
/// Tools/make_jpeg_fixtures.py): every file's RGB equal byte for byte (by SHA-256, and for
/// small files pixel by pixel), every file Pillow refuses refused, and one file's processor
/// output equal bit for bit.
final class JPEGTests: XCTestCase {
    var expected: GGUFFile!

    override func setUpWithError() throws {
        expected = try GGUFFile(path: Fixtures.path("jpeg/expected.gguf"))
    }

    func file(_ name: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("jpeg/" + name))))
    }

    /// The library's SHA-256 as the fixture script writes it.
    func hex(_ bytes: [UInt8]) -> String {
        SHA256.hash(bytes).map { String(format: "%02x", $0) }.joined()
    }

    func testEveryFixtureDecodesToThePixelsPillowGives() throws {
        let names = try XCTUnwrap(expected.metadata["names"]?.array?.compactMap(\.string))
        XCTAssertGreaterThanOrEqual(names.count, 200)
        var equal = 0
        for name in names {
            let image: RGBImage
            do {
                image = try ImageDecoder.read(try file("\(name).jpg"))
            } catch {
                XCTFail("\(name): \(error)")
                continue
            }
            let width = try XCTUnwrap(expected.metadata["\(name).image_width"]?.integer)
            let height = try XCTUnwrap(expected.metadata["\(name).image_height"]?.integer)
            XCTAssertEqual(image.width, width, name)
            XCTAssertEqual(image.height, height, name)
            if expected.metadata["\(name).rgb"] != nil {
                let want = try expected.ints("\(name).rgb").map(UInt8.init)
                if image.pixels.count == want.count, let i = want.indices.first(where: { image.pixels[$0] != want[$0] }) {
                    let p = i / 3
                    XCTFail("\(name): pixel (\(p % width), \(p / width)) channel \(i % 3) is \(image.pixels[i]), Pillow's is \(want[i])")
                    continue
                }
            }
            let hash = try XCTUnwrap(expected.metadata["\(name).sha256"]?.string)
            if hex(image.pixels) == hash { equal += 1 } else { XCTFail("\(name): the RGB differs from Pillow's (SHA-256)") }
        }
        XCTAssertEqual(equal, names.count)
    }

    /// Also the file Pillow decodes and we refuse on purpose ("divergent": arithmetic coding).
    func testFilesPillowRefusesAreOneLineErrors() throws {
        let refused = try XCTUnwrap(expected.metadata["refused"]?.array?.compactMap(\.string))
        let divergent = try XCTUnwrap(expected.metadata["divergent"]?.array?.compactMap(\.string))
        XCTAssertGreaterThanOrEqual(refused.count, 10)
        XCTAssertEqual(divergent.count, 1)
        let names = refused + divergent
        for name in names {
            XCTAssertThrowsError(try ImageDecoder.read(try file("\(name).jpg")), name) { error in
                XCTAssertFalse("\(error)".contains("\n"), name)
            }
        }
    }

    func testProcessorOutputMatchesTransformersBitForBit() throws {
        let key = "full-pil-ss2-67x45"
        let w = try XCTUnwrap(expected.metadata["\(key).width"]?.integer)
        let h = try XCTUnwrap(expected.metadata["\(key).height"]?.integer)
        let rgb = try expected.ints("\(key).rgb8")
        let table = try expected.floats("\(key).table")
        var want = [Float](repeating: 0, count: 3 * w * h)
        for i in 0..<(w * h) {
            for c in 0..<3 { want[c * w * h + i] = table[c * 256 + rgb[3 * i + c]] }
        }
        var settings = ImagePreprocessing()
        settings.width = w
        settings.height = h
        let image = try ImageDecoder.read(try file(try XCTUnwrap(expected.metadata["\(key).file"]?.string)))
        let got = ImageProcessor(settings).pixelValues(image)
        XCTAssertEqual(got.count, want.count)
        let differing = zip(got, want).filter { $0.bitPattern != $1.bitPattern }.count
        XCTAssertEqual(differing, 0, "\(differing) of \(want.count) values differ from transformers")
    }
}

/// Malformed input: each case a one-line ImageError, never a crash, hang or partial image.
final class JPEGBadInputTests: XCTestCase {
    func fixture(_ name: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("jpeg/" + name))))
    }

    /// Offset of the first FF `marker` (the FF byte).
    func offset(of marker: UInt8, in d: [UInt8]) throws -> Int {
        try XCTUnwrap((0..<(d.count - 1)).first { d[$0] == 0xff && d[$0 + 1] == marker }, "no marker \(marker)")
    }

    func checkRejected(_ bytes: [UInt8], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsMessage(fragment, file: file, line: line) { _ = try ImageDecoder.read(bytes) }
    }

    func testEveryTruncationIsAnErrorOrTheWholeImage() throws {
        for name in ["pil-ss2-33x31.jpg", "pil-prog-33x31.jpg", "pil-rst-blocks3-64x48.jpg", "hand-420-separate-scans-29x21.jpg"] {
            let full = try fixture(name)
            let image = try ImageDecoder.read(full)
            let progressive = name.contains("prog") || name.contains("separate")
            var accepted = 0
            for n in 0..<full.count {
                do {
                    let cut = try ImageDecoder.read(Array(full[0..<n]))
                    // Only a single-scan file, and only once its last block's data is there.
                    XCTAssertFalse(progressive, "\(name) cut to \(n) bytes was accepted")
                    XCTAssertEqual(cut, image, "\(name) cut to \(n) bytes gave a partial image")
                    accepted += 1
                } catch {
                    XCTAssertFalse("\(error)".contains("\n"))
                }
            }
            XCTAssertLessThan(accepted, 8, name)
        }
    }

    func testEachBadHeaderIsNamed() throws {
        let good = try fixture("pil-ss2-17x9.jpg")
        XCTAssertNoThrow(try ImageDecoder.read(good))
        let sof = try offset(of: 0xc0, in: good)
        func edited(_ at: Int, _ bytes: [UInt8]) -> [UInt8] {
            var d = good
            d.replaceSubrange(at..<(at + bytes.count), with: bytes)
            return d
        }
        // SOF: FF C0, length (2), precision, height (2), width (2), components, 3 per component.
        checkRejected(edited(sof + 4, [12]), "12-bit JPEG images are not supported")
        var extended = edited(sof + 1, [0xc1])
        XCTAssertNoThrow(try ImageDecoder.read(extended))
        extended[sof + 4] = 12
        checkRejected(extended, "12-bit")
        checkRejected(edited(sof + 1, [0xc3]), "lossless JPEG")
        checkRejected(edited(sof + 1, [0xc9]), "arithmetic-coded JPEG")
        checkRejected(edited(sof + 1, [0xca]), "arithmetic-coded JPEG")
        checkRejected(edited(sof + 1, [0xc5]), "hierarchical")
        checkRejected(edited(sof + 5, [0, 0]), "DNL")
        checkRejected(edited(sof + 5, [0xff, 0xff, 0xff, 0xff]), "exceeds the limit")
        checkRejected(edited(sof + 7, [0, 0]), "is empty")
        checkRejected(edited(sof + 9, [2]), "2 components")
        checkRejected(edited(sof + 9, [0]), "0 components")
        checkRejected(edited(sof + 11, [0x50]), "sampling factors 5x0")
        checkRejected(edited(sof + 11, [0x31]).enumerated().map { $0.offset == sof + 14 ? 0x21 : $0.element }, "not integer ratios")
        checkRejected(edited(sof + 11, [0x44]).enumerated().map { $0.offset == sof + 14 ? 0x22 : $0.element }, "an MCU of 21 blocks")
        checkRejected(edited(sof + 12, [3]), "quantisation table 3, which is not defined")
        // DQT: FF DB, length, Pq/Tq.
        let dqt = try offset(of: 0xdb, in: good)
        checkRejected(edited(dqt + 4, [0x05]), "quantisation table index 5")
        // DHT: FF C4, length, Tc/Th, 16 counts.
        let dht = try offset(of: 0xc4, in: good)
        checkRejected(edited(dht + 4, [0x07]), "Huffman table index 7")
        checkRejected(edited(dht + 5, [3]), "Huffman table")
        // SOS: FF DA, length, Ns, (Cs, Td/Ta)...
        let sos = try offset(of: 0xda, in: good)
        checkRejected(edited(sos + 6, [0x33]), "Huffman table 3, which is not defined")
        checkRejected(edited(sos + 5, [9]), "a scan names component 9")
        checkRejected(edited(sos + 4, [5]), "scan header (SOS) of the wrong length")
        // Markers.
        checkRejected(edited(dqt + 1, [0x02]), "unknown marker 0x2")
        checkRejected(edited(dqt + 1, [0xd8]), "a second SOI")
        checkRejected(Array(good[0..<sof]) + Array(good[sos...]), "before the frame header")
        checkRejected(Array(good[0..<dht]) + Array(good[sof..<dht]) + Array(good[dht...]), "more than one frame header")
        checkRejected([0xff, 0xd8, 0xff, 0xd9], "no image data")
        checkRejected([0xff, 0xd8, 0xff], "ends before its EOI")
    }

    /// A sequential scan whose Huffman table does not cover the bits (an all-ones prefix) reads
    /// a bad code as zero, as libjpeg does, and still finishes.
    func testBadCodesAndPrematureMarkersDecodeAsLibjpegDoes() throws {
        let good = try fixture("pil-ss2-33x31.jpg")
        let sos = try offset(of: 0xda, in: good)
        let start = sos + 2 + (Int(good[sos + 2]) << 8 | Int(good[sos + 3]))
        var ones = good
        for i in (start + 10)..<(start + 30) { ones[i] = 0xfe }
        let image = try ImageDecoder.read(ones)
        XCTAssertEqual(image.width, 33)
        // Data cut by an EOI marker: the rest of the image is grey (zero coefficients).
        let cut = Array(good[0..<(start + 20)]) + [0xff, 0xd9]
        let grey = try ImageDecoder.read(cut)
        XCTAssertEqual(Array(grey.pixels.suffix(3)), [128, 128, 128])
    }
}
