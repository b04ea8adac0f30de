import Logging
import MagnumCore
import MagnumStore

/// Everything the API needs, built once by the composition root (the executable or a test).
public struct APIEnvironment: Sendable {
    public var store: any Store
    public var catalog: any Catalog
    public var authenticator: any Authenticator
    /// Issues clusters' CAs and signs their CSRs.
    public var certificates: any CertificateAuthority
    public var policy: any PolicyEnforcer
    public var drivers: DriverRegistry
    public var config: APIConfiguration
    public var logger: Logger
    /// The identity URL named in a 401's `WWW-Authenticate` (keystonemiddleware's
    /// `www_authenticate_uri`); nil names the server's own `/identity/v3`.
    public var authURI: String?
    /// The identity this server answers for under `/identity` (the built-in Keystone); nil
    /// when identity is external (a real Keystone) or absent.
    public var identity: (any IdentityEndpoint)?

    /// Creates the environment.
    public init(store: any Store, catalog: any Catalog, authenticator: any Authenticator,
                certificates: any CertificateAuthority, policy: any PolicyEnforcer = DefaultPolicy(), drivers: DriverRegistry = .builtIn,
                config: APIConfiguration = APIConfiguration(), logger: Logger = Logger(label: "magnum.api"),
                authURI: String? = nil, identity: (any IdentityEndpoint)? = nil)
    {
        self.authURI = authURI
        self.identity = identity
        self.store = store
        self.catalog = catalog
        self.authenticator = authenticator
        self.certificates = certificates
        self.policy = policy
        self.drivers = drivers
        self.config = config
        self.logger = logger
    }
}
