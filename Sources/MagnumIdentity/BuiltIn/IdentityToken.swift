import Crypto
import Foundation
import MagnumCore

/// What a built-in identity token says: who, scoped to what, how it was obtained, and when it
/// stops being valid. Tokens are self-contained and signed; whether one is still honoured
/// (revocation, deleted user, removed role) is decided when it is validated.
public struct IdentityToken: Sendable, Hashable {
    /// What the token is scoped to.
    public enum Scope: Sendable, Hashable {
        /// No project and no system: only good for discovering projects and rescoping.
        case unscoped
        /// One project (by id).
        case project(String)
        /// The whole deployment.
        case system
    }

    /// The user the token was issued to.
    public var userID: String
    /// Its scope.
    public var scope: Scope
    /// Authentication methods (`password`, `token`).
    public var methods: [String]
    /// Issue time, microseconds since 1970.
    public var issuedAt: Int64
    /// Expiry, microseconds since 1970.
    public var expiresAt: Int64
    /// This token's audit id (what revocation records).
    public var auditID: String
    /// The audit id of the token this one was rescoped from, if any.
    public var parentAuditID: String?

    /// Creates a token description.
    public init(userID: String, scope: Scope, methods: [String], issuedAt: Int64, expiresAt: Int64, auditID: String,
                parentAuditID: String? = nil)
    {
        self.userID = userID
        self.scope = scope
        self.methods = methods
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.auditID = auditID
        self.parentAuditID = parentAuditID
    }

    /// Keystone's `audit_ids`: own id first, then the chain's.
    public var auditIDs: [String] { [auditID] + (parentAuditID.map { [$0] } ?? []) }

    /// The expiry as a date.
    public var expiresDate: Date { Date(timeIntervalSince1970: Double(expiresAt) / 1e6) }
    /// The issue time as a date.
    public var issuedDate: Date { Date(timeIntervalSince1970: Double(issuedAt) / 1e6) }

    /// A new random audit id (Keystone's form: 16 random bytes, URL-safe base64 without padding).
    public static func newAuditID() -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// Microseconds since 1970 of a date.
    public static func micros(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1e6).rounded(.down)) }
}

/// Seals tokens into compact strings (`m1.<payload>.<HMAC-SHA256>`, URL-safe base64) and opens
/// them again, rejecting any string whose signature does not match.
public struct TokenSeal: Sendable {
    let key: SymmetricKey
    static let prefix = "m1"

    /// A seal with a secret of at least 32 bytes.
    public init(secret: [UInt8]) {
        key = SymmetricKey(data: secret)
    }

    /// A fresh random secret, base64-encoded (what the store keeps).
    public static func newSecret() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
    }

    /// The compact signed form of `token`. The payload is its fields joined by `|` (ids, audit
    /// ids and method names never contain one): user, scope (`p:<id>`, `s` or empty), methods
    /// (comma-separated), issued and expiry microseconds, audit id, parent audit id.
    public func seal(_ token: IdentityToken) -> String {
        let scope: String
        switch token.scope {
        case .unscoped: scope = ""
        case .project(let id): scope = "p:" + id
        case .system: scope = "s"
        }
        let fields = [token.userID, scope, token.methods.joined(separator: ","), String(token.issuedAt), String(token.expiresAt),
                      token.auditID, token.parentAuditID ?? ""]
        let payload = Base64URL.encode(Array(fields.joined(separator: "|").utf8))
        let signed = "\(Self.prefix).\(payload)"
        return "\(signed).\(Base64URL.encode(mac(signed)))"
    }

    /// The token sealed in `string`, or nil when it is malformed or its signature is wrong.
    /// Expiry and revocation are not checked here.
    public func open(_ string: String) -> IdentityToken? {
        let parts = string.split(separator: ".", omittingEmptySubsequences: false)
        guard string.utf8.count < 4096, parts.count == 3, parts[0] == Self.prefix,
              let signature = Base64URL.decode(String(parts[2])),
              HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: Array("\(parts[0]).\(parts[1])".utf8), using: key),
              let payload = Base64URL.decode(String(parts[1]))
        else { return nil }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 7, !fields[0].isEmpty, let issued = Int64(fields[3]), let expires = Int64(fields[4]), !fields[5].isEmpty
        else { return nil }
        let scope: IdentityToken.Scope
        if fields[1].hasPrefix("p:") {
            scope = .project(String(fields[1].dropFirst(2)))
        } else if fields[1] == "s" {
            scope = .system
        } else if fields[1].isEmpty {
            scope = .unscoped
        } else {
            return nil
        }
        return IdentityToken(userID: fields[0], scope: scope, methods: fields[2].split(separator: ",").map(String.init),
                             issuedAt: issued, expiresAt: expires, auditID: fields[5], parentAuditID: fields[6].isEmpty ? nil : fields[6])
    }

    func mac(_ text: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: key))
    }
}

/// URL-safe base64 without padding.
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> [UInt8]? {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s).map { [UInt8]($0) }
    }
}
