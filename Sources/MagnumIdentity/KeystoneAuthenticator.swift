import AsyncHTTPClient
import Foundation
import Logging
import MagnumCore
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// Validates tokens against a real OpenStack Keystone v3, the way keystonemiddleware's
/// `auth_token` does for upstream Magnum: the server holds a service token (password method,
/// project scope) and validates each user token with `GET /v3/auth/tokens` + `X-Subject-Token`.
///
/// Validations are cached for a short, bounded time and never past the token's `expires_at`.
/// The authenticator owns one `HTTPClient`; run it as a `Service` (its `run()` waits for graceful
/// shutdown, then shuts the client down) or call `shutdown()` when done.
public actor KeystoneAuthenticator: Authenticator, Service {
    /// Where Keystone is and who the service user is.
    public struct Configuration: Sendable {
        /// The Keystone v3 URL, e.g. `http://127.0.0.1:5000/v3`.
        public var authURL: String
        /// Service user name.
        public var username: String
        /// Service user password.
        public var password: String
        /// Project the service token is scoped to.
        public var projectName: String
        /// Domain (name) of the service user.
        public var userDomainName: String
        /// Domain (name) of the service project.
        public var projectDomainName: String
        /// How long a validation is reused.
        public var cacheTTL: Duration
        /// Most validations kept at once.
        public var maxCacheEntries: Int
        /// Timeout of one request to Keystone.
        public var requestTimeout: Duration
        /// How long connecting to Keystone may take (refused connections are retried until then).
        public var connectTimeout: Duration

        /// Creates a configuration.
        public init(authURL: String, username: String, password: String, projectName: String,
                    userDomainName: String = "Default", projectDomainName: String = "Default",
                    cacheTTL: Duration = .seconds(60), maxCacheEntries: Int = 10_000,
                    requestTimeout: Duration = .seconds(10), connectTimeout: Duration = .seconds(3))
        {
            var url = authURL
            while url.hasSuffix("/") { url.removeLast() }
            self.authURL = url
            self.username = username
            self.password = password
            self.projectName = projectName
            self.userDomainName = userDomainName
            self.projectDomainName = projectDomainName
            self.cacheTTL = cacheTTL
            self.maxCacheEntries = maxCacheEntries
            self.requestTimeout = requestTimeout
            self.connectTimeout = connectTimeout
        }
    }

    /// The configuration.
    public nonisolated let configuration: Configuration
    let client: HTTPClient
    let logger: Logger
    var serviceToken: (token: String, expiresAt: Date)?
    /// Validations (including refusals) by token.
    var cache: TokenCache<RequestContext?>
    var isShutDown = false

    /// Creates the authenticator and its HTTP client.
    public init(configuration: Configuration, logger: Logger = Logger(label: "magnum.keystone")) {
        self.configuration = configuration
        self.logger = logger
        self.cache = TokenCache(ttl: configuration.cacheTTL, maxEntries: configuration.maxCacheEntries)
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: Self.timeAmount(configuration.connectTimeout), read: Self.timeAmount(configuration.requestTimeout))
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    // MARK: Service

    /// Waits for graceful shutdown (or cancellation), then shuts the HTTP client down.
    public func run() async throws {
        try? await gracefulShutdown()
        try await shutdown()
    }

    /// Shuts the HTTP client down; idempotent.
    public func shutdown() async throws {
        guard !isShutDown else { return }
        isShutDown = true
        try await client.shutdown()
    }

    // MARK: Authenticator

    /// The context of a valid token, nil for an unknown, expired or revoked one; throws
    /// `MagnumError(.unavailable, …)` when Keystone cannot be reached or the service user
    /// cannot authenticate.
    public func authenticate(token: String) async throws -> RequestContext? {
        if let hit = cache.lookup(token) { return hit }
        let (context, expiresAt) = try await validate(token)
        store(token, context: context, expiresAt: expiresAt)
        return context
    }

    /// Drops every cached validation.
    public func clearCache() {
        cache.clear()
    }

    func store(_ token: String, context: RequestContext?, expiresAt: Date?) {
        cache.store(token, context, expiresAt: expiresAt)
    }

    // MARK: Keystone calls

    /// Validates `token`: (context, expires_at), or (nil, nil) when Keystone refuses it.
    func validate(_ token: String) async throws -> (RequestContext?, Date?) {
        for attempt in 0..<2 {
            let service = try await currentServiceToken(forceRefresh: attempt > 0)
            var request = HTTPClientRequest(url: configuration.authURL + "/auth/tokens")
            request.method = .GET
            request.headers.add(name: "X-Auth-Token", value: service)
            request.headers.add(name: "X-Subject-Token", value: token)
            request.headers.add(name: "Accept", value: "application/json")
            let (status, _, body) = try await send(request)
            switch status {
            case 200:
                return try Self.context(from: body, token: token)
            case 404:
                return (nil, nil)
            case 401 where attempt == 0:
                // Our service token may have expired or been revoked: re-authenticate once.
                serviceToken = nil
                continue
            case 401:
                return (nil, nil)
            default:
                throw Self.unavailable("token validation answered HTTP \(status)")
            }
        }
        return (nil, nil)
    }

    /// The service token, fetched when missing or about to expire.
    func currentServiceToken(forceRefresh: Bool) async throws -> String {
        if !forceRefresh, let current = serviceToken, current.expiresAt.timeIntervalSinceNow > 60 {
            return current.token
        }
        let c = configuration
        let payload: [String: Any] = [
            "auth": [
                "identity": [
                    "methods": ["password"],
                    "password": ["user": ["name": c.username, "domain": ["name": c.userDomainName], "password": c.password]],
                ],
                "scope": ["project": ["name": c.projectName, "domain": ["name": c.projectDomainName]]],
            ],
        ]
        let data = try JSONSerialization.data(withJSONObject: payload)
        var request = HTTPClientRequest(url: c.authURL + "/auth/tokens")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: data))
        let (status, headers, body) = try await send(request)
        guard status == 201 || status == 200, let token = headers.first(name: "X-Subject-Token"), !token.isEmpty else {
            logger.error("Keystone refused the service credentials", metadata: ["status": .stringConvertible(status), "user": .string(c.username)])
            throw Self.unavailable("service user \(c.username) could not authenticate (HTTP \(status))")
        }
        let root = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        let expires = ((root?["token"] as? [String: Any])?["expires_at"] as? String).flatMap(Self.parseDate)
            ?? Date().addingTimeInterval(300)
        serviceToken = (token, expires)
        return token
    }

    /// Sends one request; transport failures become `.unavailable`.
    func send(_ request: HTTPClientRequest) async throws -> (Int, HTTPHeaders, Data) {
        do {
            let response = try await client.execute(request, timeout: Self.timeAmount(configuration.requestTimeout))
            let buffer = try await response.body.collect(upTo: 8 << 20)
            return (Int(response.status.code), response.headers, Data(buffer.readableBytesView))
        } catch let error as MagnumError {
            throw error
        } catch {
            logger.warning("Keystone unreachable", metadata: ["url": .string(configuration.authURL), "error": .string(String(describing: error))])
            throw Self.unavailable("\(configuration.authURL): \(error)")
        }
    }

    // MARK: Parsing

    /// Builds the context from a `GET /v3/auth/tokens` answer.
    static func context(from body: Data, token: String) throws -> (RequestContext?, Date?) {
        guard let root = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
              let t = root["token"] as? [String: Any]
        else {
            throw unavailable("token validation returned an unreadable body")
        }
        let user = t["user"] as? [String: Any]
        let project = t["project"] as? [String: Any]
        let roles = (t["roles"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        let expires = (t["expires_at"] as? String).flatMap(parseDate)
        if let expires, expires <= Date() { return (nil, nil) }
        let domainID = (user?["domain"] as? [String: Any])?["id"] as? String
        let ctx = RequestContext(
            userID: user?["id"] as? String, projectID: project?["id"] as? String, roles: Set(roles),
            userName: user?["name"] as? String, projectName: project?["name"] as? String,
            domainID: domainID, systemScope: t["system"] != nil, authToken: token)
        var withCatalog = ctx
        withCatalog.serviceEndpoints = serviceEndpoints(t["catalog"] as? [[String: Any]] ?? [])
        return (withCatalog, expires)
    }

    /// The first public endpoint URL of each service type in a token's catalog, without a
    /// trailing slash.
    static func serviceEndpoints(_ catalog: [[String: Any]]) -> [String: String] {
        var out: [String: String] = [:]
        for service in catalog {
            guard let type = service["type"] as? String, out[type] == nil else { continue }
            let endpoints = service["endpoints"] as? [[String: Any]] ?? []
            guard var url = endpoints.first(where: { $0["interface"] as? String == "public" })?["url"] as? String else { continue }
            while url.hasSuffix("/") { url.removeLast() }
            out[type] = url
        }
        return out
    }

    /// Parses Keystone's `2026-11-25T16:05:33.000000Z`.
    static func parseDate(_ s: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        var base = s
        if let dot = s.firstIndex(of: ".") {
            let rest = s[s.index(after: dot)...].drop(while: { $0.isNumber })
            base = String(s[..<dot]) + (rest.isEmpty ? "Z" : String(rest))
        }
        return formatter.date(from: base)
    }

    static func timeAmount(_ d: Duration) -> TimeAmount {
        .nanoseconds(d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000)
    }

    static func unavailable(_ reason: String) -> MagnumError {
        MagnumError(.unavailable, "Identity service unavailable: \(reason)")
    }
}
