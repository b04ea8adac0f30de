import AsyncHTTPClient
import NIOCore

extension HTTPClient {
    /// The process-wide client for calls to the cloud's services (Glance, Nova, Neutron, Heat,
    /// Keystone's trusts). A connection that cannot be established fails the request at once
    /// (after at most 10 s) instead of being retried until the request's deadline: callers treat
    /// it as `.unavailable`, and the conductor's own backoff decides when to try again, so a
    /// service that is down costs seconds per attempt, not minutes.
    public static let cloud: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()
}
