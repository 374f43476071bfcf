import Foundation
import XCTest
@testable import BLIP2Edge

/// PNG decoding against what transformers' BLIP processor sees for `PIL.Image.open(path)`
/// (Tests/Fixtures/png, from Tools/make_png_fixtures.py): the RGB before resizing, equal byte
/// for byte, and for two files the processor's whole output, equal bit for bit.
final class PNGTests: XCTestCase {
    var expected: GGUFFile!

    override func setUpWithError() throws {
        expected = try GGUFFile(path: Fixtures.path("png/expected.gguf"))
    }

    func file(_ name: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("png/" + name))))
    }

    func testEveryFixtureDecodesToThePixelsTheProcessorSees() throws {
        let names = try XCTUnwrap(expected.metadata["names"]?.array?.compactMap(\.string))
        XCTAssertGreaterThanOrEqual(names.count, 60)
        for name in names {
            let image = try ImageDecoder.read(try file("\(name).png"))
            XCTAssertEqual(image.width, try XCTUnwrap(expected.metadata["\(name).image_width"]?.integer), name)
            XCTAssertEqual(image.height, try XCTUnwrap(expected.metadata["\(name).image_height"]?.integer), name)
            let want = try expected.ints("\(name).rgb").map(UInt8.init)
            let differing = zip(image.pixels, want).filter { $0 != $1 }.count
            XCTAssertEqual(image.pixels.count, want.count, name)
            XCTAssertEqual(differing, 0, "\(name): \(differing) of \(want.count) bytes differ from the processor's RGB")
        }
    }

    /// The fixtures whose tRNS key is wider than 8 bits have, at these rows' first pixel, a
    /// pixel that matches only the key's low byte, as Pillow compares: it must be white there.
    func testTransparencyKeysMatchOnTheirLowByteAsInPillow() throws {
        let hits = ["trns-gray16-lowbyte-9x6": 1, "trns-gray8-lowbyte-9x6": 0, "trns-gray2-lowbyte-9x6": 0,
                    "trns-rgb16-lowbyte-9x6": 2, "trns-rgb8-lowbyte-9x6": 0]
        for (name, row) in hits {
            let want = try expected.ints("\(name).rgb")
            let o = 3 * row * 9
            XCTAssertEqual(Array(want[o..<(o + 3)]), [255, 255, 255], "\(name): the fixture misses its key")
            let image = try ImageDecoder.read(try file("\(name).png"))
            XCTAssertEqual(Array(image.pixels[o..<(o + 3)]), [255, 255, 255], name)
        }
    }

    func testProcessorOutputMatchesTransformersBitForBit() throws {
        for key in ["full-pil-RGBA-17x9", "full-pil-P-trns-alphas-10x7"] {
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
            XCTAssertEqual(got.count, want.count, key)
            let differing = zip(got, want).filter { $0.bitPattern != $1.bitPattern }.count
            XCTAssertEqual(differing, 0, "\(key): \(differing) of \(want.count) values differ from transformers")
        }
    }

    // MARK: - Bad input

    /// A PNG from parts, with correct CRCs unless told otherwise.
    func chunk(_ type: String, _ body: [UInt8], crcDelta: UInt32 = 0) -> [UInt8] {
        let t = Array(type.utf8)
        let n = UInt32(body.count)
        let crc = CRC32.of((t + body)[...]) &+ crcDelta
        return [UInt8(n >> 24), UInt8(n >> 16 & 255), UInt8(n >> 8 & 255), UInt8(n & 255)] + t + body
            + [UInt8(crc >> 24), UInt8(crc >> 16 & 255), UInt8(crc >> 8 & 255), UInt8(crc & 255)]
    }

    func ihdr(width: UInt32 = 2, height: UInt32 = 1, depth: UInt8 = 8, color: UInt8 = 2) -> [UInt8] {
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
        return be(width) + be(height) + [depth, color, 0, 0, 0]
    }

    /// zlib around one stored block, with its Adler-32.
    func storedZlib(_ raw: [UInt8], adlerDelta: UInt32 = 0) -> [UInt8] {
        let n = raw.count
        let a = Inflate.adler32(raw) &+ adlerDelta
        return [0x78, 0x01, 1, UInt8(n & 255), UInt8(n >> 8), UInt8(~n & 255), UInt8(~n >> 8 & 255)] + raw
            + [UInt8(a >> 24), UInt8(a >> 16 & 255), UInt8(a >> 8 & 255), UInt8(a & 255)]
    }

    func png(_ header: [UInt8], _ idat: [UInt8], extra: [UInt8] = []) -> [UInt8] {
        PNGReader.signature + chunk("IHDR", header) + extra + chunk("IDAT", idat) + chunk("IEND", [])
    }

    func checkRejected(_ bytes: [UInt8], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsMessage(fragment, file: file, line: line) { _ = try ImageDecoder.read(bytes) }
    }

    func testHandMadeFileDecodesAndEachCorruptionIsAOneLineError() throws {
        let raw: [UInt8] = [0, 10, 20, 30, 40, 50, 60]
        let good = png(ihdr(), storedZlib(raw))
        XCTAssertEqual(try ImageDecoder.read(good).pixels, [10, 20, 30, 40, 50, 60])
        checkRejected(PNGReader.signature + chunk("IHDR", ihdr(), crcDelta: 1) + chunk("IDAT", storedZlib(raw)), "CRC of the IHDR chunk")
        checkRejected(png(ihdr(), [0x78, 0x02] + storedZlib(raw).dropFirst(2)), "header check bits")
        checkRejected(png(ihdr(), [0x79, 0x01] + storedZlib(raw).dropFirst(2)), "not deflate")
        checkRejected(png(ihdr(), storedZlib(raw, adlerDelta: 1)), "Adler-32")
        checkRejected(png(ihdr(width: 100_000, height: 100_000), storedZlib(raw)), "exceeds the limit")
        checkRejected(png(ihdr(width: 0xffff_ffff, height: 1), storedZlib(raw)), "exceeds the limit")
        checkRejected(png(ihdr(width: 0), storedZlib(raw)), "is empty")
        checkRejected(png(ihdr(color: 5), storedZlib(raw)), "unknown colour type 5")
        checkRejected(png(ihdr(depth: 4, color: 2), storedZlib(raw)), "bit depth 4 is not allowed")
        checkRejected(png(ihdr(), storedZlib([5] + raw.dropFirst())), "unknown filter type 5")
        checkRejected(png(ihdr(), storedZlib(Array(raw.dropLast()))), "needs 7")
        checkRejected(png(ihdr(), storedZlib(raw + [0])), "inflates to more than")
        checkRejected(png(ihdr(depth: 8, color: 3), storedZlib([0, 0])), "without a PLTE")
        checkRejected(PNGReader.signature + chunk("IHDR", ihdr()) + chunk("IEND", []), "no image data")
        checkRejected(PNGReader.signature + chunk("gAMA", [0, 0, 0, 1]), "not IHDR")
        // Pillow does not check CRCs from IDAT on, so neither do we.
        let badIdatCRC = PNGReader.signature + chunk("IHDR", ihdr()) + chunk("IDAT", storedZlib(raw), crcDelta: 1)
        XCTAssertEqual(try ImageDecoder.read(badIdatCRC).pixels, [10, 20, 30, 40, 50, 60])
    }

    func testEveryTruncationOfAValidFileIsAnError() throws {
        let full = try file("c6-d8-adam7-13x11.png")
        XCTAssertNoThrow(try ImageDecoder.read(full))
        // Pillow (checked with 13.0.0) accepts this file cut anywhere from the start of the
        // zlib trailer on: the IEND chunk, the last CRC and the Adler-32 are never needed.
        let trailer = full.count - 12 - 4 - 4
        for n in 0..<trailer {
            XCTAssertThrowsError(try ImageDecoder.read(Array(full[0..<n])), "a file cut to \(n) bytes was accepted") { error in
                XCTAssertFalse("\(error)".contains("\n"))
            }
        }
        for n in trailer..<full.count { XCTAssertNoThrow(try ImageDecoder.read(Array(full[0..<n])), "cut to \(n) bytes") }
    }

    func testDeflateBombStopsAtTheLimit() throws {
        // 64 MiB of zeros compresses to about 64 KiB; the header allows 3 bytes of image.
        var bomb: [UInt8] = [0x78, 0x9c]
        // Fixed-Huffman block: literal 0 then repeated <length 258, distance 1> pairs.
        var bits = BitWriter()
        bits.put(1, 1); bits.put(1, 2)
        bits.putCode(0b0011_0000, 8)
        for _ in 0..<(1 << 18) {
            bits.putCode(0b1100_0101, 8) // length code 285: 258
            bits.putCode(0, 5) // distance code 0: 1
        }
        bits.putCode(0, 7) // end of block
        bomb += bits.bytes + [0, 0, 0, 0]
        let file = png(ihdr(width: 1, height: 1), bomb)
        XCTAssertLessThan(file.count, 1 << 20)
        checkRejected(file, "inflates to more than the 4 bytes")
        // With the stream's trailer cut off instead of wrong, Pillow and we skip the check.
        XCTAssertEqual(try ImageDecoder.read(png(ihdr(), Array(storedZlib([0, 1, 2, 3, 4, 5, 6]).dropLast(4)))).pixels, [1, 2, 3, 4, 5, 6])
        XCTAssertThrowsMessage("inflates to more than the 1000 bytes") { _ = try Inflate.zlib(bomb, limit: 1000) }
    }

    func testDeflateRejectsBadCodes() {
        // Block type 3.
        XCTAssertThrowsMessage("block type 3") { _ = try Inflate.zlib([0x78, 0x01, 0b111], limit: 100) }
        // A fixed block whose first code is a distance before the start of the data.
        var bits = BitWriter()
        bits.put(1, 1); bits.put(1, 2)
        bits.putCode(0b0000_001, 7) // length code 257: 3
        bits.putCode(0, 5)
        XCTAssertThrowsMessage("before the start") { _ = try Inflate.zlib([0x78, 0x01] + bits.bytes, limit: 100) }
        // Stored block whose length check fails.
        XCTAssertThrowsMessage("length check") { _ = try Inflate.zlib([0x78, 0x01, 1, 1, 0, 0, 0, 9], limit: 100) }
        XCTAssertThrowsMessage("truncated") { _ = try Inflate.zlib([0x78], limit: 100) }
    }

    /// Dynamic blocks whose codes run to 15 bits and which write nothing, 30 bytes each. With a
    /// table over all 15 bits each cost 2 x 32K stores (hours for a 700 MiB file of them); the
    /// table now stops at 2^fastBits entries and longer codes are walked. Both lookups must
    /// still decode exactly.
    func testLongCodesDecodeWithABoundedTable() throws {
        // Literals 0...13 get lengths 1...14, 14 and end-of-block 15, distances 0...15 the
        // same: complete codes, whose code of length l < 15 is l - 1 ones and a zero.
        func block(_ w: inout BitWriter, final: Bool, literals: [Int]) {
            w.put(final ? 1 : 0, 1); w.put(2, 2)
            w.put(0, 5); w.put(15, 5); w.put(15, 4) // 257 literal, 16 distance, 19 length codes
            // Code-length code: length 4 for symbols 1...15 and 18, in the order DEFLATE lists them.
            for sym in [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15] {
                w.put(sym == 0 || sym == 16 || sym == 17 ? 0 : 4, 3)
            }
            func length(_ l: Int) { w.putCode(l - 1, 4) }
            for l in 1...15 { length(l) }
            w.putCode(15, 4); w.put(127, 7) // 138 zeros
            w.putCode(15, 4); w.put(92, 7) // 103 zeros
            length(15)
            for l in 1...15 { length(l) }
            length(15)
            for sym in literals { sym < 14 ? w.putCode((1 << (sym + 1)) - 2, sym + 1) : w.putCode(0x7ffe, 15) }
            w.putCode(0x7fff, 15) // end of block: the last 15-bit code
        }
        var unit = BitWriter()
        for _ in 0..<8 { block(&unit, final: false, literals: []) }
        XCTAssertEqual(unit.bytes.count, 239)
        // The last block writes codes of 1, 9, 10, 13, 14 and 15 bits, through both lookups.
        var last = BitWriter()
        block(&last, final: true, literals: [0, 8, 9, 12, 13, 14])
        let written: [UInt8] = [0, 8, 9, 12, 13, 14]
        var stream: [UInt8] = [0x78, 0x01]
        for _ in 0..<10 { stream += unit.bytes }
        let a = Inflate.adler32(written)
        stream += last.bytes + [UInt8(a >> 24), UInt8(a >> 16 & 255), UInt8(a >> 8 & 255), UInt8(a & 255)]
        XCTAssertEqual(try Inflate.zlib(stream, limit: 100), written)
        // The cost per block is what bounds a stream of such blocks (which write nothing, so no
        // output limit stops them): its lookup table stays at 2^fastBits entries, not 2^15.
        let lengths = (1...14).map(UInt8.init) + [15, 15]
        let table = try HuffmanTable(lengths: lengths[...], canBeIncomplete: false)
        XCTAssertEqual(table.maxLength, 15)
        XCTAssertLessThanOrEqual(table.table.count, 1 << HuffmanTable.fastBits)
    }

    func testOtherFormatsAreNamed() {
        checkRejected([0xff, 0xd8, 0xff, 0xe0, 0, 16], "the JPEG data ends inside a marker segment")
        checkRejected(Array("GIF89a".utf8), "GIF images")
        checkRejected(Array("RIFF\u{0}\u{0}\u{0}\u{0}WEBPVP8 ".utf8), "WebP images")
        checkRejected(Array("BM".utf8) + [0, 0, 0, 0], "BMP images")
        checkRejected([0x49, 0x49, 0x2a, 0, 8, 0, 0, 0], "TIFF images")
        checkRejected([0, 0, 0, 24] + Array("ftypheic".utf8), "HEIC/HEIF images")
        checkRejected(Array("hello".utf8), "not a PPM/PGM image")
        XCTAssertEqual(try ImageDecoder.read(Array("P5 2 1 255\n".utf8) + [7, 200]).pixels, [7, 7, 7, 200, 200, 200])
    }
}

/// DEFLATE's bit order for hand-made streams: values LSB first, Huffman codes MSB first.
struct BitWriter {
    var bytes: [UInt8] = []
    var used = 8

    mutating func put(_ value: Int, _ n: Int) {
        for i in 0..<n { bit(value >> i & 1) }
    }

    mutating func putCode(_ code: Int, _ n: Int) {
        for i in stride(from: n - 1, through: 0, by: -1) { bit(code >> i & 1) }
    }

    mutating func bit(_ b: Int) {
        if used == 8 {
            bytes.append(0)
            used = 0
        }
        bytes[bytes.count - 1] |= UInt8(b << used)
        used += 1
    }
}
