import Foundation
import Logging
import MagnumCore
import MagnumDrivers
import MagnumStore
import ServiceLifecycle

/// The conductor's operation runner: leases the operations the API recorded, runs each through
/// the cluster's driver and writes the outcome into the cluster and nodegroup rows.
///
/// - Leases: an operation is leased for `leaseDuration` and renewed by a child task while it
///   runs; a runner that dies leaves a lease that expires, and another runner takes the
///   operation over and runs its (idempotent) step again.
/// - Level-triggered: after the step, the runner calls the driver's `observe` every
///   `observeInterval` and writes each change of status the moment it sees it, until the
///   cluster settles; the settled observation decides success or failure (contract §8.2).
/// - Failures: a `MagnumError(.unavailable, …)` is transient — the operation goes back to
///   pending with exponential backoff until `maxAttempts`; any other error fails it, setting
///   the `*_FAILED` status of the operation's kind with the message as `status_reason`.
/// - Events: the lease, the driver's acceptance of the step, every status change, retries and
///   the outcome are appended to the cluster's events in the transactions that write them
///   (`OperationEvents`); CADF notifications go to the `notifier` after those commit.
/// - Only operations of clusters whose template one of `drivers` runs are leased; with no
///   driver at all the runner leases nothing and just waits for shutdown.
public struct OperationRunner: Service {
    /// Tunables of a runner.
    public struct Configuration: Sendable {
        /// This runner's lease owner name; unique per process.
        public var owner: String
        /// How long a lease lasts without renewal (renewed every third of it).
        public var leaseDuration: Duration
        /// How long the runner waits before looking again when it found nothing to do.
        public var idlePollInterval: Duration
        /// How often a running operation's cluster is observed until it settles.
        public var observeInterval: Duration
        /// How many operations run at once.
        public var maxConcurrentOperations: Int
        /// How many leases a transiently failing operation gets before it fails for good.
        public var maxAttempts: Int
        /// The first retry delay; doubled per attempt.
        public var baseBackoff: Duration
        /// The longest retry delay.
        public var maxBackoff: Duration

        /// Creates a configuration.
        public init(
            owner: String = OperationRunner.defaultOwner(), leaseDuration: Duration = .seconds(30),
            idlePollInterval: Duration = .milliseconds(200), observeInterval: Duration = .milliseconds(500),
            maxConcurrentOperations: Int = 16, maxAttempts: Int = 12, baseBackoff: Duration = .seconds(2),
            maxBackoff: Duration = .seconds(300)
        ) {
            self.owner = owner
            self.leaseDuration = leaseDuration
            self.idlePollInterval = idlePollInterval
            self.observeInterval = observeInterval
            self.maxConcurrentOperations = max(1, maxConcurrentOperations)
            self.maxAttempts = max(1, maxAttempts)
            self.baseBackoff = baseBackoff
            self.maxBackoff = maxBackoff
        }
    }

    let store: any Store
    let drivers: DriverSet
    let configuration: Configuration
    /// Where CADF notifications go; nil emits none.
    let notifier: ClusterNotifier?
    let logger: Logger
    /// The wall clock deadlines (`create_timeout`) are measured on; tests move it.
    var clock: @Sendable () -> Date = { Date() }

    /// Creates a runner of `drivers`' operations.
    public init(store: any Store, drivers: DriverSet, configuration: Configuration = Configuration(),
                notifier: ClusterNotifier? = nil, logger: Logger)
    {
        self.store = store
        self.drivers = drivers
        self.configuration = configuration
        self.notifier = notifier
        self.logger = logger
    }

    /// A lease owner name unique to this process: host, process id and a random suffix.
    public static func defaultOwner() -> String {
        let suffix = UUID().uuidString.lowercased().prefix(8)
        return "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)/\(suffix)"
    }

    /// Leases and runs operations until graceful shutdown or cancellation. Operations still
    /// running then keep their lease until it expires, and are taken over by another runner.
    public func run() async throws {
        guard !drivers.drivers.isEmpty else {
            logger.info("operation runner idle: no driver implementations installed")
            try? await gracefulShutdown()
            return
        }
        logger.info("operation runner started", metadata: [
            "owner": .string(configuration.owner), "drivers": .string(drivers.drivers.keys.sorted().joined(separator: ",")),
        ])
        await cancelWhenGracefulShutdown {
            let slots = Slots(limit: configuration.maxConcurrentOperations)
            await withDiscardingTaskGroup { group in
                while !Task.isCancelled {
                    guard await slots.take() else {
                        try? await Task.sleep(for: configuration.idlePollInterval)
                        continue
                    }
                    guard let operation = await leaseNext() else {
                        await slots.give()
                        do { try await Task.sleep(for: configuration.idlePollInterval) } catch { break }
                        continue
                    }
                    group.addTask {
                        await execute(operation)
                        await slots.give()
                    }
                }
            }
        }
    }

    /// Leases the next runnable operation, or nil (also when the store failed, which is logged).
    func leaseNext() async -> ClusterOperation? {
        let owner = configuration.owner
        let lease = configuration.leaseDuration
        let descriptors = drivers.descriptors
        do {
            return try await store.write { session in
                let now = Date()
                guard let leased = try await session.leaseOperation(owner: owner, until: now + lease.timeInterval, now: now, drivers: descriptors) else {
                    return nil
                }
                try await OperationEvents.append(.operationStarted, of: leased, detail: [
                    "attempt": .int(leased.attempts), "conductor": .string(owner),
                ], session)
                return leased
            }
        } catch {
            logger.warning("leasing an operation failed", metadata: ["error": .string(String(describing: error))])
            return nil
        }
    }

    // MARK: - Running one operation

    /// `logger` with the operation's `cluster_id` and `operation_id` metadata.
    static func logger(_ logger: Logger, for operation: ClusterOperation) -> Logger {
        var log = logger
        log[metadataKey: "cluster_id"] = .string(operation.resourceUUID)
        log[metadataKey: "operation_id"] = .string(operation.uuid)
        return log
    }

    /// Thrown when this runner no longer holds an operation's lease.
    struct LeaseLost: Error {}

    /// Runs one leased operation to its end (or hands it back for a retry); never throws.
    func execute(_ operation: ClusterOperation) async {
        let log = Self.logger(logger, for: operation)
        log.info("operation leased", metadata: ["kind": .string(operation.kind.rawValue), "attempt": .stringConvertible(operation.attempts)])
        do {
            try await whileLeased(operation, log) {
                try await perform(operation, log)
            }
        } catch is LeaseLost {
            log.warning("operation lease lost; another runner takes over")
        } catch {
            if error is CancellationError || Task.isCancelled {
                log.info("operation interrupted; its lease expires and another runner takes over")
                return
            }
            await fail(operation, error, log)
        }
    }

    /// Runs `body` while a child task renews the lease every third of its duration; when a
    /// renewal finds the lease lost, `body` is cancelled and `LeaseLost` thrown.
    func whileLeased(_ operation: ClusterOperation, _ log: Logger, _ body: @escaping @Sendable () async throws -> Void) async throws {
        let owner = configuration.owner
        let lease = configuration.leaseDuration
        let store = self.store
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await body()
                return true
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: lease / 3)
                    do {
                        let held = try await store.write { session in
                            try await session.renewLease(operationUUID: operation.uuid, owner: owner, until: Date() + lease.timeInterval)
                        }
                        if !held { throw LeaseLost() }
                    } catch let error as LeaseLost {
                        throw error
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        log.warning("lease renewal failed; retrying", metadata: ["error": .string(String(describing: error))])
                    }
                }
            }
            defer { group.cancelAll() }
            _ = try await group.next()
        }
    }

    /// The operation's step and the observation until the cluster settles, then the outcome.
    func perform(_ operation: ClusterOperation, _ log: Logger) async throws {
        guard let spec = try await loadSpec(operation, forStep: true) else {
            // The cluster is gone: a delete is done, anything else has nothing left to act on.
            let state: ClusterOperation.State = operation.kind == .clusterDelete ? .succeeded : .failed
            try await finish(operation, state: state, error: state == .failed ? "Cluster \(operation.resourceUUID) could not be found." : nil) { _ in [] }
            return
        }
        guard let driver = drivers.driver(for: spec.template) else {
            throw MagnumError(.notSupported, "Cluster driver (\(spec.template.driver ?? spec.template.coe)) not supported.")
        }
        try driver.descriptor.require(DriverCapability(operation.kind))
        let context = DriverContext(operationID: operation.uuid, requestID: operation.requestID,
                                    projectID: operation.projectID, userID: operation.userID,
                                    parameters: operation.parameters, state: StoredDriverState(store: store), logger: log)
        await notify(.pending, operation, snapshot: (spec.cluster, spec.nodegroups), log)
        try await step(driver, operation, spec, context)
        log.debug("operation step accepted by driver", metadata: ["driver": .string(driver.name)])
        try await store.write { session in
            try await OperationEvents.append(.operationStep, of: operation, detail: ["driver": .string(driver.name)], session)
        }

        // Level-triggered: observe until settled, writing each change at once.
        let deadline = Self.deadline(of: operation, spec)
        var observation = try await driver.observe(spec, context: context)
        while !observation.isSettled {
            if let deadline, clock() >= deadline {
                throw MagnumError(.internal, "Cluster creation did not complete within \(spec.cluster.createTimeout ?? 0) minutes (create_timeout).")
            }
            guard try await record(observation, of: operation, spec) else {
                // The user deleted the cluster meanwhile: stop waiting for this operation and
                // let the delete (next in the cluster's queue) tear down whatever exists.
                try await finish(operation, state: .failed, error: Self.superseded) { _ in [] }
                log.info("operation superseded by a delete request")
                return
            }
            try await Task.sleep(for: configuration.observeInterval)
            observation = try await driver.observe(try await loadSpec(operation) ?? spec, context: context)
        }
        try await settle(operation, observation, spec, log)
    }

    /// The error of an operation a later delete request made moot.
    public static let superseded = "Superseded by a request to delete the cluster."

    /// When a create must have settled: `create_timeout` minutes after it was accepted (0 or
    /// none: no limit).
    static func deadline(of operation: ClusterOperation, _ spec: ClusterSpec) -> Date? {
        guard operation.kind == .clusterCreate, let created = operation.createdAt else { return nil }
        let minutes = operation.parameters["create_timeout"]?.intValue ?? spec.cluster.createTimeout ?? 0
        return minutes > 0 ? created + TimeInterval(minutes * 60) : nil
    }

    /// Calls the driver's step for the operation's kind.
    func step(_ driver: any ClusterDriver, _ operation: ClusterOperation, _ spec: ClusterSpec, _ context: DriverContext) async throws {
        let p = operation.parameters
        func targetNodegroup() throws -> NodeGroup {
            guard let uuid = operation.nodegroupUUID, let ng = spec.nodegroup(uuid) else {
                throw MagnumError(.notFound, "Nodegroup \(operation.nodegroupUUID ?? "-") could not be found.")
            }
            return ng
        }
        switch operation.kind {
        case .clusterCreate:
            try await driver.createCluster(spec, timeoutMinutes: p["create_timeout"]?.intValue ?? spec.cluster.createTimeout, context: context)
        case .clusterUpdate:
            let ng = try targetNodegroup()
            try await driver.updateCluster(spec, nodegroup: ng, nodeCount: p["node_count"]?.intValue ?? ng.nodeCount,
                                           rollback: p["rollback"]?.boolValue ?? false, context: context)
        case .clusterResize:
            let ng = try targetNodegroup()
            let remove = p["nodes_to_remove"]?.arrayValue?.compactMap(\.stringValue) ?? []
            try await driver.resizeCluster(spec, nodegroup: ng, nodeCount: p["node_count"]?.intValue ?? ng.nodeCount,
                                           nodesToRemove: remove, context: context)
        case .clusterUpgrade:
            let ng = try targetNodegroup()
            let uuid = p["cluster_template"]?.stringValue ?? spec.template.uuid
            guard let template = try await store.read({ try await $0.clusterTemplates(matching: .uuid(uuid), .everything) }).first else {
                throw MagnumError(.notFound, "ClusterTemplate \(uuid) could not be found.")
            }
            try await driver.upgradeCluster(spec, template: template, nodegroup: ng,
                                            maxBatchSize: p["max_batch_size"]?.intValue ?? 1, context: context)
        case .clusterDelete:
            try await driver.deleteCluster(spec, context: context)
        case .nodegroupCreate:
            try await driver.createNodegroup(spec, nodegroup: try targetNodegroup(), context: context)
        case .nodegroupUpdate:
            try await driver.updateNodegroup(spec, nodegroup: try targetNodegroup(), context: context)
        case .nodegroupDelete:
            try await driver.deleteNodegroup(spec, nodegroup: try targetNodegroup(), context: context)
        case .caRotate:
            try await driver.rotateCA(spec, context: context)
        case .credentialRotate:
            try await driver.rotateCredential(spec, context: context)
        case .clusterHeal:
            try await driver.healCluster(spec, context: context)
        }
    }

    // MARK: - Writing outcomes

    /// The cluster, its template, nodegroups and certificates as recorded (a driver observing a
    /// cluster's health talks to it with them) — for the step (`forStep`) also the catalog's
    /// flavors; nil when the cluster is gone.
    func loadSpec(_ operation: ClusterOperation, forStep: Bool = false) async throws -> ClusterSpec? {
        try await store.read { session in
            guard let cluster = try await session.clusters(matching: .uuid(operation.resourceUUID), .everything).first else { return nil }
            guard let template = try await session.clusterTemplates(matching: .uuid(cluster.clusterTemplateID), .everything).first else {
                throw MagnumError(.notFound, "ClusterTemplate \(cluster.clusterTemplateID) could not be found.")
            }
            let nodegroups = try await session.nodegroups(clusterUUID: cluster.uuid, role: nil, sort: SortOrder())
            return ClusterSpec(cluster: cluster, template: template, nodegroups: nodegroups,
                               certificates: try await session.certificates(clusterUUID: cluster.uuid),
                               flavors: forStep ? try await session.flavors() : [])
        }
    }

    /// Writes an in-progress observation (only what changed), checking the lease is still held;
    /// false, writing nothing, when a delete of the cluster is queued behind the operation.
    func record(_ observation: ClusterObservation, of operation: ClusterOperation, _ spec: ClusterSpec) async throws -> Bool {
        let owner = configuration.owner
        let lease = configuration.leaseDuration
        return try await store.write { session in
            guard try await session.renewLease(operationUUID: operation.uuid, owner: owner, until: Date() + lease.timeInterval) else {
                throw LeaseLost()
            }
            if operation.kind != .clusterDelete,
               try await session.operations(resourceUUID: operation.resourceUUID).contains(where: { $0.kind == .clusterDelete && $0.state == .pending })
            {
                return false
            }
            for event in try await Self.apply(observation, of: operation, session) { _ = try await session.append(event) }
            return true
        }
    }

    /// Writes the settled observation and finishes the operation: succeeded unless the cluster
    /// (or the target nodegroup) settled in a failed state. A settled delete removes the cluster.
    func settle(_ operation: ClusterOperation, _ observation: ClusterObservation, _ spec: ClusterSpec, _ log: Logger) async throws {
        let target = operation.nodegroupUUID.flatMap { observation.nodegroups[$0] }
        let failed = observation.status.isFailed || (target?.status.isFailed ?? false)
            || (operation.kind == .clusterDelete && observation.status != .deleteComplete)
        let reason = failed ? (target?.statusReason ?? observation.statusReason ?? observation.status.rawValue) : nil
        let deleted = operation.kind == .clusterDelete && !failed
        try await finish(operation, state: failed ? .failed : .succeeded, error: reason) { session in
            if deleted {
                // The last status change is recorded before the rows go; the events stay.
                var events: [ClusterEvent] = []
                if let before = try await session.clusters(matching: .uuid(operation.resourceUUID), .everything).first {
                    var after = before
                    after.status = observation.status
                    after.statusReason = observation.statusReason
                    if let e = OperationEvents.statusChange(of: operation, from: before, to: after) { events.append(e) }
                }
                try await session.deleteCluster(uuid: operation.resourceUUID)
                try await session.abandonOperations(resourceUUID: operation.resourceUUID, error: "The cluster was deleted.")
                return events
            }
            let events = try await Self.apply(observation, of: operation, session)
            if operation.kind == .nodegroupDelete, !failed, let uuid = operation.nodegroupUUID {
                try await session.deleteNodegroup(uuid: uuid)
            }
            return events
        }
        log.info("operation finished", metadata: ["state": .string(failed ? "failed" : "succeeded"), "status": .string(observation.status.rawValue)])
        if failed {
            await notify(.failure, operation, log)
        } else if observation.status.rawValue.hasSuffix("_COMPLETE") {
            // A deleted cluster is reported as it was last seen.
            var gone = spec.cluster
            gone.status = observation.status
            gone.statusReason = observation.statusReason
            let snapshot: (cluster: Cluster, nodegroups: [NodeGroup])? = deleted ? (gone, spec.nodegroups) : nil
            await notify(.success, operation, snapshot: snapshot, log)
        }
    }

    /// Completes the operation and runs `body` in the same transaction, appending the events
    /// `body` returns and the operation's outcome event; throws `LeaseLost` (rolling `body`
    /// back) when this runner no longer holds the lease.
    func finish(_ operation: ClusterOperation, state: ClusterOperation.State, error: String?,
                _ body: @escaping @Sendable (any StoreSession) async throws -> [ClusterEvent]) async throws {
        let owner = configuration.owner
        try await store.write { session in
            guard try await session.completeOperation(uuid: operation.uuid, owner: owner, state: state, error: error) else {
                throw LeaseLost()
            }
            let events = try await body(session)
            for event in events { _ = try await session.append(event) }
            let current = try await session.clusters(matching: .uuid(operation.resourceUUID), .everything).first
            var outcome = OperationEvents.event(state == .succeeded ? .operationSucceeded : .operationFailed, of: operation,
                                                cluster: current, detail: OperationEvents.error(error))
            if current == nil, let last = events.last(where: { $0.kind == .statusChanged }) {
                // The cluster was deleted in this transaction: its last status stands.
                (outcome.projectID, outcome.status, outcome.statusReason) = (last.projectID, last.status, last.statusReason)
            }
            _ = try await session.append(outcome)
        }
    }

    /// Writes an observation into the cluster row and the observed nodegroups, each only when
    /// something changed; returns the status changes to record.
    static func apply(_ observation: ClusterObservation, of operation: ClusterOperation, _ session: any StoreSession) async throws -> [ClusterEvent] {
        let clusterUUID = operation.resourceUUID
        guard var cluster = try await session.clusters(matching: .uuid(clusterUUID), .everything).first else { return [] }
        var events: [ClusterEvent] = []
        let before = cluster
        // A delete accepted meanwhile owns the status until its own operation runs.
        if cluster.status != .deleteInProgress || observation.status.rawValue.hasPrefix("DELETE") {
            cluster.status = observation.status
            cluster.statusReason = observation.statusReason
        }
        observation.applyDetails(to: &cluster)
        if cluster != before { _ = try await session.update(cluster) }
        if let e = OperationEvents.statusChange(of: operation, from: before, to: cluster) { events.append(e) }
        for var ng in try await session.nodegroups(clusterUUID: clusterUUID, role: nil, sort: SortOrder()) {
            guard let seen = observation.nodegroups[ng.uuid] else { continue }
            let previous = ng
            ng.status = seen.status
            ng.statusReason = seen.statusReason
            ng.nodeAddresses = seen.nodeAddresses
            if let v = seen.stackID ?? cluster.stackID { ng.stackID = v }
            if let v = seen.version { ng.version = v }
            if ng != previous { _ = try await session.update(ng) }
            if let e = OperationEvents.statusChange(of: operation, cluster: cluster, nodegroup: previous, to: ng) { events.append(e) }
        }
        return events
    }

    /// Handles a failed step or observation: transient failures go back to pending with
    /// backoff (until `maxAttempts`); others set the kind's failed status (contract §5.3).
    func fail(_ operation: ClusterOperation, _ error: any Error, _ log: Logger) async {
        let magnum = error as? MagnumError
        let message = magnum?.message ?? String(describing: error)
        let owner = configuration.owner
        do {
            if magnum?.code == .unavailable, operation.attempts < configuration.maxAttempts {
                let delay = backoff(attempt: operation.attempts)
                log.warning("operation failed transiently; retrying", metadata: [
                    "error": .string(message), "attempt": .stringConvertible(operation.attempts), "retry_in": .string("\(delay)"),
                ])
                let notBefore = Date() + delay.timeInterval
                let reason = "\(message)\(message.hasSuffix(".") ? "" : ".") Retrying in \(delay) (attempt \(operation.attempts) of \(configuration.maxAttempts))."
                _ = try await store.write { session in
                    guard try await session.retryOperation(uuid: operation.uuid, owner: owner, notBefore: notBefore, error: message) else {
                        return false
                    }
                    if let change = try await Self.recordRetry(operation, reason: reason, session) { _ = try await session.append(change) }
                    try await OperationEvents.append(.operationRetry, of: operation, detail: [
                        "attempt": .int(operation.attempts), "error": .string(message),
                        "retry_in_seconds": .double(delay.timeInterval),
                    ], session)
                    return true
                }
                return
            }
            log.error("operation failed", metadata: ["error": .string(message)])
            try await finish(operation, state: .failed, error: message) { session in
                try await Self.recordFailure(operation, reason: message, session)
            }
            await notify(.failure, operation, log)
        } catch {
            log.error("recording the operation's failure failed; its lease expires and it is retried",
                      metadata: ["error": .string(String(describing: error))])
        }
    }

    /// Shows why an operation waits for its next attempt in its cluster's `status_reason` (the
    /// status stays `*_IN_PROGRESS`: the work is not failed, a service it needs is away); the
    /// next observation or outcome replaces it. Returns the status change to record.
    static func recordRetry(_ operation: ClusterOperation, reason: String, _ session: any StoreSession) async throws -> ClusterEvent? {
        guard var cluster = try await session.clusters(matching: .uuid(operation.resourceUUID), .everything).first,
              cluster.status?.rawValue.hasSuffix("_IN_PROGRESS") == true else { return nil }
        let before = cluster
        cluster.statusReason = reason
        _ = try await session.update(cluster)
        return OperationEvents.statusChange(of: operation, from: before, to: cluster)
    }

    /// The retry delay after `attempt` leases: `baseBackoff · 2^(attempt-1)`, at most `maxBackoff`.
    func backoff(attempt: Int) -> Duration {
        let factor = 1 << min(max(attempt - 1, 0), 20)
        return min(configuration.baseBackoff * factor, configuration.maxBackoff)
    }

    /// Sets the failed statuses of an operation's kind and restores node counts the API
    /// already recorded (contract §5.3, §8.2); returns the status changes to record.
    static func recordFailure(_ operation: ClusterOperation, reason: String, _ session: any StoreSession) async throws -> [ClusterEvent] {
        guard var cluster = try await session.clusters(matching: .uuid(operation.resourceUUID), .everything).first else { return [] }
        let before = cluster
        let nodegroups = try await session.nodegroups(clusterUUID: cluster.uuid, role: nil, sort: SortOrder())
        // A delete accepted meanwhile keeps the cluster DELETE_IN_PROGRESS; a failed repair
        // leaves the status alone (the health says what is wrong).
        if (cluster.status != .deleteInProgress || operation.kind == .clusterDelete) && operation.kind != .clusterHeal {
            switch operation.kind {
            case .clusterCreate: cluster.status = .createFailed
            case .clusterDelete: cluster.status = .deleteFailed
            default: cluster.status = .updateFailed
            }
            cluster.statusReason = reason
            _ = try await session.update(cluster)
        }
        var events = [OperationEvents.statusChange(of: operation, from: before, to: cluster)].compactMap { $0 }
        for var ng in nodegroups {
            let previous = ng
            if operation.kind == .clusterCreate, ng.status == .createInProgress {
                ng.status = .createFailed
                ng.statusReason = reason
            }
            if ng.uuid == operation.nodegroupUUID {
                switch operation.kind {
                case .nodegroupCreate: ng.status = .createFailed
                case .nodegroupDelete: ng.status = .deleteFailed
                case .clusterUpdate: break
                default: ng.status = .updateFailed
                }
                if operation.kind != .clusterUpdate { ng.statusReason = reason }
                if let count = operation.parameters["previous_node_count"]?.intValue,
                   [.clusterUpdate, .clusterResize].contains(operation.kind)
                {
                    ng.nodeCount = count
                }
            }
            if ng != previous { _ = try await session.update(ng) }
            if let e = OperationEvents.statusChange(of: operation, cluster: cluster, nodegroup: previous, to: ng) { events.append(e) }
        }
        return events
    }
}

/// The runner's free concurrency slots.
actor Slots {
    private var free: Int

    init(limit: Int) { free = limit }

    /// Takes a slot; false when none is free.
    func take() -> Bool {
        guard free > 0 else { return false }
        free -= 1
        return true
    }

    /// Returns a slot.
    func give() { free += 1 }
}

extension Duration {
    /// The duration in seconds, for `Date` arithmetic.
    var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
