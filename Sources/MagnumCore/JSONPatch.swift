/// One operation of a Magnum JSON-patch request (RFC 6902 restricted to `add`, `replace` and
/// `remove`, contract §1.9).
public struct PatchOperation: Sendable, Hashable {
    /// The operations Magnum accepts.
    public enum Op: String, Sendable, Hashable, CaseIterable {
        case add, replace, remove
    }

    /// What to do.
    public var op: Op
    /// The JSON pointer, already checked against `^(/[\w-]+)+$`.
    public var path: String
    /// The value for `add`/`replace`; `nil` when absent or JSON `null`.
    public var value: JSON?

    /// Creates an operation.
    public init(op: Op, path: String, value: JSON? = nil) {
        self.op = op
        self.path = path
        self.value = value
    }
}

/// The per-resource rules a patch is checked against before it is applied.
public struct PatchRules: Sendable {
    /// Paths that can never be touched (a deeper path under one of them is refused too):
    /// "'<path>' is an internal attribute and can not be updated".
    public var internalPaths: Set<String>
    /// Paths that can not be removed: "'<path>' is a mandatory attribute and can not be removed".
    public var nonRemovablePaths: Set<String>
    /// Paths whose `replace` value is a string holding a Python literal (`"{'a': 'b'}"`), parsed
    /// with `PythonLiteral.parse`; the empty string stands for an empty map.
    public var literalPaths: Set<String>

    /// The internal attributes of every resource.
    public static let commonInternal: Set<String> = [
        "/created_at", "/id", "/links", "/updated_at", "/uuid", "/project_id", "/user_id",
    ]

    /// The paths upstream Magnum parses as Python literals on `replace`, whatever the resource.
    public static let commonLiteral: Set<String> = [
        "/labels", "/health_status_reason", "/node_labels", "/node_taints",
    ]

    /// Creates rules; by default the common internal attributes, nothing mandatory, and the
    /// common literal paths.
    public init(
        internalPaths: Set<String> = PatchRules.commonInternal,
        nonRemovablePaths: Set<String> = [],
        literalPaths: Set<String> = PatchRules.commonLiteral
    ) {
        self.internalPaths = internalPaths
        self.nonRemovablePaths = nonRemovablePaths
        self.literalPaths = literalPaths
    }
}

/// Magnum's JSON-patch: validation of the request body (`parse`) and application to a resource's
/// JSON view (`apply`), with upstream's messages. Every failure is a 400 `MagnumError`.
public enum JSONPatch {
    /// Validates a request body as a list of patch operations, element by element in the order
    /// upstream (WSME) checks them: unknown members, then `path`, `op`, `value`, then the
    /// presence of a value for `add`/`replace`.
    ///
    /// A body that is not an array gives "Invalid input for field/attribute patch. Value: '<body>'.
    /// Value not a valid list: <body>" (Python `str()` of the body, as WSME words it).
    public static func parse(_ body: JSON) throws -> [PatchOperation] {
        guard case .array(let items) = body else {
            let shown = PythonLiteral.str(body)
            throw MagnumError.invalidField("patch", shown, "Value not a valid list: \(shown)")
        }
        return try items.map(parseOperation)
    }

    /// Applies validated operations to a document (the resource's JSON view) and returns the new
    /// document. Nothing is applied unless every operation succeeds.
    ///
    /// Checks run in upstream's order: internal and mandatory paths for every operation; then,
    /// per operation, the root-level `add` rules and the Python-literal parsing of `replace`
    /// values on `rules.literalPaths`; then the operations themselves with RFC 6902 pointer
    /// semantics. A root attribute removed by the patch comes back as `null`.
    public static func apply(
        _ ops: [PatchOperation], to document: [String: JSON], rules: PatchRules
    ) throws -> [String: JSON] {
        for op in ops {
            let root = rootPath(op.path)
            if rules.internalPaths.contains(op.path) || rules.internalPaths.contains(root) {
                throw MagnumError(.invalid, "'\(op.path)' is an internal attribute and can not be updated")
            }
            if op.op == .remove && rules.nonRemovablePaths.contains(op.path) {
                throw MagnumError(.invalid, "'\(op.path)' is a mandatory attribute and can not be removed")
            }
            if op.op != .remove && (op.value ?? .null).isNull {
                throw MagnumError(.invalid, "'add' and 'replace' operations needs value")
            }
        }

        var ops = ops
        for index in ops.indices {
            let op = ops[index]
            let parts = segments(op.path)
            if op.op == .add && parts.count == 1 {
                guard let current = document[parts[0]] else {
                    throw MagnumError(.invalid,
                                      "Adding a new attribute \(op.path) to the root of the resource is not allowed.")
                }
                if !current.isNull {
                    throw MagnumError(.invalid,
                                      "The attribute \(op.path) has existed, please use 'replace' operation instead.")
                }
            }
            if op.op == .replace && rules.literalPaths.contains(op.path) {
                do {
                    ops[index].value = try literalValue(op.value ?? .null)
                } catch let error as MagnumError {
                    // Upstream rewrites the values of the earlier literal operations in place,
                    // so the reported patch shows them parsed.
                    throw MagnumError.patch(pythonRepr(ops), error.message)
                }
            }
        }

        var doc = JSON.object(document)
        for op in ops {
            do {
                try perform(op, on: &doc)
            } catch {
                throw MagnumError.patch(pythonRepr(ops), error.reason)
            }
        }
        var result = doc.objectValue ?? [:]
        for key in document.keys where result[key] == nil {
            result[key] = .null
        }
        return result
    }

    /// The patch as Python prints the validated operation list in "Couldn't apply patch '…'":
    /// `[{'path': '/name', 'op': 'replace', 'value': 'x'}]`.
    public static func pythonRepr(_ ops: [PatchOperation]) -> String {
        let items = ops.map { op -> String in
            var s = "{'path': \(PythonLiteral.repr(.string(op.path))), 'op': '\(op.op.rawValue)'"
            if let value = op.value, !value.isNull {
                s += ", 'value': \(PythonLiteral.repr(value))"
            }
            return s + "}"
        }
        return "[" + items.joined(separator: ", ") + "]"
    }
}

// MARK: - Validation

extension JSONPatch {
    private static let members: Set<String> = ["op", "path", "value"]

    private static func parseOperation(_ item: JSON) throws -> PatchOperation {
        guard case .object(let fields) = item else {
            let shown = PythonLiteral.str(item)
            throw MagnumError.invalidField("patch", shown, "Value not a valid dict: \(shown)")
        }
        let unknown = fields.keys.filter { !members.contains($0) }.sorted()
        if !unknown.isEmpty {
            let noun = unknown.count > 1 ? "attributes" : "attribute"
            throw MagnumError(.invalid, "Unknown \(noun) for argument patch: \(unknown.joined(separator: ", "))")
        }

        let path: String
        switch fields["path"] ?? .null {
        case .null:
            throw MagnumError.invalidField("path", "None", "Mandatory field missing.")
        case .string(let s):
            guard isValidPath(s) else {
                throw MagnumError.invalidField("path", s, #"Value should match the pattern ^(/[\w-]+)+$"#)
            }
            path = s
        case let other:
            throw MagnumError.invalidField("path", PythonLiteral.str(other), "Value should be string")
        }

        let op: PatchOperation.Op
        switch fields["op"] ?? .null {
        case .null:
            throw MagnumError.invalidField("op", "None", "Mandatory field missing.")
        case .string(let s) where PatchOperation.Op(rawValue: s) != nil:
            op = PatchOperation.Op(rawValue: s)!
        case let other:
            let reason: String
            switch other {
            case .array, .object: reason = "unhashable type: '\(PythonLiteral.typeName(other))'"
            default: reason = "Value should be one of: replace, add, remove"
            }
            throw MagnumError.invalidField("op", PythonLiteral.str(other), reason)
        }

        var value: JSON?
        switch fields["value"] ?? .null {
        case .null:
            value = nil
        case let v where v.stringValue != nil || v.intValue != nil || v.boolValue != nil:
            value = v
        case let other:
            throw MagnumError.invalidField(
                "value", PythonLiteral.str(other),
                "Wrong type. Expected '(<class 'str'>, <class 'int'>)', got '<class '\(PythonLiteral.typeName(other))'>'")
        }

        if op != .remove && value == nil {
            throw MagnumError(.invalid, "'add' and 'replace' operations needs value")
        }
        return PatchOperation(op: op, path: path, value: value)
    }

    /// `^(/[\w-]+)+$` with Python's Unicode `\w` (letters, digits, numerics, underscore).
    private static func isValidPath(_ path: String) -> Bool {
        guard path.hasPrefix("/") else { return false }
        let parts = path.unicodeScalars.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        return parts.allSatisfy { part in
            !part.isEmpty && part.allSatisfy { $0 == "-" || isWordCharacter($0) }
        }
    }

    private static func isWordCharacter(_ c: Unicode.Scalar) -> Bool {
        if c == "_" { return true }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .decimalNumber, .letterNumber, .otherNumber:
            return true
        default:
            return false
        }
    }

    private static func segments(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
    }

    private static func rootPath(_ path: String) -> String {
        "/" + (segments(path).first ?? "")
    }

    /// A `replace` value on a literal path, as `ast.literal_eval` would turn it into data.
    private static func literalValue(_ value: JSON) throws -> JSON {
        switch value {
        case .string(let s):
            if s.allSatisfy(\.isWhitespace) { return .object([:]) }
            return try PythonLiteral.parse(s)
        case .array, .object:
            return value
        default:
            throw MagnumError(.invalid, "malformed node or string: \(PythonLiteral.repr(value))")
        }
    }
}

// MARK: - Application

extension JSONPatch {
    /// A failure of one operation; `reason` is what python-json-patch / jsonpointer would say.
    private struct Failure: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// A part addressed to a sequence: a position or `-` (one past the end).
    private enum Index {
        case position(Int)
        case end
    }

    private static func perform(_ op: PatchOperation, on doc: inout JSON) throws(Failure) {
        try perform(op, parts: segments(op.path)[...], on: &doc)
    }

    private static func perform(
        _ op: PatchOperation, parts: ArraySlice<String>, on node: inout JSON
    ) throws(Failure) {
        let part = parts.first!
        if parts.count == 1 {
            try performLast(op, part: part, on: &node)
            return
        }
        let rest = parts.dropFirst()
        switch node {
        case .object(var members):
            guard var child = members[part] else {
                throw Failure("member '\(part)' not found in \(PythonLiteral.repr(node))")
            }
            node = .null
            try perform(op, parts: rest, on: &child)
            members[part] = child
            node = .object(members)
        case .array(var items):
            switch try index(part) {
            case .end:
                throw Failure(
                    "Document '<class 'jsonpointer.EndOfList'>' does not support indexing, must be mapping/sequence or support __getitem__")
            case .position(let n):
                guard n < items.count else { throw Failure("index '\(n)' is out of bounds") }
                var child = items[n]
                node = .null
                try perform(op, parts: rest, on: &child)
                items[n] = child
                node = .array(items)
            }
        case .string(let s):
            // Strings are sequences in Python: reading through them works, changing them never does.
            let scalars = Array(s.unicodeScalars)
            guard case .position(let n) = try index(part) else {
                throw Failure(
                    "Document '<class 'jsonpointer.EndOfList'>' does not support indexing, must be mapping/sequence or support __getitem__")
            }
            guard n < scalars.count else { throw Failure("index '\(n)' is out of bounds") }
            var child = JSON.string(String(scalars[n]))
            try perform(op, parts: rest, on: &child)
        default:
            throw unindexable(node)
        }
    }

    private static func performLast(_ op: PatchOperation, part: String, on node: inout JSON) throws(Failure) {
        let value = op.value ?? .null
        switch node {
        case .object(var members):
            switch op.op {
            case .add:
                members[part] = value
            case .replace:
                guard members[part] != nil else { throw Failure("can't replace a non-existent object '\(part)'") }
                members[part] = value
            case .remove:
                guard members.removeValue(forKey: part) != nil else {
                    throw Failure("can't remove a non-existent object '\(part)'")
                }
            }
            node = .object(members)
        case .array(var items):
            let target = try index(part)
            switch (op.op, target) {
            case (.add, .end):
                items.append(value)
            case (.add, .position(let n)):
                guard n <= items.count else { throw Failure("can't insert outside of list") }
                items.insert(value, at: n)
            case (.replace, .end):
                throw Failure("'path' with '-' can't be applied to 'replace' operation")
            case (.replace, .position(let n)):
                guard n < items.count else { throw Failure("can't replace outside of list") }
                items[n] = value
            case (.remove, .end):
                throw Failure("invalid array index '-'")
            case (.remove, .position(let n)):
                guard n < items.count else { throw Failure("can't remove a non-existent object '\(n)'") }
                items.remove(at: n)
            }
            node = .array(items)
        case .string:
            var shown = "-"
            if case .position(let n) = try index(part) { shown = String(n) }
            throw Failure("unable to fully resolve json pointer \(op.path), part \(shown)")
        default:
            throw unindexable(node)
        }
    }

    /// jsonpointer's reading of a part addressed to a sequence: `-` or a decimal index.
    private static func index(_ part: String) throws(Failure) -> Index {
        if part == "-" { return .end }
        guard !part.isEmpty, part.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }) else {
            throw Failure("'\(part)' is not a valid sequence index")
        }
        return .position(Int(part) ?? Int.max)
    }

    private static func unindexable(_ node: JSON) -> Failure {
        Failure("Document '<class '\(PythonLiteral.typeName(node))'>' does not support indexing, "
            + "must be mapping/sequence or support __getitem__")
    }
}
