import Logging
import MagnumDrivers
import MagnumStore
import ServiceLifecycle

/// The conductor's composition: its liveness heartbeat, its operation runner over a set of
/// drivers, the monitor of settled clusters and the retention of cluster events. `magnum conductor` and `magnum serve` assemble the conductor here, and so does the
/// crash tests' fixture (`magnum-test-conductor`), so that those tests exercise the production
/// assembly with only the driver set differing.
public enum Conductor {
    /// What a conductor process is told.
    public struct Configuration: Sendable {
        /// The host name the conductor reports in `/v1/mservices`.
        public var host: String?
        /// Time between liveness reports.
        public var reportInterval: Duration
        /// The operation runner's tunables (lease owner, lease duration, concurrency, retries).
        public var runner: OperationRunner.Configuration
        /// Where CADF notifications go; nil emits none.
        public var notifier: ClusterNotifier?
        /// Days cluster events are kept.
        public var eventRetentionDays: Int
        /// Time between the monitor's looks at settled clusters (health, addresses).
        public var monitorInterval: Duration

        /// Creates a configuration.
        public init(host: String?, reportInterval: Duration = .seconds(10), runner: OperationRunner.Configuration = .init(),
                    notifier: ClusterNotifier? = nil, eventRetentionDays: Int = 14, monitorInterval: Duration = .seconds(10))
        {
            self.host = host
            self.reportInterval = reportInterval
            self.runner = runner
            self.notifier = notifier
            self.eventRetentionDays = eventRetentionDays
            self.monitorInterval = monitorInterval
        }
    }

    /// The conductor's services over `store`, in start order: the heartbeat, the runner, the
    /// monitor and the event retention. The store itself (and whatever the drivers need
    /// running) must run in the same group, before these.
    public static func services(store: any Store, drivers: DriverSet, configuration: Configuration, logger: Logger) -> [any Service] {
        [
            ConductorHeartbeat(store: store, host: configuration.host, interval: configuration.reportInterval, logger: logger),
            OperationRunner(store: store, drivers: drivers, configuration: configuration.runner, notifier: configuration.notifier, logger: logger),
            ClusterMonitor(store: store, drivers: drivers, interval: configuration.monitorInterval, logger: logger),
            ClusterEventRetention(store: store, days: configuration.eventRetentionDays, logger: logger),
        ]
    }

    /// Runs a conductor process until SIGTERM or SIGINT: one `ServiceGroup` of the store, then
    /// `extraServices` (what the drivers need running, e.g. their clients' connection pools),
    /// then the heartbeat and the runner; the store is closed afterwards.
    public static func run(store: SQLStore, drivers: DriverSet, extraServices: [any Service] = [],
                           configuration: Configuration, logger: Logger) async throws {
        let services: [any Service] = [store] + extraServices
            + Self.services(store: store, drivers: drivers, configuration: configuration, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        logger.info("magnum conductor running", metadata: [
            "host": .string(configuration.host ?? "-"), "owner": .string(configuration.runner.owner),
        ])
        let outcome: Result<Void, any Error>
        do { outcome = .success(try await group.run()) } catch { outcome = .failure(error) }
        try? await store.shutdown()
        try outcome.get()
    }
}
