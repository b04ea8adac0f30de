import Foundation
import Logging
import MagnumCore
import PostgresNIO

/// The parts of a `postgres://user:password@host:port/database?sslmode=…` URL.
///
/// `sslmode` follows libpq: `disable`, `prefer` (the default; TLS without certificate checks
/// when the server offers it), `require` (TLS without certificate checks), `verify-ca` and
/// `verify-full` (TLS with full verification).
public struct PostgresURL: Sendable, Hashable, CustomStringConvertible {
    /// TLS policy of the connection.
    public enum TLSMode: String, Sendable, Hashable {
        /// Plain TCP.
        case disable
        /// TLS without certificate checks when the server offers it, plain TCP otherwise.
        case prefer
        /// TLS without certificate checks; fail when the server does not offer it.
        case require
        /// TLS with certificate and host name verification (`verify-ca` maps here too).
        case verifyFull = "verify-full"
    }

    /// Host name or address.
    public var host: String
    /// TCP port.
    public var port: Int
    /// Login role.
    public var username: String
    /// Password, if any.
    public var password: String?
    /// Database name (nil: the server's default for the role).
    public var database: String?
    /// TLS policy.
    public var tls: TLSMode

    /// Parses a URL; throws `MagnumError(.invalid, …)` when it is not a PostgreSQL URL.
    public init(_ string: String) throws {
        guard let components = URLComponents(string: string),
            let scheme = components.scheme?.lowercased(),
            scheme == "postgres" || scheme == "postgresql"
        else {
            throw MagnumError(.invalid, "Invalid database URL: expected postgres://user:password@host:port/database")
        }
        guard let host = components.host, !host.isEmpty else {
            throw MagnumError(.invalid, "Invalid database URL: the host is missing")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = components.percentEncodedUser.map { $0.removingPercentEncoding ?? $0 } ?? "postgres"
        self.password = components.percentEncodedPassword.map { $0.removingPercentEncoding ?? $0 }
        let encodedPath = components.percentEncodedPath
        let path = encodedPath.hasPrefix("/") ? String(encodedPath.dropFirst()) : encodedPath
        self.database = path.isEmpty ? nil : (path.removingPercentEncoding ?? path)
        var tls = TLSMode.prefer
        for item in components.queryItems ?? [] where item.name == "sslmode" {
            switch item.value ?? "" {
            case "disable", "allow": tls = .disable
            case "prefer": tls = .prefer
            case "require": tls = .require
            case "verify-ca", "verify-full": tls = .verifyFull
            default:
                throw MagnumError(.invalid, "Invalid database URL: unknown sslmode '\(item.value ?? "")'")
            }
        }
        self.tls = tls
    }

    /// The URL as a string (password included), e.g. with another `database`.
    public var string: String {
        var components = URLComponents()
        components.scheme = "postgres"
        components.host = host
        components.port = port
        components.percentEncodedUser = Self.encode(username)
        components.percentEncodedPassword = password.map(Self.encode)
        components.percentEncodedPath = "/" + (database.map(Self.encode) ?? "")
        if tls != .prefer {
            components.queryItems = [URLQueryItem(name: "sslmode", value: tls.rawValue)]
        }
        return components.string ?? ""
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    private static func encode(_ part: String) -> String {
        part.addingPercentEncoding(withAllowedCharacters: unreserved) ?? part
    }

    /// The URL with its password masked, for logs.
    public var redacted: String {
        var copy = self
        if copy.password != nil { copy.password = "***" }
        return copy.string
    }

    /// The redacted URL (never the password).
    public var description: String { redacted }

    var tlsConfiguration: TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if tls != .verifyFull {
            configuration.certificateVerification = .none
        }
        return configuration
    }

    /// Configuration of a pooled PostgresNIO client for this URL (also for test fixtures that
    /// keep their own tables beside the store's).
    public func clientConfiguration() -> PostgresClient.Configuration {
        let clientTLS: PostgresClient.Configuration.TLS
        switch tls {
        case .disable: clientTLS = .disable
        case .prefer: clientTLS = .prefer(tlsConfiguration)
        case .require, .verifyFull: clientTLS = .require(tlsConfiguration)
        }
        return PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: clientTLS)
    }

    /// Configuration of a single connection.
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let connectionTLS: PostgresConnection.Configuration.TLS
        switch tls {
        case .disable: connectionTLS = .disable
        case .prefer: connectionTLS = .prefer(try NIOSSLContext(configuration: tlsConfiguration))
        case .require, .verifyFull: connectionTLS = .require(try NIOSSLContext(configuration: tlsConfiguration))
        }
        return PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: connectionTLS)
    }
}

/// Server-level administration used by test fixtures and operator commands: creating and
/// dropping whole databases (statements that cannot run inside a transaction).
public enum PostgresAdmin {
    /// Creates database `name` on the server of `adminURL` (a role allowed to create databases).
    ///
    /// `name` must be a plain lower-case identifier (`[a-z_][a-z0-9_]*`).
    public static func createDatabase(_ name: String, adminURL: String, logger: Logger) async throws {
        try await execute("CREATE DATABASE \(try quoted(name))", adminURL: adminURL, logger: logger)
    }

    /// Drops database `name` if it exists, disconnecting its remaining sessions.
    public static func dropDatabase(_ name: String, adminURL: String, logger: Logger) async throws {
        try await execute("DROP DATABASE IF EXISTS \(try quoted(name)) WITH (FORCE)", adminURL: adminURL, logger: logger)
    }

    private static func quoted(_ name: String) throws -> String {
        let allowed = name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
        guard allowed, let first = name.unicodeScalars.first, !("0"..."9").contains(first), name.count <= 63 else {
            throw MagnumError(.invalid, "Invalid database name '\(name)'")
        }
        return "\"\(name)\""
    }

    private static func execute(_ sql: String, adminURL: String, logger: Logger) async throws {
        let url = try PostgresURL(adminURL)
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(
                configuration: try url.connectionConfiguration(), id: 1, logger: logger)
        } catch {
            throw DatabaseErrors.mapConnect(error, logger: logger)
        }
        do {
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        } catch {
            try? await connection.close()
            throw DatabaseErrors.map(error, conflict: MagnumError(.conflict, "Database already exists."), logger: logger)
        }
        try await connection.close()
    }
}
