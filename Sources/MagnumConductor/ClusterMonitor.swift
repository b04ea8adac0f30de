import Foundation
import Logging
import MagnumCore
import MagnumDrivers
import MagnumStore
import ServiceLifecycle

/// The conductor's periodic look at settled clusters (contract §8.3, `sync_cluster_health_status`):
/// every `interval` it asks each cluster's driver what it observes and writes health
/// (`health_status`, `health_status_reason`), addresses and versions the moment they differ from
/// what is stored.
///
/// A cluster with an operation pending or running is left to the operation runner, which
/// observes it continuously; the write re-checks that in its transaction, so the monitor never
/// overwrites what an operation just wrote. The monitor never changes `status`: a status only
/// moves through an operation. Observation errors are logged and ignored (upstream does the
/// same), and clusters of drivers this conductor does not run are skipped.
///
/// A cluster labelled `auto_healing_enabled=true` that is observed UNHEALTHY gets a repair
/// operation (`cluster_heal`, at most one a minute), which the runner runs through the driver.
public struct ClusterMonitor: Service {
    let store: any Store
    let drivers: DriverSet
    let interval: Duration
    let logger: Logger

    /// Creates a monitor of the clusters `drivers` run.
    public init(store: any Store, drivers: DriverSet, interval: Duration = .seconds(10), logger: Logger) {
        self.store = store
        self.drivers = drivers
        self.interval = interval
        self.logger = logger
    }

    /// Observes every `interval` until graceful shutdown or cancellation; with no driver it
    /// just waits for shutdown.
    public func run() async throws {
        guard !drivers.drivers.isEmpty else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await sweep()
                do { try await Task.sleep(for: interval) } catch { return }
            }
        }
    }

    /// One pass over the settled clusters; returns how many were updated.
    @discardableResult
    public func sweep() async -> Int {
        let candidates: [ClusterSpec]
        do {
            candidates = try await settledClusters()
        } catch {
            logger.warning("listing clusters to monitor failed", metadata: ["error": .string(String(describing: error))])
            return 0
        }
        var updated = 0
        for spec in candidates {
            guard let driver = drivers.driver(for: spec.template) else { continue }
            var log = logger
            log[metadataKey: "cluster_id"] = .string(spec.cluster.uuid)
            do {
                let context = DriverContext(operationID: "monitor", projectID: spec.cluster.projectID,
                                            state: StoredDriverState(store: store), logger: log)
                let observation = try await driver.observe(spec, context: context)
                if try await write(observation, of: spec.cluster.uuid) {
                    updated += 1
                    log.info("cluster health observed", metadata: ["health_status": .string(observation.health?.rawValue ?? "-")])
                }
                if observation.health == .unhealthy, Self.autoHealing(spec), driver.capabilities.contains(.heal),
                   try await requestRepair(of: spec.cluster.uuid)
                {
                    log.notice("cluster unhealthy with auto_healing_enabled: repair requested",
                               metadata: ["health_status_reason": .string(String(describing: observation.healthReason ?? [:]))])
                }
            } catch {
                log.warning("observing the cluster failed", metadata: ["error": .string(String(describing: error))])
            }
        }
        return updated
    }

    /// Clusters not being deleted and without an unfinished operation, with their templates,
    /// nodegroups and certificates.
    func settledClusters() async throws -> [ClusterSpec] {
        try await store.read { session in
            var specs: [ClusterSpec] = []
            var templates: [String: ClusterTemplate] = [:]
            for cluster in try await session.clusters(.everything, sort: SortOrder()) {
                guard let status = cluster.status?.rawValue, !status.hasPrefix("DELETE"), !status.hasSuffix("_IN_PROGRESS") else { continue }
                if try await Self.hasUnfinishedOperation(cluster.uuid, session) { continue }
                if templates[cluster.clusterTemplateID] == nil {
                    templates[cluster.clusterTemplateID] = try await session.clusterTemplates(matching: .uuid(cluster.clusterTemplateID), .everything).first
                }
                guard let template = templates[cluster.clusterTemplateID] else { continue }
                let nodegroups = try await session.nodegroups(clusterUUID: cluster.uuid, role: nil, sort: SortOrder())
                specs.append(ClusterSpec(cluster: cluster, template: template, nodegroups: nodegroups,
                                         certificates: try await session.certificates(clusterUUID: cluster.uuid)))
            }
            return specs
        }
    }

    /// Whether the cluster asks to be repaired: label `auto_healing_enabled=true` (the cluster's
    /// labels, else its template's).
    static func autoHealing(_ spec: ClusterSpec) -> Bool {
        (spec.cluster.labels["auto_healing_enabled"] ?? spec.template.labels["auto_healing_enabled"])?.lowercased() == "true"
    }

    /// How long after a repair was requested the monitor waits before it requests another.
    static let repairInterval: TimeInterval = 60

    /// Records a repair operation (`cluster_heal`) of a settled cluster that has no unfinished
    /// operation and had no repair requested within `repairInterval`; true when recorded.
    func requestRepair(of clusterUUID: String) async throws -> Bool {
        try await store.write { session in
            guard let cluster = try await session.clusters(matching: .uuid(clusterUUID), .everything).first,
                  let status = cluster.status?.rawValue, !status.hasPrefix("DELETE"), !status.hasSuffix("_IN_PROGRESS")
            else { return false }
            let operations = try await session.operations(resourceUUID: clusterUUID)
            let now = Date()
            guard !operations.contains(where: { $0.state == .pending || $0.state == .running }),
                  !operations.contains(where: { $0.kind == .clusterHeal && now.timeIntervalSince($0.createdAt ?? .distantPast) < Self.repairInterval })
            else { return false }
            var operation = ClusterOperation(uuid: UUID().uuidString.lowercased(), kind: .clusterHeal, resourceUUID: clusterUUID)
            operation.projectID = cluster.projectID
            let saved = try await session.insert(operation)
            _ = try await session.append(.accepted(saved, cluster: cluster))
            return true
        }
    }

    static func hasUnfinishedOperation(_ clusterUUID: String, _ session: any StoreSession) async throws -> Bool {
        try await session.operations(resourceUUID: clusterUUID).contains { $0.state == .pending || $0.state == .running }
    }

    /// Writes health, addresses, versions and the driver's handle when they changed and no operation started
    /// meanwhile; true when something was written.
    func write(_ observation: ClusterObservation, of clusterUUID: String) async throws -> Bool {
        try await store.write { session in
            guard !(try await Self.hasUnfinishedOperation(clusterUUID, session)),
                  var cluster = try await session.clusters(matching: .uuid(clusterUUID), .everything).first
            else { return false }
            let before = cluster
            observation.applyDetails(to: &cluster)
            var changed = false
            if cluster != before {
                _ = try await session.update(cluster)
                changed = true
            }
            for var ng in try await session.nodegroups(clusterUUID: clusterUUID, role: nil, sort: SortOrder()) {
                guard let seen = observation.nodegroups[ng.uuid], seen.nodeAddresses != ng.nodeAddresses else { continue }
                ng.nodeAddresses = seen.nodeAddresses
                _ = try await session.update(ng)
                changed = true
            }
            return changed
        }
    }
}
