import Foundation
import Logging
import MagnumCore
import MagnumStore
import ServiceLifecycle

/// Deletes cluster events older than the retention period, at start and then every
/// `interval`, until graceful shutdown. Events outlive their cluster so that a user can still
/// see why and when it went away; this bounds how long.
public struct ClusterEventRetention: Service {
    let store: any Store
    let retention: Duration
    let interval: Duration
    let logger: Logger

    /// Keeps `days` days of events (at least one), purging every `interval`.
    public init(store: any Store, days: Int = 14, interval: Duration = .seconds(3600), logger: Logger) {
        self.store = store
        self.retention = .seconds(max(1, days) * 86_400)
        self.interval = interval
        self.logger = logger
    }

    /// Purges until graceful shutdown or cancellation; a failed purge is logged and retried
    /// at the next interval.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await purge()
                do { try await Task.sleep(for: interval) } catch { break }
            }
        }
    }

    /// Deletes the events created before now minus the retention period; returns how many.
    @discardableResult
    public func purge(now: Date = Date()) async -> Int {
        let cutoff = now - retention.timeInterval
        do {
            let purged = try await store.write { try await $0.purgeEvents(before: cutoff) }
            if purged > 0 { logger.info("cluster events purged", metadata: ["count": .stringConvertible(purged)]) }
            return purged
        } catch {
            logger.warning("purging cluster events failed", metadata: ["error": .string(String(describing: error))])
            return 0
        }
    }
}
