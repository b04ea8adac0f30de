import XCTest

@testable import MagnumCore

final class PythonLiteralTests: XCTestCase {
    private func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSON? {
        do {
            return try PythonLiteral.parse(text)
        } catch {
            XCTFail("\(text) did not parse: \(error)", file: file, line: line)
            return nil
        }
    }

    /// Asserts the exact error `PythonLiteral.parse` gives for malformed input.
    private func assertMalformed(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try PythonLiteral.parse(text), "\(text)", file: file, line: line) { error in
            guard let error = error as? MagnumError else {
                return XCTFail("not a MagnumError: \(error)", file: file, line: line)
            }
            XCTAssertEqual(error.code, .invalid, file: file, line: line)
            XCTAssertEqual(error.httpStatus, 400, file: file, line: line)
            XCTAssertEqual(error.message, "malformed node or string: \(PythonLiteral.repr(.string(text)))",
                           file: file, line: line)
        }
    }

    // MARK: Containers

    func testDictWithBothQuoteStyles() {
        XCTAssertEqual(parse(#"{'a': 'b', "c": 1}"#), ["a": "b", "c": 1])
    }

    func testClientLabelString() {
        // What python-magnumclient sends: str(dict).
        XCTAssertEqual(parse("{'kube_tag': 'v1.30', 'auto_healing_enabled': 'True'}"),
                       ["kube_tag": "v1.30", "auto_healing_enabled": "True"])
    }

    func testNodeTaintsListOfDicts() {
        XCTAssertEqual(parse("[{'key': 'dedicated', 'value': 'gpu', 'effect': 'NoSchedule'}]"),
                       [["key": "dedicated", "value": "gpu", "effect": "NoSchedule"]])
    }

    func testNestedValues() {
        XCTAssertEqual(parse("{'l': [1, 2.5, True, False, None], 't': (1, 'x'), 'd': {'e': {}}}"),
                       ["l": [1, 2.5, true, false, nil], "t": [1, "x"], "d": ["e": [:]]])
    }

    func testEmptyContainers() {
        XCTAssertEqual(parse("{}"), .object([:]))
        XCTAssertEqual(parse("[]"), .array([]))
        XCTAssertEqual(parse("()"), .array([]))
    }

    func testTuplesAndParentheses() {
        XCTAssertEqual(parse("(1,)"), [1])
        XCTAssertEqual(parse("(1, 2)"), [1, 2])
        XCTAssertEqual(parse("(1)"), 1, "parentheses alone do not make a tuple")
        XCTAssertEqual(parse("('a')"), "a")
        XCTAssertEqual(parse("((1, 2), [3])"), [[1, 2], [3]])
        XCTAssertEqual(parse("1, 2"), [1, 2], "a bare top-level tuple")
        XCTAssertEqual(parse("'a',"), ["a"])
    }

    func testTrailingCommas() {
        XCTAssertEqual(parse("[1, 2,]"), [1, 2])
        XCTAssertEqual(parse("{'a': 1,}"), ["a": 1])
        XCTAssertEqual(parse("(1, 2,)"), [1, 2])
    }

    func testWhitespaceAndCommentsAnywhere() {
        XCTAssertEqual(parse(" \t{\n 'a' :\n [ 1 ,\r\n 2 ] , # comment\n 'b':None }\n "), ["a": [1, 2], "b": nil])
        XCTAssertEqual(parse("[1, \\\n 2]"), [1, 2], "backslash line continuation")
    }

    func testNumericKeysBecomeDecimalStrings() {
        XCTAssertEqual(parse("{1: 'a', -3: 'b', 2.5: 'c', 0x10: 'd'}"), ["1": "a", "-3": "b", "2.5": "c", "16": "d"])
    }

    func testDuplicateKeysKeepTheLast() {
        XCTAssertEqual(parse("{'a': 1, 'a': 2}"), ["a": 2])
    }

    func testJSONCompatibleText() {
        XCTAssertEqual(parse(#"{"a": [true, false, null], "b": {"c": 1.5, "d": "x"}}"#),
                       ["a": [true, false, nil], "b": ["c": 1.5, "d": "x"]])
    }

    func testKeywords() {
        XCTAssertEqual(parse("True"), true)
        XCTAssertEqual(parse("False"), false)
        XCTAssertEqual(parse("None"), .null)
        XCTAssertEqual(parse("true"), true)
        XCTAssertEqual(parse("false"), false)
        XCTAssertEqual(parse("null"), .null)
    }

    // MARK: Strings

    func testStringQuotes() {
        XCTAssertEqual(parse("'abc'"), "abc")
        XCTAssertEqual(parse(#""it's""#), "it's")
        XCTAssertEqual(parse(#"'say "hi"'"#), #"say "hi""#)
        XCTAssertEqual(parse("''"), "")
    }

    func testStringEscapes() {
        XCTAssertEqual(parse(#"'a\nb\tc\\d\'e\"f'"#), "a\nb\tc\\d'e\"f")
        XCTAssertEqual(parse(#"'\r\a\b\f\v'"#), "\r\u{07}\u{08}\u{0C}\u{0B}")
        XCTAssertEqual(parse(#"'\x41\u00e9\U0001F600'"#), "Aé😀")
        XCTAssertEqual(parse(#"'\101\0\7'"#), "A\u{0}\u{07}")
        XCTAssertEqual(parse(#"'\d\w'"#), #"\d\w"#, "unknown escapes keep their backslash")
        XCTAssertEqual(parse("'a\\\nb'"), "ab", "backslash-newline inside a string is a continuation")
    }

    func testJSONSurrogatePairBecomesOneCharacter() {
        XCTAssertEqual(parse(#""\ud83d\ude00""#), "😀")
    }

    func testNonASCIITextIsKept() {
        XCTAssertEqual(parse("{'ключ': 'значение ✓'}"), ["ключ": "значение ✓"])
    }

    func testStringPrefixes() {
        XCTAssertEqual(parse(#"r'\n\''"#), #"\n\'"#)
        XCTAssertEqual(parse(#"R"a\b""#), #"a\b"#)
        XCTAssertEqual(parse("u'x'"), "x")
        XCTAssertEqual(parse("U\"x\""), "x")
    }

    func testTripleQuotedStrings() {
        XCTAssertEqual(parse("'''a\n'b'\nc'''"), "a\n'b'\nc")
        XCTAssertEqual(parse(#""""x "y" z""""#), #"x "y" z"#)
    }

    func testAdjacentStringsConcatenate() {
        XCTAssertEqual(parse(#"'a' "b" r'\c'"#), #"ab\c"#)
        XCTAssertEqual(parse("['a'\n 'b', 'c']"), ["ab", "c"])
    }

    // MARK: Numbers

    func testIntegers() {
        XCTAssertEqual(parse("42"), 42)
        XCTAssertEqual(parse("-7"), -7)
        XCTAssertEqual(parse("+3"), 3)
        XCTAssertEqual(parse("- 5"), -5)
        XCTAssertEqual(parse("0"), 0)
        XCTAssertEqual(parse("00"), 0)
        XCTAssertEqual(parse("1_000_000"), 1_000_000)
        XCTAssertEqual(parse("0x1F"), 31)
        XCTAssertEqual(parse("0o17"), 15)
        XCTAssertEqual(parse("0B101"), 5)
        XCTAssertEqual(parse("0x_ff"), 255)
        XCTAssertEqual(parse("-0x10"), -16)
        XCTAssertEqual(parse("-9223372036854775808"), .int(Int.min))
        XCTAssertEqual(parse("9223372036854775807"), .int(Int.max))
    }

    func testFloats() {
        XCTAssertEqual(parse("1.5"), .double(1.5))
        XCTAssertEqual(parse("-2.5e3"), .double(-2500))
        XCTAssertEqual(parse(".5"), .double(0.5))
        XCTAssertEqual(parse("1."), .double(1))
        XCTAssertEqual(parse("1e3"), .double(1000))
        XCTAssertEqual(parse("1E-2"), .double(0.01))
        XCTAssertEqual(parse("01.5"), .double(1.5))
        XCTAssertEqual(parse("1_0.2_5"), .double(10.25))
    }

    // MARK: Failures

    func testExactMessageForANameInsideADict() {
        XCTAssertThrowsError(try PythonLiteral.parse("{'x': y}")) { error in
            XCTAssertEqual(error as? MagnumError, MagnumError(.invalid, #"malformed node or string: "{'x': y}""#))
        }
    }

    func testNamesAndExpressionsAreRejected() {
        for text in ["foo", "{'x': y}", "[1, foo]", "print(1)", "1 + 2", "1 - 2", "--1", "-True", "-'a'",
                     "...", "Ellipsis", "TRUE", "none", "{**a}", "[*a]", "lambda: 1", "a.b"] {
            assertMalformed(text)
        }
    }

    func testUnterminatedAndBrokenStringsAreRejected() {
        for text in ["'abc", #""abc'"#, "'''abc''", "'a\nb'", #"'\x4'"#, #"'\xZZ'"#, #"'\u12'"#,
                     #"'\N{BULLET}'"#, #"'\ud800'"#, #"'\ud800\u0041'"#, #"'\U00110000'"#, #"r'\'"#,
                     "b'x'", "f'x'", "rb'x'", "x'a'"] {
            assertMalformed(text)
        }
    }

    func testBrokenContainersAreRejected() {
        for text in ["[1, 2", "{'a': 1", "{'a' 1}", "{'a': 1 'b': 2}", "[1 2]", "[,]", "{,}", "(,)", "(1 2)",
                     "{1, 2}", "{'a'}", "{[1]: 2}", "{None: 1}", "{True: 1}", "{(1,): 2}", "]", "}", ")", "[1,,]"] {
            assertMalformed(text)
        }
    }

    func testBrokenNumbersAreRejected() {
        for text in ["01", "1__0", "1_", "0x", "0xG", "0b2", "1j", "1e", "1e+", "1.2.3", "1abc",
                     "99999999999999999999", "1e999", "+", "-"] {
            assertMalformed(text)
        }
    }

    func testTrailingGarbageAndEmptyInputAreRejected() {
        for text in ["", "   ", "# only a comment", "{'a': 1} x", "1 2", "'a' 1", "[1]]", "None None"] {
            assertMalformed(text)
        }
    }

    func testNestingIsLimited() {
        let ok = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        XCTAssertNotNil(parse(ok))
        assertMalformed(String(repeating: "[", count: 101) + String(repeating: "]", count: 101))
        assertMalformed(String(repeating: "(", count: 5000))
    }

    // MARK: repr / str

    func testReprOfStrings() {
        XCTAssertEqual(PythonLiteral.repr("abc"), "'abc'")
        XCTAssertEqual(PythonLiteral.repr("it's"), #""it's""#)
        XCTAssertEqual(PythonLiteral.repr(#"it's "x""#), #"'it\'s "x"'"#)
        XCTAssertEqual(PythonLiteral.repr("a\\b\n\t\r"), #"'a\\b\n\t\r'"#)
        XCTAssertEqual(PythonLiteral.repr("\u{01}\u{7F}\u{85}\u{A0}"), #"'\x01\x7f\x85\xa0'"#)
        XCTAssertEqual(PythonLiteral.repr("\u{200B}\u{E000}\u{E0001}"), #"'\u200b\ue000\U000e0001'"#)
        XCTAssertEqual(PythonLiteral.repr("é ✓ 😀"), "'é ✓ 😀'")
    }

    func testReprOfOtherValues() {
        XCTAssertEqual(PythonLiteral.repr(nil), "None")
        XCTAssertEqual(PythonLiteral.repr(true), "True")
        XCTAssertEqual(PythonLiteral.repr(5), "5")
        XCTAssertEqual(PythonLiteral.repr(1.5), "1.5")
        XCTAssertEqual(PythonLiteral.repr(2.0), "2.0")
        XCTAssertEqual(PythonLiteral.repr(["b": [1, "x"], "a": ["c": nil]]), "{'a': {'c': None}, 'b': [1, 'x']}")
    }

    func testStrLeavesStringsBare() {
        XCTAssertEqual(PythonLiteral.str("abc"), "abc")
        XCTAssertEqual(PythonLiteral.str(["k": "v"]), "{'k': 'v'}")
        XCTAssertEqual(PythonLiteral.str(false), "False")
    }

    func testTypeNames() {
        XCTAssertEqual([JSON.null, true, 1, 1.5, "s", [], [:]].map(PythonLiteral.typeName),
                       ["NoneType", "bool", "int", "float", "str", "list", "dict"])
    }

    func testReprRoundTripsThroughParse() {
        let value: JSON = ["a": ["x'y", #"q"uote"#, "both'\"", "tab\t", 1, -2, 0.25, true, nil], "b": [:]]
        XCTAssertEqual(parse(PythonLiteral.repr(value)), value)
    }
}
