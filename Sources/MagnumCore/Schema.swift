/// The type and constraint of one body attribute (contract §1.3).
public enum FieldKind: Sendable, Hashable {
    /// A string of bounded length.
    case string(min: Int, max: Int)
    /// A cluster/federation name: 1…max characters matching `^[a-zA-Z][a-zA-Z0-9_.-]*$`.
    case resourceName(max: Int)
    /// An integer with optional bounds; numeric strings are coerced.
    case integer(min: Int?, max: Int?)
    /// A boolean: JSON booleans or the strict boolean strings.
    case boolean
    /// One of a fixed set of strings.
    case enumeration([String])
    /// A string map whose values may arrive as strings, numbers or booleans (stored as strings).
    case labels
    /// A list of strings.
    case stringList
    /// A UUID-shaped string.
    case uuid
    /// Any JSON value, validated by the resource's own rules.
    case any
}

/// One attribute of a resource's body.
public struct FieldSpec: Sendable, Hashable {
    public var name: String
    public var kind: FieldKind
    /// Read-only attributes are refused on input when given a value.
    public var readOnly: Bool
    /// Mandatory attributes must be present and non-null.
    public var mandatory: Bool
    /// Attributes accepted on input and ignored.
    public var ignored: Bool

    /// Creates a field spec.
    public init(_ name: String, _ kind: FieldKind, readOnly: Bool = false, mandatory: Bool = false, ignored: Bool = false) {
        self.name = name
        self.kind = kind
        self.readOnly = readOnly
        self.mandatory = mandatory
        self.ignored = ignored
    }
}

/// The attributes a resource body may carry, and their validation.
public struct ResourceSchema: Sendable {
    /// The argument name used in messages (`cluster`, `cluster_template`, …).
    public var argument: String
    public var fields: [FieldSpec]
    private let byName: [String: FieldSpec]

    /// Creates a schema.
    public init(argument: String, fields: [FieldSpec]) {
        self.argument = argument
        self.fields = fields
        self.byName = Dictionary(fields.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The spec of a field, if known.
    public func field(_ name: String) -> FieldSpec? { byName[name] }

    /// Validates a request body: it must be an object of known attributes, none read-only,
    /// mandatory ones present, each value of its field's type. Returns the body with values
    /// normalized (booleans and numeric strings converted, labels as string maps), ignored
    /// attributes dropped and nulls kept.
    public func decode(_ body: JSON?) throws -> [String: JSON] {
        guard let body else { throw MagnumError(.invalid, "Missing argument: \"\(argument)\"") }
        guard case .object(let object) = body else {
            throw MagnumError(.invalid, "Invalid input for argument \(argument): a JSON object is expected, got \(body.pythonRepr)")
        }
        let unknown = object.keys.filter { byName[$0] == nil }.sorted()
        if !unknown.isEmpty {
            throw MagnumError(.invalid, "Unknown attribute for argument \(argument): \(unknown.joined(separator: ", "))")
        }
        var out: [String: JSON] = [:]
        for spec in fields {
            guard let value = object[spec.name] else {
                if spec.mandatory { throw MagnumError.invalidField(spec.name, "None", "Mandatory field missing.") }
                continue
            }
            if spec.ignored { continue }
            if value.isNull {
                if spec.mandatory { throw MagnumError.invalidField(spec.name, "None", "Mandatory field missing.") }
                out[spec.name] = .null
                continue
            }
            if spec.readOnly {
                throw MagnumError.invalidField(spec.name, value.pythonDescription, "Cannot set read only field.")
            }
            out[spec.name] = try ResourceSchema.coerce(value, to: spec)
        }
        return out
    }

    /// Validates and normalizes one value against its spec.
    public static func coerce(_ value: JSON, to spec: FieldSpec) throws -> JSON {
        if value.isNull { return .null }
        let name = spec.name
        func wrongType(_ expected: String) -> MagnumError {
            MagnumError.invalidField(name, value.pythonDescription,
                "Wrong type. Expected '<class '\(expected)'>', got '\(pythonClass(value))'")
        }
        switch spec.kind {
        case .string(let min, let max):
            guard case .string(let s) = value else { throw wrongType("str") }
            try checkLength(name, s, min: min, max: max)
            return value
        case .resourceName(let max):
            guard case .string(let s) = value else { throw wrongType("str") }
            try checkLength(name, s, min: 1, max: max)
            if !isResourceName(s) {
                throw MagnumError.invalidField(name, s, "Value should match the pattern ^[a-zA-Z][a-zA-Z0-9_.-]*$")
            }
            return value
        case .integer(let min, let max):
            let i: Int
            switch value {
            case .int(let v): i = v
            case .string(let s):
                guard let v = Int(s.trimmingCharacters(in: .whitespaces)) else { throw wrongType("int") }
                i = v
            default: throw wrongType("int")
            }
            if let min, i < min { throw MagnumError.invalidField(name, String(i), "Value should be greater or equal to \(min)") }
            if let max, i > max { throw MagnumError.invalidField(name, String(i), "Value should be lower or equal to \(max)") }
            return .int(i)
        case .boolean:
            if let b = parseBool(value) { return .bool(b) }
            throw MagnumError.invalidField(name, value.pythonDescription,
                "Unrecognized value '\(value.pythonDescription)', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'")
        case .enumeration(let allowed):
            guard case .string(let s) = value else { throw wrongType("str") }
            if !allowed.contains(s) {
                throw MagnumError.invalidField(name, s, "Value should be one of: \(allowed.sorted().joined(separator: ", "))")
            }
            return value
        case .labels:
            guard case .object(let o) = value else { throw wrongType("dict") }
            var m: [String: JSON] = [:]
            for (k, v) in o {
                switch v {
                case .string, .int, .double, .bool: m[k] = .string(v.pythonDescription)
                default:
                    throw MagnumError.invalidField(name, value.pythonDescription,
                        "Wrong type. Expected '<class 'str'>', got '\(pythonClass(v))'")
                }
            }
            return .object(m)
        case .stringList:
            guard case .array(let a) = value else { throw wrongType("list") }
            for v in a { guard case .string = v else { throw wrongType("str") } }
            return value
        case .uuid:
            guard case .string(let s) = value else { throw wrongType("str") }
            guard UUIDs.isUUIDLike(s) else {
                throw MagnumError.invalidField(name, s, "Expected a uuid but received \(s).")
            }
            return .string(UUIDs.canonical(s) ?? s)
        case .any:
            return value
        }
    }

    /// The strict boolean parser of contract §1.3.
    public static func parseBool(_ value: JSON) -> Bool? {
        switch value {
        case .bool(let b): return b
        case .int(let i) where i == 0 || i == 1: return i == 1
        case .string(let s):
            switch s.lowercased() {
            case "true", "yes", "on", "1", "t", "y": return true
            case "false", "no", "off", "0", "f", "n": return false
            default: return nil
            }
        default: return nil
        }
    }

    static func checkLength(_ name: String, _ s: String, min: Int, max: Int) throws {
        if s.count < min {
            throw MagnumError.invalidField(name, s, "Value should have a minimum character requirement of \(min)")
        }
        if s.count > max {
            throw MagnumError.invalidField(name, s, "Value should have a maximum character requirement of \(max)")
        }
    }

    /// `^[a-zA-Z][a-zA-Z0-9_.-]*$`
    public static func isResourceName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first.isASCIILetter else { return false }
        return s.unicodeScalars.allSatisfy { $0.isASCIILetter || ("0"..."9").contains($0) || $0 == "_" || $0 == "." || $0 == "-" }
    }

    static func pythonClass(_ v: JSON) -> String {
        switch v {
        case .null: return "<class 'NoneType'>"
        case .bool: return "<class 'bool'>"
        case .int: return "<class 'int'>"
        case .double: return "<class 'float'>"
        case .string: return "<class 'str'>"
        case .array: return "<class 'list'>"
        case .object: return "<class 'dict'>"
        }
    }
}

extension Unicode.Scalar {
    var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}

/// UUID helpers following oslo's `is_uuid_like`.
public enum UUIDs {
    /// A new random UUID in canonical lower-case form.
    public static func make() -> String { UUID().uuidString.lowercased() }

    /// The canonical 8-4-4-4-12 lower-case form of a UUID written with or without dashes or
    /// braces; nil if it is not one.
    public static func canonical(_ s: String) -> String? {
        var t = s.lowercased()
        if t.hasPrefix("{") && t.hasSuffix("}") { t = String(t.dropFirst().dropLast()) }
        if t.hasPrefix("urn:uuid:") { t = String(t.dropFirst(9)) }
        let hex = t.replacingOccurrences(of: "-", with: "")
        guard hex.count == 32, hex.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) || ("a"..."f").contains($0) }) else {
            return nil
        }
        if t.contains("-") {
            // Dashes must be in the canonical places.
            let groups = t.split(separator: "-", omittingEmptySubsequences: false).map(\.count)
            guard groups == [8, 4, 4, 4, 12] else { return nil }
        }
        let c = Array(hex)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-" + String(c[16..<20]) + "-" + String(c[20..<32])
    }

    /// True when `s` is UUID-shaped.
    public static func isUUIDLike(_ s: String) -> Bool { canonical(s) != nil }
}

import Foundation
