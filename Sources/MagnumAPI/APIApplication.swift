import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import MagnumCore

/// Builds the Hummingbird application serving the Magnum API — the one composition used by
/// `magnum serve`, `magnum api` and the tests.
public enum APIApplication {
    /// The application bound to `host:port`.
    public static func make(env: APIEnvironment, host: String, port: Int, services: [any Service] = [],
                            onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in })
        -> Application<MagnumResponder>
    {
        Application(
            responder: MagnumResponder(env: env),
            configuration: .init(address: .hostname(host, port: port), serverName: "magnum-api"),
            services: services,
            onServerRunning: onServerRunning,
            logger: env.logger
        )
    }
}
