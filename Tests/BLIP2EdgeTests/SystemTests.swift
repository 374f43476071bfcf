import BLIP2System
import XCTest

/// BLIP2System: what replaced Foundation in the library and tools. The JSON cases follow
/// RFC 8259 (and JSONTestSuite's y_/n_ classes); the expectations are the RFC's, not ours.
final class SystemTests: XCTestCase {
    private func parse(_ s: String) throws -> JSONValue { try JSONValue.parse(Array(s.utf8)) }

    func testParsesEveryKindOfValue() throws {
        let v = try parse(#" {"a": [1, -2, 3.5, 1e3, -0.25E-2, true, false, null], "b": {"c": "d\"\n\u00e9\ud83d\ude00"}, "e": ""} "#)
        XCTAssertEqual(v, .object([
            "a": .array([.int(1), .int(-2), .double(3.5), .double(1000), .double(-0.0025), .bool(true), .bool(false), .null]),
            "b": .object(["c": .string("d\"\né😀")]),
            "e": .string(""),
        ]))
        XCTAssertEqual(try parse("9223372036854775807"), .int(Int.max))
        XCTAssertEqual(try parse("9223372036854775808"), .double(9223372036854775808)) // past Int: a double
        XCTAssertEqual(try parse("1.0"), .double(1))
        XCTAssertEqual(try parse("-0"), .int(0))
        XCTAssertEqual(try parse(#""\/\\\b\f\r\t""#), .string("/\\\u{08}\u{0C}\r\t"))
        XCTAssertEqual(try parse(#""é 中""#), .string("é 中"))
    }

    func testRefusesWhatIsNotJSON() {
        let bad = ["", " ", "{", "[1,]", "{\"a\":1,}", "[1 2]", "{\"a\" 1}", "{a: 1}", "01", "1.", ".5", "1e", "+1", "-",
                   "tru", "nul", "'a'", "\"a", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
                   "\"a\u{01}b\"", "[1] 2", "NaN", "Infinity", "1e400", "// c\n1", "\u{FEFF}1"]
        for s in bad {
            XCTAssertThrowsError(try parse(s), "accepted \(s.debugDescription)")
        }
        XCTAssertThrowsError(try JSONValue.parse([UInt8(ascii: "\""), 0xFF, UInt8(ascii: "\"")]), "accepted invalid UTF-8")
        XCTAssertThrowsError(try JSONValue.parse([UInt8(ascii: "\""), 0xC3, UInt8(ascii: "\\"), UInt8(ascii: "n"), UInt8(ascii: "\"")]),
                             "accepted a cut UTF-8 sequence before an escape")
    }

    func testDepthIsBounded() throws {
        let deep = String(repeating: "[", count: 256) + String(repeating: "]", count: 256)
        XCTAssertNoThrow(try parse(deep))
        let tooDeep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertThrowsError(try parse(tooDeep)) { XCTAssertTrue("\($0)".contains("nested more than 256 deep"), "\($0)") }
    }

    func testErrorsSayWhereAndWhy() {
        XCTAssertThrowsError(try parse(#"{"a": [1, 2,]}"#)) { XCTAssertEqual("\($0)", "unexpected character at byte 12") }
        XCTAssertThrowsError(try parse("[1, 02]")) { XCTAssertEqual("\($0)", "a number with a leading zero at byte 4") }
    }

    func testTextReadsBackAsTheSameValue() throws {
        let v: JSONValue = .object(["x": .array([.double(1), .double(-0.0), .double(1e300), .double(.leastNonzeroMagnitude), .int(-7),
                                                 .string("q\"\\\u{01}\u{1F}\n/é"), .null, .bool(false)]), "": .object([:])])
        XCTAssertEqual(try JSONValue.parse(Array(v.text.utf8)), v)
        XCTAssertEqual(JSONValue.object(["b": .int(1), "a": .array([])]).text, #"{"a":[],"b":1}"#)
        XCTAssertEqual(JSONValue.string("\u{01}").text, #""\u0001""#)
    }

    private struct Reply: Encodable {
        struct Item: Encodable { let z: Int; let a: Float }
        let name: String
        let missing: String?
        let items: [Item]
        let flag: Bool
        let big: UInt64
    }

    func testEncodesStructsInDeclarationOrderOrSorted() throws {
        let r = Reply(name: "a/b", missing: nil, items: [.init(z: 1, a: 0.1), .init(z: -2, a: 2)], flag: true, big: .max)
        XCTAssertEqual(try JSONEncoding.text(r), #"{"name":"a/b","items":[{"z":1,"a":0.1},{"z":-2,"a":2}],"flag":true,"big":18446744073709551615}"#)
        XCTAssertEqual(try JSONEncoding.text(r, sortedKeys: true), #"{"big":18446744073709551615,"flag":true,"items":[{"a":0.1,"z":1},{"a":2,"z":-2}],"name":"a/b"}"#)
        XCTAssertEqual(try JSONEncoding.text([[1, 2], [3]]), "[[1,2],[3]]")
        XCTAssertEqual(try JSONEncoding.text(["k": Optional<Int>.none]), #"{"k":null}"#)
        XCTAssertThrowsError(try JSONEncoding.text(Reply.Item(z: 0, a: .nan)))
        XCTAssertThrowsError(try JSONEncoding.text([Double.infinity]))
    }

    func testBase64() {
        XCTAssertEqual(Base64.decode("".utf8), [])
        XCTAssertEqual(Base64.decode("TQ==".utf8), Array("M".utf8))
        XCTAssertEqual(Base64.decode("TWE=".utf8), Array("Ma".utf8))
        XCTAssertEqual(Base64.decode("TWFu".utf8), Array("Man".utf8))
        XCTAssertEqual(Base64.decode("+/+/".utf8), [0xFB, 0xFF, 0xBF])
        for bad in ["T", "TQ=", "TQ", "T===", "TQ=a", "=QQQ", "TW u", "TWF\n", "TQ==TQ==", "TWF-"] {
            XCTAssertNil(Base64.decode(bad.utf8), bad)
        }
    }

    func testPaths() {
        XCTAssertEqual(FilePaths.join("a", "b"), "a/b")
        XCTAssertEqual(FilePaths.join("a/", "b"), "a/b")
        XCTAssertEqual(FilePaths.join("", "b"), "b")
        XCTAssertEqual(FilePaths.join("a", "/b"), "/b")
        XCTAssertEqual(FilePaths.folder(of: "a/b/c.json"), "a/b")
        XCTAssertEqual(FilePaths.folder(of: "c.json"), "")
        XCTAssertEqual(FilePaths.folder(of: "/c"), "/")
        XCTAssertEqual(FilePaths.folder(of: "a//b/"), "a")
        XCTAssertEqual(FilePaths.lastComponent(of: "a/b.gguf"), "b.gguf")
        XCTAssertEqual(FilePaths.lastComponent(of: "a/b/"), "b")
        XCTAssertEqual(FilePaths.lastComponent(of: "/"), "/")
        XCTAssertEqual(FilePaths.kind("/"), .directory)
        XCTAssertEqual(FilePaths.kind("/proc/self/status"), .file)
        XCTAssertNil(FilePaths.kind("/no/such/path"))
        XCTAssertEqual(FilePaths.resolved("/proc/../"), "/")
        XCTAssertTrue(FilePaths.contents(ofDirectory: "/proc/self")?.contains("status") ?? false)
        XCTAssertNil(FilePaths.contents(ofDirectory: "/no/such/path"))
    }

    func testText() {
        XCTAssertEqual(format("%.2f|%5ld|%02x|%%", 3.14159, 42, 10), "3.14|   42|0a|%")
        let long = format("%0300d", 7)
        XCTAssertEqual(long.count, 300)
        XCTAssertTrue(long.hasSuffix("07"))
        XCTAssertEqual(" \t a b \n\u{3000}".trimmed(), "a b")
        XCTAssertEqual("  ".trimmed(), "")
        XCTAssertEqual(" \ta \n".trimmingSpacesAndTabs(), "a \n")
        XCTAssertEqual("a\r\nb\n\nc\r\n".textLines(), ["a", "b", "", "c", ""])
        XCTAssertEqual("ab".padded(to: 4) + "|", "ab  |")
        XCTAssertEqual("abcdef".padded(to: 4), "abcdef")
        XCTAssertEqual("7".leftPadded(to: 3), "  7")
        // Substring search and replacement share one byte matcher: edges, absent and overlong needles.
        XCTAssertTrue("abc".includes("abc") && "abc".includes("c") && "abc".includes("") && "".includes(""))
        XCTAssertFalse("abc".includes("abcd") || "abc".includes("ac") || "".includes("a"))
        XCTAssertTrue("naïve".includes("ï") && !"naive".includes("ï"))
        XCTAssertEqual("aaa".replacingAll("aa", with: "b"), "ba")
        XCTAssertEqual("xaxbx".replacingAll("x", with: ""), "ab")
        XCTAssertEqual("ab".replacingAll("abc", with: "z"), "ab")
    }

    func testLocksAndThreads() throws {
        let done = Semaphore()
        let lock = Lock()
        nonisolated(unsafe) var counter = 0
        for _ in 0..<4 {
            try startDetachedThread {
                for _ in 0..<10_000 { lock.withLock { counter += 1 } }
                done.signal()
            }
        }
        for _ in 0..<4 { done.wait() }
        XCTAssertEqual(lock.withLock { counter }, 40_000)
        let c = Condition()
        c.lock()
        let t = Clock.monotonicSeconds()
        XCTAssertFalse(c.wait(seconds: 0.05))
        c.unlock()
        XCTAssertGreaterThanOrEqual(Clock.monotonicSeconds() - t, 0.045)
        XCTAssertGreaterThan(Clock.unixTime(), 1_700_000_000)
        XCTAssertGreaterThan(SystemInfo.physicalMemory, 1 << 26)
        XCTAssertNotNil(SystemInfo.environment("PATH"))
        XCTAssertNil(SystemInfo.environment("BLIP2_NO_SUCH_VARIABLE"))
    }
}
