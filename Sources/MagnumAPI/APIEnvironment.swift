import Logging
import MagnumCore
import MagnumStore

/// Everything the API needs, built once by the composition root (the executable or a test).
public struct APIEnvironment: Sendable {
    public var store: any Store
    public var catalog: any Catalog
    public var authenticator: any Authenticator
    public var policy: any PolicyEnforcer
    public var drivers: DriverRegistry
    public var config: APIConfiguration
    public var logger: Logger

    /// Creates the environment.
    public init(store: any Store, catalog: any Catalog, authenticator: any Authenticator,
                policy: any PolicyEnforcer = DefaultPolicy(), drivers: DriverRegistry = .builtIn,
                config: APIConfiguration = APIConfiguration(), logger: Logger = Logger(label: "magnum.api"))
    {
        self.store = store
        self.catalog = catalog
        self.authenticator = authenticator
        self.policy = policy
        self.drivers = drivers
        self.config = config
        self.logger = logger
    }
}
