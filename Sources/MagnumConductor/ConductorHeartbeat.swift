import Foundation
import Logging
import MagnumCore
import MagnumStore
import ServiceLifecycle

/// The conductor's liveness record (contract §8.8): on start and then every `interval` it
/// upserts its `magnum_service` row — keyed by host and `magnum-conductor` — incrementing
/// `report_count` and setting `last_seen_up`, which `GET /v1/mservices` turns into `up`/`down`.
///
/// A failed report (database briefly unreachable) is logged and retried on the next beat; it
/// never stops the conductor.
public struct ConductorHeartbeat: Service {
    /// The binary name conductors report under.
    public static let binary = "magnum-conductor"

    let store: any Store
    let host: String?
    let interval: Duration
    let logger: Logger

    /// Creates the heartbeat for the conductor on `host`.
    public init(store: any Store, host: String?, interval: Duration = .seconds(10), logger: Logger) {
        self.store = store
        self.host = host
        self.interval = interval
        self.logger = logger
    }

    /// Reports once now, then every `interval` until graceful shutdown or cancellation. Until
    /// the first report succeeds (the schema may still be migrating) it retries every half second.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var registered = false
            while !Task.isCancelled {
                if await report() != nil { registered = true }
                do { try await Task.sleep(for: registered ? interval : .milliseconds(500)) } catch { return }
            }
        }
    }

    /// One report; errors are logged, not thrown.
    @discardableResult
    public func report() async -> MService? {
        do {
            return try await store.write { try await $0.reportService(host: host, binary: Self.binary) }
        } catch {
            logger.warning("conductor heartbeat failed", metadata: ["host": .string(host ?? "-"), "error": .string(String(describing: error))])
            return nil
        }
    }
}
