import ArgumentParser
import HeatDriver
import LocalSwarmDriver
import Foundation
import Hummingbird
import Logging
import MagnumAPI
import MagnumConductor
import MagnumDrivers
import MagnumCore
import MagnumIdentity
import MagnumPKI
import MagnumStore
import ServiceLifecycle
import Yams

/// The `magnum` command: the all-in-one server, the split services and operator commands.
@main
struct Magnum: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "magnum",
        abstract: "Magnum in Swift: the OpenStack Container Infrastructure Management service.",
        subcommands: [Serve.self, API.self, Conductor.self, DB.self, Bootstrap.self]
    )

    /// Parses the command line with the options of `--config-file` (`ConfigFile`) and runs it.
    static func main() async {
        do {
            await main(try ConfigFile.expand(Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment))
        } catch {
            exit(withError: error)
        }
    }
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

    @OptionGroup var cloud: CloudOptions

    @Option(help: "A YAML or JSON oslo.policy file whose rules override or add to Magnum's defaults. Also MAGNUM_POLICY_FILE.")
    var policyFile: String?

    @Option(help: "Where the built-in identity's first start also installs its clouds.yaml so that OS_CLOUD=magnum-admin works (never over a file Magnum did not write); `none` to skip. Default: ~/.config/openstack/clouds.yaml. Also MAGNUM_CLOUDS_FILE.")
    var cloudsFile: String?

    @Option(help: "Refuse system-scoped tokens on Magnum's project-scoped API rules ([oslo_policy] enforce_scope). Also MAGNUM_ENFORCE_SCOPE.")
    var enforceScope: Bool = ProcessInfo.processInfo.environment["MAGNUM_ENFORCE_SCOPE"].map { !["0", "false", "no", "off"].contains($0.lowercased()) } ?? true

    @Option(help: "Default cluster quota per project ([quotas] max_clusters_per_project).")
    var maxClustersPerProject: Int = 20

    @Option(help: "Page size cap ([api] max_limit).")
    var maxLimit: Int = 1000

    @Option(name: .customLong("disabled-driver"), help: "A cluster driver to hide, repeatable ([drivers] disabled_drivers): its templates and clusters are refused as unsupported cluster types.")
    var disabledDrivers: [String] = []

    @Option(help: "Hours an Idempotency-Key of a create request is remembered.")
    var idempotencyTTL: Double = 24

    /// The user's clouds.yaml the first start installs, or nil when disabled.
    func cloudsFilePath() -> String? {
        let env = ProcessInfo.processInfo.environment
        let value = cloudsFile ?? env["MAGNUM_CLOUDS_FILE"] ?? "~/.config/openstack/clouds.yaml"
        if value.isEmpty || value == "none" { return nil }
        guard value.hasPrefix("~/") else { return value }
        // $HOME first, as the openstack client does (Foundation's tilde expansion ignores it).
        let home = env["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(String(value.dropFirst(2)))
    }

    func hostPort() throws -> (String, Int) {
        guard let colon = bind.lastIndex(of: ":"), let port = Int(bind[bind.index(after: colon)...]) else {
            throw ValidationError("--bind must be HOST:PORT")
        }
        return (String(bind[..<colon]), port)
    }

    /// The Keystone authenticator when `--keystone-url` (or MAGNUM_KEYSTONE_URL) is given.
    func keystone(logger: Logger) throws -> KeystoneAuthenticator? {
        guard let (url, password) = try cloud.keystone() else { return nil }
        if tokenTable != nil { throw ValidationError("--keystone-url and --token-table are mutually exclusive") }
        return KeystoneAuthenticator(
            configuration: .init(authURL: url, username: cloud.serviceUser, password: password, projectName: cloud.serviceProject),
            logger: logger)
    }

    /// The public base URL: `--public-url`, MAGNUM_PUBLIC_URL, or `http://HOST:PORT` of `--bind`
    /// (a wildcard host is replaced by the loopback address).
    func resolvedPublicURL() throws -> String {
        if let url = cloud.givenPublicURL { return url }
        var (host, port) = try hostPort()
        if host == "0.0.0.0" || host.isEmpty { host = "127.0.0.1" }
        if host == "::" || host == "[::]" { host = "[::1]" }
        if host.contains(":") && !host.hasPrefix("[") { host = "[\(host)]" }
        return "http://\(host):\(port)"
    }

    /// The token table authenticator of `--token-table`; nil without one.
    func tokenTableAuthenticator() throws -> (any Authenticator)? {
        guard let tokenTable else { return nil }
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
        return try OsloPolicy.load(overridesFile: path?.isEmpty == false ? path : nil, enforceScope: enforceScope)
    }

    func config() -> APIConfiguration {
        var c = APIConfiguration()
        c.maxClustersPerProject = maxClustersPerProject
        c.maxLimit = maxLimit
        c.disabledDrivers = disabledDrivers
        c.idempotencyTTL = max(0, idempotencyTTL) * 3600
        return c
    }
}

/// Options of the clusters' certificates, shared by the API (which issues and signs) and the
/// conductor (whose drivers issue node certificates and present Magnum's client certificate).
struct PKIOptions: ParsableArguments {
    @Option(help: "File holding the key-encryption key that seals clusters' private keys (base64 of 32 bytes; created with mode 0600 on first start). Default: DATA_DIR/key-encryption.key. Also MAGNUM_KEY_FILE.")
    var keyFile: String?

    @Option(help: "Key type of the clusters' CAs and certificates: rsa2048, rsa3072, rsa4096 or ecdsa-p256 ([x509] rsa_key_size).")
    var certificateKeyType: String = "rsa2048"

    @Option(help: "Days issued certificates are valid ([x509] term_of_validity).")
    var certificateValidityDays: Int = 1825

    @Flag(help: "Let CSRs request CA:TRUE ([x509] allow_ca).")
    var allowCA: Bool = false

    /// The certificate authority: ClusterPKI with the configured key type and validity, keys
    /// sealed under the key-encryption key (`MAGNUM_KEY_ENCRYPTION_KEY` as base64, else the key
    /// file, created on first start).
    func certificateAuthority(dataDir: String) throws -> SealedCertificateAuthority {
        let keyType: PKIConfiguration.KeyType
        switch certificateKeyType {
        case "rsa2048": keyType = .rsa(bits: 2048)
        case "rsa3072": keyType = .rsa(bits: 3072)
        case "rsa4096": keyType = .rsa(bits: 4096)
        case "ecdsa-p256": keyType = .ecdsaP256
        default: throw ValidationError("--certificate-key-type must be rsa2048, rsa3072, rsa4096 or ecdsa-p256")
        }
        let configuration = PKIConfiguration(keyType: keyType, validityDays: certificateValidityDays, allowCA: allowCA)
        try configuration.validate()
        let env = ProcessInfo.processInfo.environment
        let vault: KeyVault
        if let key = env["MAGNUM_KEY_ENCRYPTION_KEY"], !key.isEmpty {
            vault = try KeyVault(base64Key: key)
        } else {
            let path = keyFile ?? env["MAGNUM_KEY_FILE"] ?? (dataDir as NSString).appendingPathComponent("key-encryption.key")
            vault = try KeyVault.loadOrCreate(keyFile: path)
        }
        return SealedCertificateAuthority(pki: ClusterPKI(configuration: configuration), vault: vault)
    }
}

/// Magnum's place in an OpenStack cloud, shared by the API (token validation) and the
/// conductor (the Heat driver): Keystone, Magnum's service user, its public URL, and the Heat
/// driver's settings.
struct CloudOptions: ParsableArguments {
    @Option(help: "Keystone v3 URL (e.g. http://127.0.0.1:5000/v3): validate tokens with a real Keystone instead of the token table. Also MAGNUM_KEYSTONE_URL.")
    var keystoneURL: String?

    @Option(help: "Service user Magnum authenticates as to validate tokens (domain Default).")
    var serviceUser: String = "magnum"

    @Option(help: "Password of the service user. Also MAGNUM_SERVICE_PASSWORD.")
    var servicePassword: String?

    @Option(help: "Project the service user's token is scoped to (domain Default).")
    var serviceProject: String = "service"

    @Option(help: "The server's public base URL, used in the built-in identity's service catalog and clouds.yaml, and by the Heat driver's nodes to reach Magnum (required by `magnum conductor` with --keystone-url). Default: http://HOST:PORT of --bind. Also MAGNUM_PUBLIC_URL.")
    var publicURL: String?

    @Option(name: .customLong("heat-environment"), help: "A Heat environment file appended to every stack the Heat driver creates, after the driver's own; repeatable, applied in order. Files its resource_registry names are sent with it. Also MAGNUM_HEAT_ENVIRONMENTS (colon-separated).")
    var heatEnvironments: [String] = []

    @Option(help: "Directory of the Heat driver's templates (kubernetes/, swarm-mode/, bootstrap/). Default: the templates built into magnum.")
    var heatTemplates: String?

    @Option(help: "Keystone domain (name) the Heat driver creates each cluster's trustee user in ([trust] trustee_domain_name).")
    var trusteeDomain: String = "magnum"

    @Flag(help: "Make clusters' trusts with allow_redelegation, so the conductor may create stacks with a cluster's trust when no user token is at hand. Off by default: a redelegatable trust lets whoever holds it make further trusts.")
    var heatAllowRedelegation = false

    @Option(help: "Catalog region of the cloud's services the Heat driver uses. Default: the first endpoint of each.")
    var regionName: String?

    @Option(help: "Catalog endpoint interface the Heat driver uses (public, internal).")
    var endpointInterface: String = "public"

    /// The Keystone URL and service password, when Magnum runs against a real Keystone.
    func keystone() throws -> (url: String, password: String)? {
        let env = ProcessInfo.processInfo.environment
        guard let url = keystoneURL ?? env["MAGNUM_KEYSTONE_URL"], !url.isEmpty else { return nil }
        guard let password = servicePassword ?? env["MAGNUM_SERVICE_PASSWORD"] else {
            throw ValidationError("--keystone-url needs --service-password (or MAGNUM_SERVICE_PASSWORD)")
        }
        return (url, password)
    }

    /// `--public-url` or MAGNUM_PUBLIC_URL without trailing slashes, if given.
    var givenPublicURL: String? {
        guard var u = publicURL ?? ProcessInfo.processInfo.environment["MAGNUM_PUBLIC_URL"], !u.isEmpty else { return nil }
        while u.hasSuffix("/") { u.removeLast() }
        return u
    }

    /// The Heat driver's configuration when Magnum runs against a real Keystone.
    func heatConfiguration(magnumURL: String) throws -> HeatDriver.Configuration? {
        guard let (url, password) = try keystone() else { return nil }
        var environments = heatEnvironments
        if environments.isEmpty, let list = ProcessInfo.processInfo.environment["MAGNUM_HEAT_ENVIRONMENTS"] {
            environments = list.split(separator: ":").map(String.init)
        }
        return HeatDriver.Configuration(
            keystoneURL: url, serviceUser: serviceUser, servicePassword: password, serviceProject: serviceProject,
            trusteeDomain: trusteeDomain, allowRedelegation: heatAllowRedelegation, region: regionName,
            interface: endpointInterface, templatesDirectory: heatTemplates, environments: environments, magnumURL: magnumURL)
    }
}

/// Options of the conductor.
struct ConductorOptions: ParsableArguments {
    @Option(help: "Host name this conductor reports in /v1/mservices ([DEFAULT] host). Default: the machine's host name.")
    var host: String = ProcessInfo.processInfo.environment["MAGNUM_HOST"] ?? ProcessInfo.processInfo.hostName

    @Option(help: "Seconds between the conductor's liveness reports.")
    var reportInterval: Int = 10

    @Option(help: "JSON-lines file the conductor appends CADF notifications to (one oslo.messaging envelope per line); `none` disables them. Default: DATA_DIR/notifications.jsonl. Also MAGNUM_NOTIFICATION_FILE.")
    var notificationFile: String?

    @Option(help: "Days cluster events are kept (also those of deleted clusters).")
    var eventRetentionDays: Int = 14

    @Option(help: "Seconds between the conductor's looks at settled clusters (health, addresses).")
    var monitorInterval: Int = 10

    /// The CADF notifier writing to `--notification-file`, or nil when it is `none`.
    func notifier(dataDir: String) -> ClusterNotifier? {
        let path = notificationFile ?? ProcessInfo.processInfo.environment["MAGNUM_NOTIFICATION_FILE"]
            ?? (dataDir as NSString).appendingPathComponent("notifications.jsonl")
        if path.isEmpty || path == "none" { return nil }
        return ClusterNotifier(sink: JSONLinesNotificationFile(path: path), host: host)
    }

    @Option(help: "Directory of the local_swarm driver's clusters (node data, certificates, persisted layout). Default: DATA_DIR/local-swarm. Also MAGNUM_LOCAL_SWARM_DIR.")
    var localSwarmDir: String?

    @Option(help: "Cluster indexes K (subnets 198.18.K.0/24, bridges mswK) the local_swarm driver may use, FIRST-LAST.")
    var localSwarmIndexes: String = "1-250"

    /// The driver implementations this build runs: the local Swarm-mode driver, and the Heat
    /// driver when Magnum runs against a real Keystone.
    func drivers(dataDir: String, authority: SealedCertificateAuthority, cloud: CloudOptions, magnumURL: String) throws -> DriverSet {
        let bounds = localSwarmIndexes.split(separator: "-").compactMap { Int($0) }
        guard bounds.count == 2, bounds[0] >= 1, bounds[0] <= bounds[1], bounds[1] <= 250 else {
            throw ValidationError("--local-swarm-indexes must be FIRST-LAST within 1-250")
        }
        let directory = localSwarmDir ?? ProcessInfo.processInfo.environment["MAGNUM_LOCAL_SWARM_DIR"]
            ?? (dataDir as NSString).appendingPathComponent("local-swarm")
        let absolute = directory.hasPrefix("/") ? directory : FileManager.default.currentDirectoryPath + "/" + directory
        guard absolute.allSatisfy({ $0.isLetter || $0.isNumber || "/._-".contains($0) }) else {
            throw ValidationError("the local_swarm directory may hold only letters, digits and / . _ - (it is passed to node daemons): \(absolute)")
        }
        let local = LocalSwarmDriver(configuration: .init(stateDirectory: (absolute as NSString).standardizingPath,
                                                          clusterIndexes: bounds[0]...bounds[1]), authority: authority)
        guard let heat = try cloud.heatConfiguration(magnumURL: magnumURL) else { return DriverSet([local]) }
        do {
            return DriverSet([local, try HeatDriver(configuration: heat, authority: authority)])
        } catch let error as MagnumError {
            throw ValidationError(error.message)
        }
    }

    /// The conductor's configuration from these options.
    func configuration(dataDir: String) -> MagnumConductor.Conductor.Configuration {
        .init(host: host, reportInterval: .seconds(max(1, reportInterval)), notifier: notifier(dataDir: dataDir),
              eventRetentionDays: eventRetentionDays, monitorInterval: .seconds(max(1, monitorInterval)))
    }

    /// The conductor's services (heartbeat, operation runner, monitor, event retention) over `drivers`.
    func services(store: any Store, dataDir: String, authority: SealedCertificateAuthority, cloud: CloudOptions, magnumURL: String,
                  logger: Logger) throws -> [any Service] {
        MagnumConductor.Conductor.services(store: store, drivers: try drivers(dataDir: dataDir, authority: authority, cloud: cloud, magnumURL: magnumURL),
                                           configuration: configuration(dataDir: dataDir), logger: logger)
    }
}

/// Runs the API (and, for the all-in-one, the conductor) with its database in one `ServiceGroup`.
/// The identity is a real Keystone (`--keystone-url`), a token table (`--token-table`), or else
/// the built-in identity served at `/identity/v3`.
func runAPI(db: DatabaseOptions, api: APIOptions, pki: PKIOptions, conductor: ConductorOptions?, label: String) async throws {
    let logger = db.logger(label)
    let authority = try pki.certificateAuthority(dataDir: db.dataDir)
    let store = try await db.openStore(logger: logger)
    let policy = try api.policy()
    let (host, port) = try api.hostPort()
    let publicURL = try api.resolvedPublicURL()
    let tokenTable = try api.tokenTableAuthenticator()
    // Created last: once it exists its HTTP client must be shut down (by the service group).
    let keystone = try api.keystone(logger: logger)
    let builtIn: BuiltInIdentity? = keystone == nil && tokenTable == nil
        ? BuiltInIdentity(records: store, configuration: .init(publicURL: publicURL), logger: logger) : nil
    let authenticator: any Authenticator = keystone ?? tokenTable ?? BuiltInAuthenticator(identity: builtIn!)
    let authURI = keystone != nil ? keystone?.configuration.authURL : "\(publicURL)/identity/v3"
    // With a real Keystone, the cloud's own Glance, Nova and Neutron (from each caller's token
    // catalog) answer catalog lookups; the local catalog answers for services a cloud lacks.
    let local = LocalCatalog(store: store, projects: builtIn == nil ? nil : store)
    let catalog: any Catalog = keystone != nil ? CloudCatalog(fallback: local) : local
    let env = APIEnvironment(store: store, catalog: catalog,
                             authenticator: authenticator, certificates: authority,
                             policy: policy, config: api.config(), logger: logger, authURI: authURI, identity: builtIn)
    // The Keystone authenticator's HTTP client lives as long as the group.
    var services: [any Service] = [store]
    if let keystone { services.append(keystone) }
    if let conductor {
        services += try conductor.services(store: store, dataDir: db.dataDir, authority: authority, cloud: api.cloud,
                                           magnumURL: publicURL, logger: logger)
    }
    var app = APIApplication.make(env: env, host: host, port: port, services: services)
    let dataDir = db.dataDir
    let cloudsFile = api.cloudsFilePath()
    // The store's service (the PostgreSQL pool) runs in the same group; migrate and seed
    // before the server accepts requests.
    app.beforeServerStarts {
        let applied = try await store.migrate()
        if !applied.isEmpty { logger.info("database migrated", metadata: ["versions": .string(applied.map(String.init).joined(separator: ","))]) }
        try await LocalCatalog.seedIfEmpty(store)
        if let builtIn {
            try await firstStart(builtIn, publicURL: publicURL, dataDir: dataDir, cloudsFile: cloudsFile, logger: logger)
        }
        let identity = keystone.map { "keystone \($0.configuration.authURL)" } ?? (tokenTable != nil ? "token table" : "built-in \(publicURL)/identity/v3")
        logger.info("magnum API listening", metadata: ["bind": .string(api.bind), "identity": .string(identity)])
    }
    let outcome: Result<Void, any Error>
    do { outcome = .success(try await app.runService()) } catch { outcome = .failure(error) }
    // Close what the group's services do not close themselves (the SQLite connection); the
    // Keystone client is normally shut down by its service already (idempotent).
    try? await store.shutdown()
    try? await keystone?.shutdown()
    try outcome.get()
}

/// The built-in identity's first start: the admin user and project (password from
/// MAGNUM_ADMIN_PASSWORD, or generated) and `DATA_DIR/clouds.yaml` (mode 0600) with the cloud
/// `magnum-admin`. So that `OS_CLOUD=magnum-admin openstack …` works at once, the same file is
/// also installed where the client looks (`cloudsFile`, by default
/// `~/.config/openstack/clouds.yaml`) — unless a clouds.yaml Magnum did not write is there, which
/// is never touched. Later starts leave everything alone.
func firstStart(_ identity: BuiltInIdentity, publicURL: String, dataDir: String, cloudsFile: String?, logger: Logger) async throws {
    let given = ProcessInfo.processInfo.environment["MAGNUM_ADMIN_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
    let outcome = try await identity.bootstrap(adminPassword: given)
    guard outcome.created, let password = outcome.adminPassword else { return }
    let path = (dataDir as NSString).appendingPathComponent("clouds.yaml")
    let text = CloudsFile.render(name: "magnum-admin", authURL: "\(publicURL)/identity/v3", username: "admin", password: password,
                                 projectName: "admin", region: identity.configuration.region)
    do {
        try CloudsFile.writePrivately(text, to: path)
        logger.notice("built-in identity initialised: admin user and project created",
                      metadata: ["clouds_yaml": .string(path), "cloud": "magnum-admin",
                                 "password": .string(given != nil ? "from MAGNUM_ADMIN_PASSWORD" : "generated, see clouds.yaml")])
    } catch {
        logger.error("could not write clouds.yaml", metadata: ["path": .string(path), "error": .string("\(error)")])
    }
    guard let cloudsFile else { return }
    do {
        if try CloudsFile.install(text, at: cloudsFile) {
            logger.notice("OS_CLOUD=magnum-admin is ready", metadata: ["clouds_yaml": .string(cloudsFile)])
        } else {
            logger.notice("\(cloudsFile) exists and was not written by Magnum; left alone: use OS_CLIENT_CONFIG_FILE=\(path) OS_CLOUD=magnum-admin")
        }
    } catch {
        logger.warning("could not install clouds.yaml", metadata: ["path": .string(cloudsFile), "error": .string("\(error)")])
    }
}

extension Magnum {
    /// `magnum serve`: the all-in-one.
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the all-in-one Magnum (API on embedded SQLite by default).")
        @OptionGroup var db: DatabaseOptions
        @OptionGroup var api: APIOptions
        @OptionGroup var pki: PKIOptions
        @OptionGroup var conductor: ConductorOptions

        func run() async throws {
            try await runAPI(db: db, api: api, pki: pki, conductor: conductor, label: "magnum.serve")
        }
    }

    /// `magnum api`: the API service alone.
    struct API: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "api", abstract: "Run the Magnum API service.")
        @OptionGroup var db: DatabaseOptions
        @OptionGroup var api: APIOptions
        @OptionGroup var pki: PKIOptions

        func run() async throws {
            try await runAPI(db: db, api: api, pki: pki, conductor: nil, label: "magnum.api")
        }
    }

    /// `magnum conductor`: the conductor alone (the schema is applied by `magnum db upgrade` or an
    /// API process; until it exists the conductor keeps retrying its first report).
    struct Conductor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the Magnum conductor.")
        @OptionGroup var db: DatabaseOptions
        @OptionGroup var pki: PKIOptions
        @OptionGroup var conductor: ConductorOptions
        @OptionGroup var cloud: CloudOptions

        func run() async throws {
            let logger = db.logger("magnum.conductor")
            let keystone = try cloud.keystone()
            guard let magnumURL = cloud.givenPublicURL ?? (keystone == nil ? "http://127.0.0.1:9511" : nil) else {
                throw ValidationError("with --keystone-url the conductor needs --public-url (or MAGNUM_PUBLIC_URL): the API URL cluster nodes reach")
            }
            let drivers = try conductor.drivers(dataDir: db.dataDir, authority: try pki.certificateAuthority(dataDir: db.dataDir),
                                                cloud: cloud, magnumURL: magnumURL)
            let store = try await db.openStore(logger: logger)
            try await MagnumConductor.Conductor.run(store: store, drivers: drivers,
                                                    configuration: conductor.configuration(dataDir: db.dataDir), logger: logger)
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

    /// `magnum bootstrap`: register Magnum in a real Keystone.
    struct Bootstrap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register Magnum's endpoints (container-infra, and compute/image/network of the local catalog) in a real Keystone; optionally create the service user.",
            discussion: "Idempotent: existing services and endpoints are kept (an endpoint whose URL differs is updated).")

        @Option(help: "Keystone v3 URL. Also OS_AUTH_URL.")
        var keystoneURL: String?

        @Option(help: "Admin user (domain Default). Also OS_USERNAME.")
        var adminUser: String?

        @Option(help: "Admin password. Also OS_PASSWORD.")
        var adminPassword: String?

        @Option(help: "Project of the admin token (domain Default). Also OS_PROJECT_NAME.")
        var adminProject: String?

        @Option(help: "Magnum's public base URL registered in the catalog. Also MAGNUM_PUBLIC_URL.")
        var publicURL: String = ProcessInfo.processInfo.environment["MAGNUM_PUBLIC_URL"] ?? "http://127.0.0.1:9511"

        @Option(help: "Region of the endpoints.")
        var region: String = "RegionOne"

        @Option(help: "Service user to create when missing (with admin and service roles on --service-project).")
        var serviceUser: String?

        @Option(help: "Password of the service user. Also MAGNUM_SERVICE_PASSWORD.")
        var servicePassword: String?

        @Option(help: "Project of the service user.")
        var serviceProject: String = "service"

        @Option(help: "Keystone domain to create for the Heat driver's per-cluster trustee users; `none` to skip.")
        var trusteeDomain: String = "magnum"

        func run() async throws {
            let env = ProcessInfo.processInfo.environment
            guard let url = keystoneURL ?? env["OS_AUTH_URL"] else { throw ValidationError("--keystone-url (or OS_AUTH_URL) is required") }
            guard let password = adminPassword ?? env["OS_PASSWORD"] else { throw ValidationError("--admin-password (or OS_PASSWORD) is required") }
            var service: (name: String, password: String, project: String)?
            if let serviceUser {
                guard let pw = servicePassword ?? env["MAGNUM_SERVICE_PASSWORD"] else {
                    throw ValidationError("--service-user needs --service-password (or MAGNUM_SERVICE_PASSWORD)")
                }
                service = (serviceUser, pw, serviceProject)
            }
            let bootstrap = KeystoneBootstrap(configuration: .init(
                authURL: url, adminUser: adminUser ?? env["OS_USERNAME"] ?? "admin", adminPassword: password,
                adminProject: adminProject ?? env["OS_PROJECT_NAME"] ?? "admin", publicURL: publicURL,
                region: region, serviceUser: service, trusteeDomain: trusteeDomain == "none" ? nil : trusteeDomain))
            let changes = try await bootstrap.run()
            print(changes.isEmpty ? "Keystone already has Magnum's services and endpoints." : changes.joined(separator: "\n"))
        }
    }
}
