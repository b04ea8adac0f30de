/// Python literals as Magnum reads and prints them.
///
/// `python-magnumclient` sends label maps, node labels and node taints inside JSON-patch values
/// as `str(dict)` / `str(list)` strings (`"{'kube_tag': 'v1.30'}"`), which upstream Magnum turns
/// back into data with `ast.literal_eval`. `parse(_:)` accepts what `ast.literal_eval` accepts
/// for such data, plus JSON's `true`/`false`/`null` so JSON-compatible strings work too.
/// `repr(_:)` and `str(_:)` render values the way Python's `repr()` and `str()` do, for messages.
public enum PythonLiteral {
    /// Parses a Python literal: dicts, lists, tuples (as arrays), strings (single, double or
    /// triple quoted, `r`/`u` prefixes, backslash escapes, implicit concatenation), integers
    /// (decimal, `0x`, `0o`, `0b`, underscores, sign), floats, `True`/`False`/`None` and
    /// `true`/`false`/`null`. Whitespace and `#` comments may appear between tokens and trailing
    /// commas are allowed. Dict keys must be strings or numbers (numbers become their decimal
    /// string).
    ///
    /// Throws `MagnumError(.invalid, "malformed node or string: <repr of text>")` for anything
    /// else: names, calls, operators, sets, bytes, complex numbers, unterminated strings,
    /// trailing garbage, empty input or nesting deeper than 100 levels.
    public static func parse(_ text: String) throws -> JSON {
        var parser = Parser(text)
        do {
            return try parser.parseDocument()
        } catch {
            throw MagnumError(.invalid, "malformed node or string: \(repr(.string(text)))")
        }
    }

    /// How Python's `repr()` shows a value: strings quoted and escaped exactly like Python
    /// (`'a'`, `"it's"`, `'a\nb'`), `None`/`True`/`False`, lists and dicts (keys sorted).
    public static func repr(_ value: JSON) -> String {
        switch value {
        case .null: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return JSON.formatDouble(d)
        case .string(let s): return reprString(s)
        case .array(let a): return "[" + a.map(repr).joined(separator: ", ") + "]"
        case .object(let o):
            return "{" + o.keys.sorted().map { reprString($0) + ": " + repr(o[$0]!) }.joined(separator: ", ") + "}"
        }
    }

    /// How Python's `str()` shows a value: strings as they are, everything else as `repr()`.
    public static func str(_ value: JSON) -> String {
        if case .string(let s) = value { return s }
        return repr(value)
    }

    /// The name of the Python class a decoded JSON value has (`str`, `int`, `dict`, …).
    public static func typeName(_ value: JSON) -> String {
        switch value {
        case .null: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .array: return "list"
        case .object: return "dict"
        }
    }

    private static func reprString(_ s: String) -> String {
        let quote: Unicode.Scalar = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for scalar in s.unicodeScalars {
            switch scalar {
            case quote, "\\": out += "\\" + String(scalar)
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default:
                if isPrintable(scalar) {
                    out.unicodeScalars.append(scalar)
                } else if scalar.value < 0x100 {
                    out += "\\x" + hex(scalar.value, width: 2)
                } else if scalar.value < 0x10000 {
                    out += "\\u" + hex(scalar.value, width: 4)
                } else {
                    out += "\\U" + hex(scalar.value, width: 8)
                }
            }
        }
        out.unicodeScalars.append(quote)
        return out
    }

    /// Python's `str.isprintable()` for one character (the space is printable).
    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == " " { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned,
             .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }

    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

// MARK: - Parser

extension PythonLiteral {
    /// The parser gives up with this; `parse(_:)` turns it into the public error.
    private struct Malformed: Error {}

    /// A recursive-descent parser over the unicode scalars of the input.
    private struct Parser {
        private let s: [Unicode.Scalar]
        private var i = 0
        private var depth = 0
        private static let maxDepth = 100

        init(_ text: String) { s = Array(text.unicodeScalars) }

        private var peek: Unicode.Scalar? { i < s.count ? s[i] : nil }

        private func peek(at offset: Int) -> Unicode.Scalar? {
            i + offset < s.count ? s[i + offset] : nil
        }

        /// The whole input: one expression, or a bare tuple (`1, 2`), then only whitespace.
        mutating func parseDocument() throws(Malformed) -> JSON {
            skipSpace()
            let first = try parseValue()
            skipSpace()
            var result = first
            if peek == "," {
                var items = [first]
                while peek == "," {
                    i += 1
                    skipSpace()
                    if peek == nil { break }
                    items.append(try parseValue())
                    skipSpace()
                }
                result = .array(items)
            }
            guard peek == nil else { throw Malformed() }
            return result
        }

        /// Skips whitespace, comments and backslash line continuations.
        private mutating func skipSpace() {
            while let c = peek {
                switch c {
                case " ", "\t", "\n", "\r", "\u{0C}":
                    i += 1
                case "#":
                    while let d = peek, d != "\n", d != "\r" { i += 1 }
                case "\\" where peek(at: 1) == "\n" || peek(at: 1) == "\r":
                    i += 2
                default:
                    return
                }
            }
        }

        private mutating func parseValue() throws(Malformed) -> JSON {
            guard let c = peek else { throw Malformed() }
            switch c {
            case "{", "[", "(":
                depth += 1
                defer { depth -= 1 }
                guard depth <= Parser.maxDepth else { throw Malformed() }
                if c == "{" { return try parseDict() }
                if c == "[" { return .array(try parseSequence(closing: "]")) }
                return try parseParenthesized()
            case "'", "\"":
                return try parseStrings()
            case "+", "-":
                i += 1
                skipSpace()
                guard let d = peek, Parser.isDigit(d) || (d == "." && peek(at: 1).map(Parser.isDigit) == true) else {
                    throw Malformed()
                }
                return try parseNumber(negative: c == "-")
            case ".":
                guard peek(at: 1).map(Parser.isDigit) == true else { throw Malformed() }
                return try parseNumber(negative: false)
            default:
                if Parser.isDigit(c) { return try parseNumber(negative: false) }
                if Parser.isIdentifierStart(c) { return try parseName() }
                throw Malformed()
            }
        }

        /// `[a, b,]` after the opening bracket was seen; also the tail of a tuple.
        private mutating func parseSequence(closing: Unicode.Scalar) throws(Malformed) -> [JSON] {
            i += 1
            var items: [JSON] = []
            skipSpace()
            while peek != closing {
                items.append(try parseValue())
                skipSpace()
                if peek == "," {
                    i += 1
                    skipSpace()
                } else if peek != closing {
                    throw Malformed()
                }
            }
            i += 1
            return items
        }

        /// `()` and `(a,)` are tuples (arrays); `(a)` is just `a`.
        private mutating func parseParenthesized() throws(Malformed) -> JSON {
            i += 1
            skipSpace()
            if peek == ")" {
                i += 1
                return .array([])
            }
            let first = try parseValue()
            skipSpace()
            if peek == ")" {
                i += 1
                return first
            }
            guard peek == "," else { throw Malformed() }
            var items = [first]  // parseSequence steps over the comma as over an opening bracket
            items.append(contentsOf: try parseSequence(closing: ")"))
            return .array(items)
        }

        private mutating func parseDict() throws(Malformed) -> JSON {
            i += 1
            var result: [String: JSON] = [:]
            skipSpace()
            while peek != "}" {
                let key = try dictKey(try parseValue())
                skipSpace()
                guard peek == ":" else { throw Malformed() }  // a set, or garbage
                i += 1
                skipSpace()
                result[key] = try parseValue()
                skipSpace()
                if peek == "," {
                    i += 1
                    skipSpace()
                } else if peek != "}" {
                    throw Malformed()
                }
            }
            i += 1
            return .object(result)
        }

        private func dictKey(_ key: JSON) throws(Malformed) -> String {
            switch key {
            case .string(let k): return k
            case .int(let n): return String(n)
            case .double(let d): return JSON.formatDouble(d)
            default: throw Malformed()
            }
        }

        /// Keywords and string prefixes.
        private mutating func parseName() throws(Malformed) -> JSON {
            let start = i
            while let c = peek, Parser.isIdentifierContinue(c) { i += 1 }
            let name = String(String.UnicodeScalarView(s[start..<i]))
            if let q = peek, q == "'" || q == "\"" {
                switch name.lowercased() {
                case "r", "u":
                    i = start
                    return try parseStrings()
                default:
                    throw Malformed()  // bytes, f-strings, or a name touching a string
                }
            }
            switch name {
            case "True", "true": return .bool(true)
            case "False", "false": return .bool(false)
            case "None", "null": return .null
            default: throw Malformed()
            }
        }

        // MARK: Strings

        /// One string, or several adjacent ones concatenated (`'a' "b"` is `'ab'`).
        private mutating func parseStrings() throws(Malformed) -> JSON {
            var text = String.UnicodeScalarView()
            repeat {
                try parseString(into: &text)
                skipSpace()
            } while startsString()
            return .string(String(text))
        }

        private func startsString() -> Bool {
            guard let c = peek else { return false }
            if c == "'" || c == "\"" { return true }
            guard c == "r" || c == "R" || c == "u" || c == "U", let q = peek(at: 1) else { return false }
            return q == "'" || q == "\""
        }

        private mutating func parseString(into out: inout String.UnicodeScalarView) throws(Malformed) {
            var raw = false
            if let c = peek, c != "'", c != "\"" {
                raw = c == "r" || c == "R"
                i += 1
            }
            guard let quote = peek else { throw Malformed() }
            let triple = peek(at: 1) == quote && peek(at: 2) == quote
            i += triple ? 3 : 1
            while true {
                guard let c = peek else { throw Malformed() }  // unterminated
                if c == quote {
                    if !triple {
                        i += 1
                        return
                    }
                    if peek(at: 1) == quote && peek(at: 2) == quote {
                        i += 3
                        return
                    }
                    out.append(c)
                    i += 1
                    continue
                }
                if (c == "\n" || c == "\r") && !triple { throw Malformed() }
                if c == "\\" {
                    if raw {
                        // A raw string keeps the backslash and the character after it verbatim.
                        guard let next = peek(at: 1) else { throw Malformed() }
                        out.append(c)
                        out.append(next)
                        i += 2
                    } else {
                        i += 1
                        try parseEscape(into: &out)
                    }
                    continue
                }
                out.append(c)
                i += 1
            }
        }

        /// One escape sequence after its backslash.
        private mutating func parseEscape(into out: inout String.UnicodeScalarView) throws(Malformed) {
            guard let c = peek else { throw Malformed() }
            i += 1
            switch c {
            case "\n": return
            case "\r":
                if peek == "\n" { i += 1 }
                return
            case "\\", "'", "\"": out.append(c)
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "v": out.append("\u{0B}")
            case "0"..."7":
                var value = c.value - 0x30
                var count = 1
                while count < 3, let d = peek, ("0"..."7").contains(d) {
                    value = value * 8 + (d.value - 0x30)
                    i += 1
                    count += 1
                }
                out.append(try scalar(value))
            case "x": out.append(try scalar(try hexDigits(2)))
            case "u":
                let high = try hexDigits(4)
                if (0xD800...0xDBFF).contains(high) {
                    // A JSON-style surrogate pair (`\ud83d\ude00`) becomes one character.
                    guard peek == "\\", peek(at: 1) == "u" else { throw Malformed() }
                    i += 2
                    let low = try hexDigits(4)
                    guard (0xDC00...0xDFFF).contains(low) else { throw Malformed() }
                    out.append(try scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)))
                } else {
                    out.append(try scalar(high))
                }
            case "U": out.append(try scalar(try hexDigits(8)))
            case "N": throw Malformed()  // named escapes need the Unicode name table
            default:
                out.append("\\")
                out.append(c)
            }
        }

        private mutating func hexDigits(_ count: Int) throws(Malformed) -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<count {
                guard let d = peek, let v = Parser.hexValue(d) else { throw Malformed() }
                value = value * 16 + v
                i += 1
            }
            return value
        }

        private func scalar(_ value: UInt32) throws(Malformed) -> Unicode.Scalar {
            guard let u = Unicode.Scalar(value) else { throw Malformed() }  // surrogate or > 0x10FFFF
            return u
        }

        // MARK: Numbers

        private mutating func parseNumber(negative: Bool) throws(Malformed) -> JSON {
            let sign = negative ? "-" : ""
            if peek == "0", let p = peek(at: 1), let radix = Parser.radix(p) {
                i += 2
                let isValid = { (c: Unicode.Scalar) in Parser.hexValue(c).map { $0 < radix } ?? false }
                if peek == "_", peek(at: 1).map(isValid) == true { i += 1 }  // 0x_ff
                let digits = try digitRun(isValid)
                guard let n = Int(sign + digits, radix: Int(radix)) else { throw Malformed() }
                try endOfNumber()
                return .int(n)
            }
            let whole = try digitRun(Parser.isDigit, allowEmpty: true)
            var fraction: String?
            var exponent: String?
            if peek == "." {
                i += 1
                fraction = peek.map(Parser.isDigit) == true ? try digitRun(Parser.isDigit) : ""
            }
            if let e = peek, e == "e" || e == "E" {
                i += 1
                var expSign = ""
                if let c = peek, c == "+" || c == "-" {
                    expSign = String(c)
                    i += 1
                }
                exponent = expSign + (try digitRun(Parser.isDigit))
            }
            try endOfNumber()
            if fraction != nil || exponent != nil {
                let f = fraction.map { $0.isEmpty ? "0" : $0 } ?? "0"
                let text = "\(sign)\(whole.isEmpty ? "0" : whole).\(f)e\(exponent ?? "0")"
                guard let d = Double(text), d.isFinite else { throw Malformed() }
                return .double(d)
            }
            // Python forbids leading zeros on non-zero decimal integers ("01").
            if whole.count > 1, whole.first == "0", whole.contains(where: { $0 != "0" }) { throw Malformed() }
            guard let n = Int(sign + whole) else { throw Malformed() }  // beyond 64 bits
            return .int(n)
        }

        /// Digits with single underscores between them (`1_000`); the underscores are dropped.
        private mutating func digitRun(
            _ isValid: (Unicode.Scalar) -> Bool, allowEmpty: Bool = false
        ) throws(Malformed) -> String {
            var out = ""
            var lastWasDigit = false
            while let c = peek {
                if isValid(c) {
                    out.unicodeScalars.append(c)
                    lastWasDigit = true
                } else if c == "_" && lastWasDigit && peek(at: 1).map(isValid) == true {
                    lastWasDigit = false
                } else {
                    break
                }
                i += 1
            }
            if out.isEmpty && !allowEmpty { throw Malformed() }
            return out
        }

        /// A number must not run into a name (`1abc`, complex `1j`).
        private func endOfNumber() throws(Malformed) {
            if let c = peek, Parser.isIdentifierContinue(c) || c == "." { throw Malformed() }
        }

        private static func radix(_ c: Unicode.Scalar) -> UInt32? {
            switch c {
            case "x", "X": return 16
            case "o", "O": return 8
            case "b", "B": return 2
            default: return nil
            }
        }

        // MARK: Character classes

        private static func isDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }

        private static func hexValue(_ c: Unicode.Scalar) -> UInt32? {
            switch c {
            case "0"..."9": return c.value - 0x30
            case "a"..."f": return c.value - 0x61 + 10
            case "A"..."F": return c.value - 0x41 + 10
            default: return nil
            }
        }

        private static func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
            c == "_" || c.properties.isXIDStart
        }

        private static func isIdentifierContinue(_ c: Unicode.Scalar) -> Bool {
            c == "_" || c.properties.isXIDContinue
        }
    }
}
