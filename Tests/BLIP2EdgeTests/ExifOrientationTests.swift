import Foundation
import XCTest
@testable import BLIP2Edge

/// --exif-orientation against transformers' `load_image` (PIL's exif_transpose, then RGB) on
/// files with each Orientation value (Tests/Fixtures/exif, made by Tools/make_exif_fixtures.py).
final class ExifOrientationTests: XCTestCase {
    struct Expected: Decodable {
        let orientation: Int?
        let width: Int
        let height: Int
        let rgb: String
    }

    func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("exif/\(name)")))) }

    func testEveryOrientationEqualsLoadImage() throws {
        let json = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("exif/expected.json")))
        let expected = try JSONDecoder().decode([String: Expected].self, from: json)
        XCTAssertEqual(expected.count, 10)
        for (name, e) in expected.sorted(by: { $0.key < $1.key }) {
            let data = try bytes(name)
            XCTAssertEqual(ExifOrientation.read(data), e.orientation, name)
            let image = try ImageDecoder.read(data, exifOrientation: true)
            XCTAssertEqual([image.width, image.height], [e.width, e.height], name)
            let hex = image.pixels.map { String(format: "%02x", $0) }.joined()
            XCTAssertEqual(hex, e.rgb, name)
            // By default the stored pixels, as Image.open and the processor give them.
            XCTAssertEqual(try ImageDecoder.read(data, exifOrientation: false), try ImageDecoder.read(data), name)
        }
    }

    /// A damaged EXIF block is ignored (no orientation), never a crash or a refusal of the image.
    func testDamagedExifIsIgnored() throws {
        let good = try bytes("o6.jpg")
        let at = try XCTUnwrap((0..<(good.count - 6)).first { Array(good[$0..<($0 + 6)]) == Array("Exif\0\0".utf8) })
        for cut in [at + 6, at + 10, at + 14, at + 20] {
            var damaged = good
            for i in cut..<min(cut + 8, damaged.count) { damaged[i] = 0xFF }
            _ = ExifOrientation.read(damaged)
            XCTAssertNoThrow(try ImageDecoder.read(damaged, exifOrientation: true))
        }
        XCTAssertNil(ExifOrientation.read(Array(good.prefix(at + 8))))
        XCTAssertNil(ExifOrientation.read([]))
        XCTAssertNil(ExifOrientation.read(Array("P6\n1 1\n255\n\0\0\0".utf8)))
    }
}
