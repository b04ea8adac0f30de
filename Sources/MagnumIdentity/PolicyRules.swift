import MagnumCore

/// One parsed check expression of the oslo.policy rule language.
///
/// Grammar (as oslo.policy's text parser): `or` binds loosest, then `and`, then `not`;
/// parentheses group; `@` always passes, `!` never does, the empty string always passes.
/// A check is `kind:match`: `role:<name>`, `rule:<name>`, or `<attribute>:<value>` where the
/// value may substitute target fields with `%(<key>)s`.
public indirect enum PolicyCheck: Sendable, Hashable {
    /// `@` or the empty rule: always passes.
    case always
    /// `!`: never passes.
    case never
    /// `role:<match>`: the credentials carry the role (case-insensitive). `match` may use `%(key)s`.
    case role(String)
    /// `rule:<name>`: the named rule passes; an undefined rule fails.
    case rule(String)
    /// `<kind>:<match>`: the credential `kind` equals (or, for a list, contains) `match` after
    /// target substitution. A literal kind (`'text'`, `True`, `False`, `None`, an integer) is
    /// compared with the substituted match instead.
    case generic(kind: String, match: String)
    /// `not <check>`.
    case not(PolicyCheck)
    /// All of the checks pass.
    case and([PolicyCheck])
    /// Any of the checks passes.
    case or([PolicyCheck])

    /// Parses a check string; the empty (or all-blank) string is `.always`.
    /// - Throws: `PolicyError.parse` naming the problem.
    public static func parse(_ text: String) throws -> PolicyCheck {
        var parser = RuleParser(tokens: try RuleParser.tokenize(text), text: text)
        return try parser.parseRule()
    }
}

/// An error loading or parsing policy.
public enum PolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A check string that does not parse. `rule` names the rule it belongs to, when known.
    case parse(rule: String?, text: String, reason: String)
    /// A policy file that cannot be read or has the wrong shape.
    case file(path: String, reason: String)

    /// A message naming the rule or file and the problem.
    public var description: String {
        switch self {
        case let .parse(rule?, text, reason): return "Invalid policy rule \(rule) (\"\(text)\"): \(reason)"
        case let .parse(nil, text, reason): return "Invalid policy rule \"\(text)\": \(reason)"
        case let .file(path, reason): return "Policy file \(path): \(reason)"
        }
    }

    /// The error with the rule it belongs to filled in.
    func naming(_ rule: String) -> PolicyError {
        if case let .parse(nil, text, reason) = self { return .parse(rule: rule, text: text, reason: reason) }
        return self
    }
}

/// The caller's attributes a check compares with: oslo's policy credentials.
///
/// Scalar values are one-element lists; `roles` is the role list. Keys: `user_id`, `project_id`,
/// `domain_id`, `roles`, `is_admin` (`"True"`/`"False"`), `system_scope` (`"all"` for a
/// system-scoped token). An absent value is absent (a check on it fails).
public struct PolicyCredentials: Sendable, Hashable {
    /// Attribute → values.
    public var values: [String: [String]]

    /// Credentials from explicit values.
    public init(values: [String: [String]]) {
        self.values = values
    }

    /// Credentials of a request context. `isAdmin` nil leaves `is_admin` out (used while
    /// `is_admin` itself is being computed).
    public init(context: RequestContext, isAdmin: Bool?) {
        var v: [String: [String]] = ["roles": context.roles.sorted()]
        if let id = context.userID { v["user_id"] = [id] }
        if let id = context.projectID { v["project_id"] = [id] }
        if let id = context.domainID { v["domain_id"] = [id] }
        if context.systemScope { v["system_scope"] = ["all"] }
        if let isAdmin { v["is_admin"] = [isAdmin ? "True" : "False"] }
        self.values = v
    }
}

/// A set of named rules and their evaluation.
public struct PolicyRuleSet: Sendable, Hashable {
    /// Rule name → parsed check.
    public var rules: [String: PolicyCheck]

    /// The rule that decides `is_admin` in the credentials.
    public static let adminRule = "context_is_admin"

    /// Creates a rule set from parsed checks.
    public init(rules: [String: PolicyCheck]) {
        self.rules = rules
    }

    /// Creates a rule set from check strings.
    /// - Throws: `PolicyError.parse` naming the first rule (in name order) that does not parse.
    public init(parsing strings: [String: String]) throws {
        var rules: [String: PolicyCheck] = [:]
        for (name, text) in strings.sorted(by: { $0.key < $1.key }) {
            do { rules[name] = try PolicyCheck.parse(text) } catch let error as PolicyError { throw error.naming(name) }
        }
        self.rules = rules
    }

    /// The target as oslo sees it: only the fields that are set.
    public static func targetValues(_ target: PolicyTarget) -> [String: String] {
        var t: [String: String] = [:]
        if let id = target.projectID { t["project_id"] = id }
        if let id = target.userID { t["user_id"] = id }
        return t
    }

    /// The context's credentials with `is_admin` = the `context_is_admin` rule evaluated with
    /// the caller as target (and without `is_admin`, so the rule cannot depend on itself).
    public func credentials(for context: RequestContext) -> PolicyCredentials {
        let bare = PolicyCredentials(context: context, isAdmin: nil)
        let admin = evaluate(.rule(Self.adminRule), target: Self.targetValues(PolicyTarget(caller: context)), credentials: bare)
        return PolicyCredentials(context: context, isAdmin: admin)
    }

    /// True when the named rule passes; an undefined rule fails.
    public func allows(_ rule: String, _ context: RequestContext, target: PolicyTarget) -> Bool {
        guard rules[rule] != nil else { return false }
        return evaluate(.rule(rule), target: Self.targetValues(target), credentials: credentials(for: context))
    }

    /// Evaluates a check. A `rule:` reference that is undefined, or that refers back to a rule
    /// being evaluated (a cycle), fails.
    public func evaluate(_ check: PolicyCheck, target: [String: String], credentials: PolicyCredentials) -> Bool {
        var active: Set<String> = []
        return evaluate(check, target, credentials, &active)
    }

    private func evaluate(_ check: PolicyCheck, _ target: [String: String], _ creds: PolicyCredentials,
                          _ active: inout Set<String>) -> Bool
    {
        switch check {
        case .always: return true
        case .never: return false
        case let .not(inner): return !evaluate(inner, target, creds, &active)
        case let .and(checks):
            for c in checks where !evaluate(c, target, creds, &active) { return false }
            return true
        case let .or(checks):
            for c in checks where evaluate(c, target, creds, &active) { return true }
            return false
        case let .rule(name):
            guard let body = rules[name], !active.contains(name) else { return false }
            active.insert(name)
            defer { active.remove(name) }
            return evaluate(body, target, creds, &active)
        case let .role(match):
            guard let role = Self.substitute(match, target)?.lowercased() else { return false }
            return (creds.values["roles"] ?? []).contains { $0.lowercased() == role }
        case let .generic(kind, match):
            guard let value = Self.substitute(match, target) else { return false }
            if let literal = Self.literal(kind) { return value == literal }
            guard let have = creds.values[kind] else { return false }
            return have.contains(value)
        }
    }

    /// Python `%`-formatting of `%(key)s` (and `%%`) with the target; nil when a key is missing.
    static func substitute(_ text: String, _ target: [String: String]) -> String? {
        guard text.contains("%") else { return text }
        var out = ""
        var rest = Substring(text)
        while let percent = rest.firstIndex(of: "%") {
            out += rest[..<percent]
            let after = rest[rest.index(after: percent)...]
            if after.hasPrefix("%") {
                out += "%"
                rest = after.dropFirst()
            } else if after.hasPrefix("("), let close = after.firstIndex(of: ")"),
                      after[after.index(after: close)...].hasPrefix("s")
            {
                let key = String(after[after.index(after: after.startIndex)..<close])
                guard let value = target[key] else { return nil }
                out += value
                rest = after[after.index(close, offsetBy: 2)...]
            } else {
                out += "%"
                rest = after
            }
        }
        return out + rest
    }

    /// The string form of a Python literal kind (`'x'`, `"x"`, `True`, `False`, `None`, an
    /// integer), as oslo's `ast.literal_eval` then `str()`; nil for an attribute name.
    static func literal(_ kind: String) -> String? {
        if kind.count >= 2, let first = kind.first, first == "'" || first == "\"", kind.last == first {
            return String(kind.dropFirst().dropLast())
        }
        if ["True", "False", "None"].contains(kind) { return kind }
        if let n = Int(kind) { return String(n) }
        return nil
    }
}

/// A recursive-descent parser over oslo.policy's tokens.
struct RuleParser {
    enum Token: Equatable {
        case open, close, and, or, not
        case check(PolicyCheck)
        case string(String)
    }

    var tokens: [Token]
    var position = 0
    let text: String

    init(tokens: [Token], text: String) {
        self.tokens = tokens
        self.text = text
    }

    /// Splits on whitespace; leading `(` and trailing `)` of a word are separate tokens (as oslo).
    static func tokenize(_ text: String) throws -> [Token] {
        var tokens: [Token] = []
        for word in text.split(whereSeparator: { $0.isWhitespace }) {
            let clean = word.drop(while: { $0 == "(" })
            let leading = word.count - clean.count
            var body = clean
            var trailing = 0
            while body.last == ")" {
                body = body.dropLast()
                trailing += 1
            }
            tokens += Array(repeating: .open, count: leading)
            if !body.isEmpty { tokens.append(try token(String(body), in: text)) }
            tokens += Array(repeating: .close, count: trailing)
        }
        return tokens
    }

    static func token(_ word: String, in text: String) throws -> Token {
        switch word.lowercased() {
        case "and": return .and
        case "or": return .or
        case "not": return .not
        default: break
        }
        if word == "@" { return .check(.always) }
        if word == "!" { return .check(.never) }
        if word.count >= 2, let q = word.first, q == "'" || q == "\"", word.last == q {
            return .string(String(word.dropFirst().dropLast()))
        }
        guard let colon = word.firstIndex(of: ":") else {
            throw PolicyError.parse(rule: nil, text: text, reason: "`\(word)` is not a check (expected kind:match, @ or !)")
        }
        let kind = String(word[..<colon])
        let match = String(word[word.index(after: colon)...])
        guard !kind.isEmpty else {
            throw PolicyError.parse(rule: nil, text: text, reason: "`\(word)` has an empty check kind")
        }
        switch kind {
        case "role": return .check(.role(match))
        case "rule": return .check(.rule(match))
        default: return .check(.generic(kind: kind, match: match))
        }
    }

    mutating func parseRule() throws -> PolicyCheck {
        if tokens.isEmpty { return .always }
        let check = try parseOr()
        if position < tokens.count { throw failure("unexpected \(describe(tokens[position]))") }
        return check
    }

    private mutating func parseOr() throws -> PolicyCheck {
        var parts = [try parseAnd()]
        while accept(.or) { parts.append(try parseAnd()) }
        return parts.count == 1 ? parts[0] : .or(parts)
    }

    private mutating func parseAnd() throws -> PolicyCheck {
        var parts = [try parseUnary()]
        while accept(.and) { parts.append(try parseUnary()) }
        return parts.count == 1 ? parts[0] : .and(parts)
    }

    private mutating func parseUnary() throws -> PolicyCheck {
        guard position < tokens.count else { throw failure("unexpected end of rule") }
        let token = tokens[position]
        position += 1
        switch token {
        case .not: return .not(try parseUnary())
        case .open:
            let inner = try parseOr()
            guard accept(.close) else { throw failure("missing `)`") }
            return inner
        case let .check(check): return check
        case .close, .and, .or, .string: throw failure("unexpected \(describe(token))")
        }
    }

    private mutating func accept(_ token: Token) -> Bool {
        guard position < tokens.count, tokens[position] == token else { return false }
        position += 1
        return true
    }

    private func describe(_ token: Token) -> String {
        switch token {
        case .open: return "`(`"
        case .close: return "`)`"
        case .and: return "`and`"
        case .or: return "`or`"
        case .not: return "`not`"
        case .check: return "check"
        case let .string(s): return "string '\(s)'"
        }
    }

    private func failure(_ reason: String) -> PolicyError {
        .parse(rule: nil, text: text, reason: reason)
    }
}
