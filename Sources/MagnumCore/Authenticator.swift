/// Turns an `X-Auth-Token` into a request context. Implementations: a real Keystone, the
/// built-in identity, and (for tests and explicit operator opt-in only) a fixed token table.
public protocol Authenticator: Sendable {
    /// The context of a valid token; nil when the token is unknown, expired or revoked.
    /// Throws `MagnumError(.unavailable, …)` when the identity service cannot be reached.
    func authenticate(token: String) async throws -> RequestContext?
}

/// A fixed token → identity table. It exists so tests (and an operator who explicitly passes a
/// table file) can drive the API before a real identity service is configured; it is never
/// enabled by default.
public struct TokenTableAuthenticator: Authenticator {
    /// One identity of the table.
    public struct Entry: Sendable, Hashable {
        public var userID: String
        public var projectID: String?
        public var roles: [String]
        /// True for a system-scoped token (`projectID` is then normally nil).
        public var systemScope: Bool

        /// Creates an entry.
        public init(userID: String, projectID: String?, roles: [String], systemScope: Bool = false) {
            self.userID = userID
            self.projectID = projectID
            self.roles = roles
            self.systemScope = systemScope
        }
    }

    let entries: [String: Entry]

    /// Creates the table.
    public init(_ entries: [String: Entry]) {
        self.entries = entries
    }

    public func authenticate(token: String) async throws -> RequestContext? {
        guard let e = entries[token] else { return nil }
        return RequestContext(userID: e.userID, projectID: e.projectID, roles: Self.implied(e.roles), systemScope: e.systemScope,
                              authToken: token)
    }

    /// Keystone's default implied roles: admin ⇒ member ⇒ reader.
    public static func implied(_ roles: [String]) -> Set<String> {
        var r = Set(roles)
        if r.contains("admin") { r.insert("member") }
        if r.contains("member") { r.insert("reader") }
        return r
    }
}
