import ArgumentParser
import Foundation
import Hummingbird
import Logging
import MagnumAPI
import MagnumCore
import MagnumIdentity
import MagnumStore
import ServiceLifecycle
import Yams

/// The `magnum` command: the all-in-one server, the split services and operator commands.
@main
struct Magnum: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "magnum",
        abstract: "Magnum in Swift: the OpenStack Container Infrastructure Management service.",
        subcommands: [Serve.self, API.self, DB.self]
    )
}

/// Options shared by the commands that open the database.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "Data directory (SQLite database, generated files).")
    var dataDir: String = ProcessInfo.processInfo.environment["MAGNUM_DATA_DIR"] ?? "./data"

    @Option(help: "Database URL: postgres://user:password@host:port/database, or sqlite:///path. Default: SQLite in the data directory. Also MAGNUM_DATABASE_URL.")
    var databaseURL: String?

    @Option(help: "Log level (trace, debug, info, notice, warning, error, critical).")
    var logLevel: String = ProcessInfo.processInfo.environment["MAGNUM_LOG_LEVEL"] ?? "info"

    func logger(_ label: String) -> Logger {
        var l = Logger(label: label)
        l.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        return l
    }

    /// Opens the configured store.
    func openStore(logger: Logger) async throws -> SQLStore {
        let url = databaseURL ?? ProcessInfo.processInfo.environment["MAGNUM_DATABASE_URL"]
        if let url, url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            return try SQLStore.postgres(url: url, logger: logger)
        }
        if let url, url.hasPrefix("sqlite://") {
            return try await SQLStore.sqlite(path: String(url.dropFirst("sqlite://".count)), logger: logger)
        }
        if let url { throw ValidationError("Unsupported database URL \(url): use postgres://… or sqlite:///path") }
        return try await SQLStore.sqlite(path: (dataDir as NSString).appendingPathComponent("magnum.sqlite"), logger: logger)
    }
}

/// Options of the API server.
struct APIOptions: ParsableArguments {
    @Option(help: "Address to listen on, HOST:PORT.")
    var bind: String = "127.0.0.1:9511"

    @Option(help: "A YAML or JSON file mapping tokens to identities ({tokens: {TOKEN: {user_id, project_id, roles}}}). For tests and trials only; never enabled by default.")
    var tokenTable: String?

    @Option(help: "Keystone v3 URL (e.g. http://127.0.0.1:5000/v3): validate tokens with a real Keystone instead of the token table. Also MAGNUM_KEYSTONE_URL.")
    var keystoneURL: String?

    @Option(help: "Service user Magnum authenticates as to validate tokens (domain Default).")
    var serviceUser: String = "magnum"

    @Option(help: "Password of the service user. Also MAGNUM_SERVICE_PASSWORD.")
    var servicePassword: String?

    @Option(help: "Project the service user's token is scoped to (domain Default).")
    var serviceProject: String = "service"

    @Option(help: "A YAML or JSON oslo.policy file whose rules override or add to Magnum's defaults. Also MAGNUM_POLICY_FILE.")
    var policyFile: String?

    @Option(help: "Default cluster quota per project ([quotas] max_clusters_per_project).")
    var maxClustersPerProject: Int = 20

    @Option(help: "Page size cap ([api] max_limit).")
    var maxLimit: Int = 1000

    func hostPort() throws -> (String, Int) {
        guard let colon = bind.lastIndex(of: ":"), let port = Int(bind[bind.index(after: colon)...]) else {
            throw ValidationError("--bind must be HOST:PORT")
        }
        return (String(bind[..<colon]), port)
    }

    /// The Keystone authenticator when `--keystone-url` (or MAGNUM_KEYSTONE_URL) is given.
    func keystone(logger: Logger) throws -> KeystoneAuthenticator? {
        let env = ProcessInfo.processInfo.environment
        guard let url = keystoneURL ?? env["MAGNUM_KEYSTONE_URL"], !url.isEmpty else { return nil }
        if tokenTable != nil { throw ValidationError("--keystone-url and --token-table are mutually exclusive") }
        guard let password = servicePassword ?? env["MAGNUM_SERVICE_PASSWORD"] else {
            throw ValidationError("--keystone-url needs --service-password (or MAGNUM_SERVICE_PASSWORD)")
        }
        return KeystoneAuthenticator(
            configuration: .init(authURL: url, username: serviceUser, password: password, projectName: serviceProject),
            logger: logger)
    }

    func authenticator() throws -> any Authenticator {
        guard let tokenTable else { return NoIdentity() }
        let text = try String(contentsOfFile: tokenTable, encoding: .utf8)
        guard let root = try Yams.load(yaml: text) as? [String: Any], let tokens = root["tokens"] as? [String: Any] else {
            throw ValidationError("\(tokenTable): expected a mapping with a `tokens` key")
        }
        var entries: [String: TokenTableAuthenticator.Entry] = [:]
        for (token, value) in tokens {
            guard let v = value as? [String: Any], let user = v["user_id"] as? String else {
                throw ValidationError("\(tokenTable): token \(token) needs user_id")
            }
            entries[token] = .init(userID: user, projectID: v["project_id"] as? String, roles: (v["roles"] as? [String]) ?? [])
        }
        return TokenTableAuthenticator(entries)
    }

    /// Magnum's default policy with the overrides of `--policy-file` / `MAGNUM_POLICY_FILE`.
    func policy() throws -> OsloPolicy {
        let path = policyFile ?? ProcessInfo.processInfo.environment["MAGNUM_POLICY_FILE"]
        return try OsloPolicy.load(overridesFile: path?.isEmpty == false ? path : nil)
    }

    func config() -> APIConfiguration {
        var c = APIConfiguration()
        c.maxClustersPerProject = maxClustersPerProject
        c.maxLimit = maxLimit
        return c
    }
}

/// With no identity configured, no token is valid: every protected route answers 401.
struct NoIdentity: Authenticator {
    func authenticate(token: String) async throws -> MagnumCore.RequestContext? { nil }
}

/// Runs the API with its database in one `ServiceGroup`.
func runAPI(db: DatabaseOptions, api: APIOptions, label: String) async throws {
    let logger = db.logger(label)
    let store = try await db.openStore(logger: logger)
    let policy = try api.policy()
    let (host, port) = try api.hostPort()
    // Created last: once it exists its HTTP client must be shut down (by the service group).
    let keystone = try api.keystone(logger: logger)
    let authenticator: any Authenticator = try keystone ?? api.authenticator()
    let env = APIEnvironment(store: store, catalog: LocalCatalog(store: store), authenticator: authenticator,
                             policy: policy, config: api.config(), logger: logger,
                             authURI: keystone == nil ? nil : (api.keystoneURL ?? ProcessInfo.processInfo.environment["MAGNUM_KEYSTONE_URL"]))
    // The Keystone authenticator's HTTP client lives as long as the group.
    var services: [any Service] = [store]
    if let keystone { services.append(keystone) }
    var app = APIApplication.make(env: env, host: host, port: port, services: services)
    // The store's service (the PostgreSQL pool) runs in the same group; migrate and seed
    // before the server accepts requests.
    app.beforeServerStarts {
        let applied = try await store.migrate()
        if !applied.isEmpty { logger.info("database migrated", metadata: ["versions": .string(applied.map(String.init).joined(separator: ","))]) }
        try await LocalCatalog.seedIfEmpty(store)
        logger.info("magnum API listening", metadata: ["bind": .string(api.bind), "identity": .string(keystone.map { "keystone \($0.configuration.authURL)" } ?? (api.tokenTable == nil ? "none" : "token table"))])
    }
    let outcome: Result<Void, any Error>
    do { outcome = .success(try await app.runService()) } catch { outcome = .failure(error) }
    // Close what the group's services do not close themselves (the SQLite connection); the
    // Keystone client is normally shut down by its service already (idempotent).
    try? await store.shutdown()
    try? await keystone?.shutdown()
    try outcome.get()
}

extension Magnum {
    /// `magnum serve`: the all-in-one.
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the all-in-one Magnum (API on embedded SQLite by default).")
        @OptionGroup var db: DatabaseOptions
        @OptionGroup var api: APIOptions

        func run() async throws {
            try await runAPI(db: db, api: api, label: "magnum.serve")
        }
    }

    /// `magnum api`: the API service alone.
    struct API: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "api", abstract: "Run the Magnum API service.")
        @OptionGroup var db: DatabaseOptions
        @OptionGroup var api: APIOptions

        func run() async throws {
            try await runAPI(db: db, api: api, label: "magnum.api")
        }
    }

    /// `magnum db …`.
    struct DB: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "db", abstract: "Database commands.", subcommands: [Upgrade.self])

        /// `magnum db upgrade`.
        struct Upgrade: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Apply pending schema migrations.")
            @OptionGroup var db: DatabaseOptions

            func run() async throws {
                let logger = db.logger("magnum.db")
                let store = try await db.openStore(logger: logger)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await store.run() }
                    let applied = try await store.migrate()
                    print(applied.isEmpty ? "Database is up to date." : "Applied migrations: \(applied.map(String.init).joined(separator: ", "))")
                    group.cancelAll()
                }
                try await store.shutdown()
            }
        }
    }
}
