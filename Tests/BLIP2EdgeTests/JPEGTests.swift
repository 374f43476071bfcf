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

    func testSHA256() {
        XCTAssertEqual(SHA256.hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex([UInt8](repeating: 0x61, count: 1000)),
                       "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
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
            if SHA256.hex(image.pixels) == hash { equal += 1 } else { XCTFail("\(name): the RGB differs from Pillow's (SHA-256)") }
        }
        XCTAssertEqual(equal, names.count)
    }

    /// Also the files Pillow decodes and we refuse on purpose ("divergent": a missing EOI
    /// marker, arithmetic coding).
    func testFilesPillowRefusesAreOneLineErrors() throws {
        let refused = try XCTUnwrap(expected.metadata["refused"]?.array?.compactMap(\.string))
        let divergent = try XCTUnwrap(expected.metadata["divergent"]?.array?.compactMap(\.string))
        XCTAssertGreaterThanOrEqual(refused.count, 10)
        XCTAssertEqual(divergent.count, 2)
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
