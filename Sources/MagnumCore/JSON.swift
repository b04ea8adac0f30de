import Foundation

/// A JSON value as it travels on Magnum's wire: request bodies are decoded into it before
/// validation, and response views are built from it before serialization.
///
/// Integers and floating point numbers are kept apart because Magnum's field rules treat them
/// differently (an integer field rejects `1.5`, a label accepts it and stores `"1.5"`).
public enum JSON: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    /// The string payload, if this is a string.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The integer payload, if this is an integer.
    public var intValue: Int? {
        if case .int(let i) = self { return i }
        return nil
    }

    /// The boolean payload, if this is a boolean.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The object payload, if this is an object.
    public var objectValue: [String: JSON]? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The array payload, if this is an array.
    public var arrayValue: [JSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// True for `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// Member access for objects; `nil` for other kinds or absent keys.
    public subscript(key: String) -> JSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// How Python's `str()` would show this value in a message (`None`, `True`, `1.5`, `abc`).
    public var pythonDescription: String {
        switch self {
        case .null: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return JSON.formatDouble(d)
        case .string(let s): return s
        case .array(let a): return "[" + a.map(\.pythonRepr).joined(separator: ", ") + "]"
        case .object(let o):
            return "{" + o.keys.sorted().map { "'\($0)': \(o[$0]!.pythonRepr)" }.joined(separator: ", ") + "}"
        }
    }

    /// How Python's `repr()` would show this value (strings quoted).
    public var pythonRepr: String {
        if case .string(let s) = self { return "'\(s)'" }
        return pythonDescription
    }

    static func formatDouble(_ d: Double) -> String {
        if d.isFinite, d == d.rounded(), abs(d) < 1e16 { return String(format: "%.1f", d) }
        return String(d)
    }
}

extension JSON: Codable {
    /// Decodes any JSON document, keeping integers apart from other numbers.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let i = try? c.decode(Int.self) { self = .int(i); return }
        if let d = try? c.decode(Double.self) { self = .double(d); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let a = try? c.decode([JSON].self) { self = .array(a); return }
        if let o = try? c.decode([String: JSON].self) { self = .object(o); return }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a JSON value")
    }

    /// Encodes the value with a standard encoder (the server itself uses `serialized()`).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}

extension JSON {
    /// Parses a JSON document; throws `MagnumError.invalid("Request is not in valid JSON format")`
    /// on malformed input.
    public static func parse(_ bytes: some Collection<UInt8>) throws -> JSON {
        guard let v = JSONParser.parse(Array(bytes)) else { throw MagnumError(.invalid, "Request is not in valid JSON format") }
        return v
    }

    /// Parses a JSON document held in a string.
    public static func parse(string: String) throws -> JSON {
        try parse(Array(string.utf8))
    }

    /// Serializes to compact JSON with object keys sorted, so responses are stable.
    public func serialized() -> String {
        var out = ""
        out.reserveCapacity(256)
        write(to: &out)
        return out
    }

    /// Appends the compact serialization of this value to `out`.
    public func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += d.isFinite ? String(d) : "null"
        case .string(let s): JSON.writeString(s, to: &out)
        case .array(let a):
            out += "["
            var first = true
            for v in a {
                if !first { out += ", " }
                first = false
                v.write(to: &out)
            }
            out += "]"
        case .object(let o):
            out += "{"
            var first = true
            for k in o.keys.sorted() {
                if !first { out += ", " }
                first = false
                JSON.writeString(k, to: &out)
                out += ": "
                o[k]!.write(to: &out)
            }
            out += "}"
        }
    }

    static func writeString(_ s: String, to out: inout String) {
        out += "\""
        // Fast path: most strings need no escaping and are appended whole.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            out += s
            out += "\""
            return
        }
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByNilLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(dictionaryLiteral elements: (String, JSON)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, b in b }))
    }
}

extension JSON {
    /// An optional string as JSON (`null` when absent).
    public init(_ s: String?) { self = s.map(JSON.string) ?? .null }
    /// An optional integer as JSON (`null` when absent).
    public init(_ i: Int?) { self = i.map(JSON.int) ?? .null }
    /// An optional boolean as JSON (`null` when absent).
    public init(_ b: Bool?) { self = b.map(JSON.bool) ?? .null }
    /// A string map as a JSON object.
    public init(_ m: [String: String]) { self = .object(m.mapValues(JSON.string)) }
    /// A string list as a JSON array.
    public init(_ l: [String]) { self = .array(l.map(JSON.string)) }
}
