import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MagnumAPI
import MagnumCore
import MagnumPKI
import MagnumStore
import NIOCore

/// Drives the real Magnum API in-process (Hummingbird's router test framework) over a real,
/// migrated and seeded store, with a fixed token table of test identities.
public struct APIHarness: Sendable {
    /// The tokens of the harness and who they are.
    public enum Token: String, Sendable, CaseIterable {
        /// `admin` role in `admin-project`.
        case admin = "admin-token"
        /// `member` of `demo-project` (user `demo`).
        case demo = "demo-token"
        /// Another `member` of `demo-project` (user `demo2`).
        case demo2 = "demo2-token"
        /// `reader` of `demo-project` (user `reader`).
        case reader = "reader-token"
        /// `member` of `other-project` (user `other`).
        case other = "other-token"
        /// A system-scoped token with the `admin` role and no project (user `system-admin`).
        case systemAdmin = "system-admin-token"
    }

    /// One response: status, headers and the parsed JSON body (nil when empty).
    public struct Reply: Sendable {
        public var status: Int
        public var headers: HTTPFields
        public var json: JSON?
        public var text: String

        /// A header value.
        public func header(_ name: String) -> String? { headers[HTTPField.Name(name)!] }
        /// `errors[0].detail` of an error body.
        public var errorDetail: String? { json?["errors"]?.arrayValue?.first?["detail"]?.stringValue }
        /// `errors[0].title` of an error body.
        public var errorTitle: String? { json?["errors"]?.arrayValue?.first?["title"]?.stringValue }
    }

    public let store: any Store
    public let env: APIEnvironment
    /// "sqlite" or "postgres".
    public let label: String

    /// A harness over an already prepared store and environment (e.g. a second API process's
    /// view of the same database).
    public init(store: any Store, env: APIEnvironment, label: String) {
        self.store = store
        self.env = env
        self.label = label
    }

    /// The token table every harness uses.
    public static let tokens = TokenTableAuthenticator([
        Token.admin.rawValue: .init(userID: "admin", projectID: "admin-project", roles: ["admin"]),
        Token.demo.rawValue: .init(userID: "demo", projectID: "demo-project", roles: ["member"]),
        Token.demo2.rawValue: .init(userID: "demo2", projectID: "demo-project", roles: ["member"]),
        Token.reader.rawValue: .init(userID: "reader", projectID: "demo-project", roles: ["reader"]),
        Token.other.rawValue: .init(userID: "other", projectID: "other-project", roles: ["member"]),
        Token.systemAdmin.rawValue: .init(userID: "system-admin", projectID: nil, roles: ["admin"], systemScope: true),
    ])

    /// Creates a harness over a migrated store; seeds the local catalog and keypair `kp` for
    /// every test user.
    /// `authenticator` replaces the token table (e.g. a real Keystone); `policy` replaces Core's
    /// default rule table (e.g. the production `OsloPolicy`); `identity` is served under
    /// `/identity` (the built-in Keystone); `drivers` replaces the built-in driver registry (e.g.
    /// with a test driver the conductor tests run).
    public static func make(store: any Store, label: String, config: APIConfiguration = APIConfiguration(),
                            authenticator: any Authenticator = tokens, policy: any PolicyEnforcer = DefaultPolicy(),
                            identity: (any IdentityEndpoint)? = nil, drivers: DriverRegistry = .builtIn,
                            logger: Logger? = nil) async throws -> APIHarness
    {
        try await LocalCatalog.seedIfEmpty(store)
        try await store.write { session in
            for user in ["admin", "demo", "demo2", "reader", "other", "system-admin"] {
                try await session.insert(Keypair(name: "kp", userID: user, publicKey: "ssh-ed25519 AAAA test", fingerprint: "00:11"))
            }
        }
        let logger = logger ?? {
            var l = Logger(label: "magnum.test")
            l.logLevel = .warning
            return l
        }()
        let catalog = LocalCatalog(store: store, projects: identity == nil ? nil : store as? any IdentityRecords)
        let env = APIEnvironment(store: store, catalog: catalog, authenticator: authenticator, certificates: certificateAuthority,
                                 policy: policy, drivers: drivers, config: config,
                                 logger: logger, identity: identity)
        return APIHarness(store: store, env: env, label: label)
    }

    /// A harness on the same store and identity with another configuration — e.g. a driver
    /// disabled after its clusters exist.
    public func with(config: APIConfiguration) -> APIHarness {
        var env = self.env
        env.config = config
        return APIHarness(store: store, env: env, label: label)
    }

    /// The harness's certificate authority: the real one, with ECDSA P-256 keys (fast to
    /// generate, so the many clusters tests create stay cheap) under a random key-encryption key.
    public static let certificateAuthority = SealedCertificateAuthority(
        pki: ClusterPKI(configuration: PKIConfiguration(keyType: .ecdsaP256)), vault: KeyVault(key: .init(size: .bits256)))

    /// Runs `body` with a harness on SQLite and, when configured, on PostgreSQL.
    public static func withEach(config: APIConfiguration = APIConfiguration(), policy: any PolicyEnforcer = DefaultPolicy(),
                                drivers: DriverRegistry = .builtIn, _ body: (APIHarness) async throws -> Void) async throws
    {
        try await TestDatabases.withEach { store, label in
            try await body(try await make(store: store, label: label, config: config, policy: policy, drivers: drivers))
        }
    }

    /// Sends one request through the whole responder pipeline.
    @discardableResult
    public func request(_ method: HTTPRequest.Method, _ path: String, token: Token? = .demo, version: String? = nil,
                        body: JSON? = nil, rawBody: String? = nil, headers extra: [String: String] = [:]) async throws -> Reply
    {
        try await request(method, path, authToken: token?.rawValue, version: version, body: body, rawBody: rawBody, headers: extra)
    }

    /// Sends one request with an arbitrary `X-Auth-Token` (nil: none) — for real identity services.
    @discardableResult
    public func request(_ method: HTTPRequest.Method, _ path: String, authToken token: String?, version: String? = nil,
                        body: JSON? = nil, rawBody: String? = nil, headers extra: [String: String] = [:]) async throws -> Reply
    {
        let app = APIApplication.make(env: env, host: "127.0.0.1", port: 0)
        var headers = HTTPFields()
        if let token { headers[HTTPField.Name("X-Auth-Token")!] = token }
        if let version { headers[HTTPField.Name("OpenStack-API-Version")!] = version.contains(" ") ? version : "container-infra \(version)" }
        var buffer: ByteBuffer? = nil
        if let body {
            buffer = ByteBuffer(string: body.serialized())
            headers[.contentType] = "application/json"
        } else if let rawBody {
            buffer = ByteBuffer(string: rawBody)
        }
        for (k, v) in extra { headers[HTTPField.Name(k)!] = v }
        let sent = headers, payload = buffer
        return try await app.test(.router) { client in
            try await client.execute(uri: path, method: method, headers: sent, body: payload) { response in
                let text = response.body.getString(at: response.body.readerIndex, length: response.body.readableBytes) ?? ""
                let json = text.isEmpty ? nil : try? JSON.parse(string: text)
                return Reply(status: Int(response.status.code), headers: response.headers, json: json, text: text)
            }
        }
    }

    /// Creates a cluster template as `token` and returns its body (fails the caller on non-201).
    public func createTemplate(_ extra: [String: JSON] = [:], token: Token = .demo) async throws -> JSON {
        var body: [String: JSON] = [
            "name": "ct", "coe": "kubernetes", "image_id": "fedora-coreos-latest", "external_network_id": "public",
            "flavor_id": "m1.small", "master_flavor_id": "m1.small", "keypair_id": "kp",
        ]
        for (k, v) in extra { body[k] = v }
        let r = try await request(.post, "/v1/clustertemplates", token: token, body: .object(body))
        guard r.status == 201, let json = r.json else { throw HarnessError.unexpected(r.status, r.text) }
        return json
    }

    /// Creates a cluster as `token` and returns its UUID (fails the caller on non-202).
    public func createCluster(template: String, _ extra: [String: JSON] = [:], token: Token = .demo, version: String = "latest") async throws -> String {
        var body: [String: JSON] = ["name": "k8s", "cluster_template_id": .string(template), "master_count": 1, "node_count": 1]
        for (k, v) in extra { body[k] = v }
        let r = try await request(.post, "/v1/clusters", token: token, version: version, body: .object(body))
        guard r.status == 202, let uuid = r.json?["uuid"]?.stringValue else { throw HarnessError.unexpected(r.status, r.text) }
        return uuid
    }

    /// Sets a cluster's status (and optionally its API address) directly in the store — what a
    /// driver will do through the conductor.
    public func setClusterState(_ uuid: String, _ status: ClusterStatus, apiAddress: String? = nil) async throws {
        try await store.write { session in
            guard var c = try await session.clusters(matching: .uuid(uuid), .everything).first else { return }
            c.status = status
            if let apiAddress { c.apiAddress = apiAddress }
            _ = try await session.update(c)
            for var ng in try await session.nodegroups(clusterUUID: uuid, role: nil, sort: SortOrder()) {
                ng.status = status
                _ = try await session.update(ng)
            }
        }
    }
}

/// A harness call that did not answer as the test required.
public enum HarnessError: Error, CustomStringConvertible {
    case unexpected(Int, String)

    public var description: String {
        switch self {
        case .unexpected(let status, let body): return "unexpected \(status): \(body)"
        }
    }
}
