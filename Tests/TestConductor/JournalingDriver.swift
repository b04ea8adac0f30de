import Foundation
import Logging
import MagnumCore
import MagnumDrivers
import PostgresNIO

/// The infrastructure the journaling driver "builds": rows of `test_infrastructure` in the
/// conductor's own PostgreSQL database, and the journal of every step in `test_journal`.
///
/// Each step is one SQL statement that changes the infrastructure (or finds nothing to change)
/// and appends its journal row atomically, so a SIGKILL lands either before or after both.
struct Infrastructure: Sendable {
    /// The tables; created by the first fixture process (under an advisory lock).
    static let schema: [PostgresQuery] = [
        """
        CREATE TABLE IF NOT EXISTS test_infrastructure (
            cluster_uuid text PRIMARY KEY, node_count integer NOT NULL, generation integer NOT NULL,
            phase text NOT NULL, ready_at timestamptz NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS test_journal (
            id bigserial PRIMARY KEY, operation_uuid text NOT NULL, cluster_uuid text NOT NULL, step text NOT NULL,
            pid integer NOT NULL, changed boolean NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())
        """,
    ]

    let client: PostgresClient
    let logger: Logger
    let pid = Int(ProcessInfo.processInfo.processIdentifier)

    /// Creates the tables once per database, whichever fixture process comes first, through a
    /// short-lived client of its own (the driver's client runs in the conductor's service group).
    static func prepare(_ configuration: PostgresClient.Configuration, logger: Logger) async throws {
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(7007007)", logger: logger)
                for statement in Self.schema { try await connection.query(statement, logger: logger) }
            }
        }
    }

    /// Create = insert if absent; `changed` when this call inserted.
    func create(cluster: String, nodeCount: Int, settleMilliseconds: Int, operation: String) async throws -> Bool {
        try await journaled("""
            WITH change AS (
                INSERT INTO test_infrastructure (cluster_uuid, node_count, generation, phase, ready_at)
                VALUES (\(cluster), \(nodeCount), 1, 'create', clock_timestamp() + \(settleMilliseconds)::float8 * interval '1 millisecond')
                ON CONFLICT (cluster_uuid) DO NOTHING RETURNING true AS changed)
            INSERT INTO test_journal (operation_uuid, cluster_uuid, step, pid, changed)
            SELECT \(operation), \(cluster), 'create', \(pid), COALESCE((SELECT changed FROM change), false)
            RETURNING changed
            """)
    }

    /// Resize / update = set the count; `changed` when the count was different. The row is
    /// locked first, so a concurrent re-run sees this run's count.
    func setCount(cluster: String, nodeCount: Int, step: String, settleMilliseconds: Int, operation: String) async throws -> Bool {
        try await journaled("""
            WITH old AS (SELECT node_count FROM test_infrastructure WHERE cluster_uuid = \(cluster) FOR UPDATE),
            change AS (
                UPDATE test_infrastructure t SET node_count = \(nodeCount), phase = 'update',
                    generation = t.generation + CASE WHEN old.node_count <> \(nodeCount) THEN 1 ELSE 0 END,
                    ready_at = CASE WHEN old.node_count <> \(nodeCount)
                        THEN clock_timestamp() + \(settleMilliseconds)::float8 * interval '1 millisecond' ELSE t.ready_at END
                FROM old WHERE t.cluster_uuid = \(cluster) RETURNING old.node_count <> \(nodeCount) AS changed)
            INSERT INTO test_journal (operation_uuid, cluster_uuid, step, pid, changed)
            SELECT \(operation), \(cluster), \(step), \(pid), COALESCE((SELECT changed FROM change), false)
            RETURNING changed
            """)
    }

    /// Delete = delete if present; `changed` when this call deleted.
    func delete(cluster: String, operation: String) async throws -> Bool {
        try await journaled("""
            WITH change AS (DELETE FROM test_infrastructure WHERE cluster_uuid = \(cluster) RETURNING true AS changed)
            INSERT INTO test_journal (operation_uuid, cluster_uuid, step, pid, changed)
            SELECT \(operation), \(cluster), 'delete', \(pid), COALESCE((SELECT changed FROM change), false)
            RETURNING changed
            """)
    }

    /// The cluster's infrastructure: node count, phase and whether its last change settled.
    func look(cluster: String) async throws -> (nodeCount: Int, phase: String, ready: Bool)? {
        try await Self.transient {
            let rows = try await client.query(
                "SELECT node_count, phase, ready_at <= clock_timestamp() FROM test_infrastructure WHERE cluster_uuid = \(cluster)",
                logger: logger)
            for try await (count, phase, ready) in rows.decode((Int, String, Bool).self) { return (count, phase, ready) }
            return nil
        }
    }

    private func journaled(_ query: PostgresQuery) async throws -> Bool {
        try await Self.transient {
            let rows = try await client.query(query, logger: logger)
            for try await changed in rows.decode(Bool.self) { return changed }
            return false
        }
    }

    /// Database errors of the infrastructure are transient for the conductor (it retries the step).
    static func transient<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as MagnumError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw MagnumError(.unavailable, "test infrastructure unreachable: \(String(reflecting: error))")
        }
    }
}

/// A random duration in a millisecond range such as `20-300`.
struct Delay: Sendable {
    var low: Int
    var high: Int

    /// Parses `LOW-HIGH` (or a single number); `fallback` when absent or malformed.
    init(_ text: String?, fallback: ClosedRange<Int>) {
        let parts = (text ?? "").split(separator: "-").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let range = parts.count == 2 && parts[0] <= parts[1] ? parts[0]...parts[1] : parts.count == 1 ? parts[0]...parts[0] : fallback
        low = max(0, range.lowerBound)
        high = max(low, range.upperBound)
    }

    /// One random value, in milliseconds.
    func milliseconds() -> Int { Int.random(in: low...high) }

    /// Sleeps a random share of the range.
    func sleep() async throws { try await Task.sleep(for: .milliseconds(milliseconds())) }
}

/// A test-only `ClusterDriver` whose infrastructure is `Infrastructure`'s table: steps are
/// idempotent the way real drivers must be (create = insert if absent, resize = set the count,
/// delete = delete if present) and take a random time before and after their change, so a
/// SIGKILL lands anywhere; `observe` reports in-progress until the change's random settle time
/// passed, then the settled status read from the table (no row: `DELETE_COMPLETE`).
struct JournalingDriver: ClusterDriver {
    /// The name templates of the crash tests carry in `driver`.
    static let driverName = "journal"

    let infrastructure: Infrastructure
    /// How long a step takes, split before and after its change.
    let stepDelay: Delay
    /// How long an observation takes.
    let observeDelay: Delay
    /// How long a change stays in progress after its step.
    let settleDelay: Delay

    var name: String { Self.driverName }
    var provides: [DriverDescriptor.Provision] { [.init(serverType: "vm", os: "journal-os", coe: "kubernetes")] }
    var capabilities: Set<DriverCapability> { [.create, .update, .resize, .delete] }

    private func step<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        let total = stepDelay.milliseconds()
        let before = Int.random(in: 0...total)
        try await Task.sleep(for: .milliseconds(before))
        let result = try await body()
        try await Task.sleep(for: .milliseconds(total - before))
        return result
    }

    func createCluster(_ spec: ClusterSpec, timeoutMinutes: Int?, context: DriverContext) async throws {
        let workers = spec.nodegroups.first { $0.isDefault && !$0.isMaster }?.nodeCount ?? 1
        let changed = try await step {
            try await infrastructure.create(cluster: spec.cluster.uuid, nodeCount: workers,
                                            settleMilliseconds: settleDelay.milliseconds(), operation: context.operationID)
        }
        context.logger.info("journal: create", metadata: ["changed": .stringConvertible(changed)])
    }

    func updateCluster(_ spec: ClusterSpec, nodegroup: NodeGroup, nodeCount: Int, rollback: Bool, context: DriverContext) async throws {
        try await setCount(spec, nodeCount, step: "update", context)
    }

    func resizeCluster(_ spec: ClusterSpec, nodegroup: NodeGroup, nodeCount: Int, nodesToRemove: [String], context: DriverContext) async throws {
        try await setCount(spec, nodeCount, step: "resize", context)
    }

    private func setCount(_ spec: ClusterSpec, _ nodeCount: Int, step name: String, _ context: DriverContext) async throws {
        let changed = try await step {
            try await infrastructure.setCount(cluster: spec.cluster.uuid, nodeCount: nodeCount, step: name,
                                              settleMilliseconds: settleDelay.milliseconds(), operation: context.operationID)
        }
        context.logger.info("journal: \(name)", metadata: ["changed": .stringConvertible(changed), "node_count": .stringConvertible(nodeCount)])
    }

    func deleteCluster(_ spec: ClusterSpec, context: DriverContext) async throws {
        let changed = try await step { try await infrastructure.delete(cluster: spec.cluster.uuid, operation: context.operationID) }
        context.logger.info("journal: delete", metadata: ["changed": .stringConvertible(changed)])
    }

    func createNodegroup(_ spec: ClusterSpec, nodegroup: NodeGroup, context: DriverContext) async throws {
        throw MagnumError(.notSupported, "Creating a nodegroup is not supported by driver \(name).")
    }

    func updateNodegroup(_ spec: ClusterSpec, nodegroup: NodeGroup, context: DriverContext) async throws {
        throw MagnumError(.notSupported, "Updating a nodegroup is not supported by driver \(name).")
    }

    func deleteNodegroup(_ spec: ClusterSpec, nodegroup: NodeGroup, context: DriverContext) async throws {
        throw MagnumError(.notSupported, "Deleting a nodegroup is not supported by driver \(name).")
    }

    func observe(_ spec: ClusterSpec, context: DriverContext) async throws -> ClusterObservation {
        try await observeDelay.sleep()
        guard let seen = try await infrastructure.look(cluster: spec.cluster.uuid) else {
            // No infrastructure: deleted (as a Heat stack that is not found). Steps always run
            // before observations, so a create or resize never observes this.
            return ClusterObservation(status: .deleteComplete, statusReason: "Stack DELETE completed successfully")
        }
        let creating = seen.phase == "create"
        let status: ClusterStatus = seen.ready
            ? (creating ? .createComplete : .updateComplete)
            : (creating ? .createInProgress : .updateInProgress)
        var nodegroups: [String: NodeGroupObservation] = [:]
        for ng in spec.nodegroups {
            let count = ng.isMaster ? ng.nodeCount : seen.nodeCount
            nodegroups[ng.uuid] = NodeGroupObservation(
                status: ng.isMaster && !creating ? (ng.status ?? .createComplete) : status,
                nodeAddresses: (0..<count).map { "10.\(ng.isMaster ? 0 : 1).\($0 / 250).\($0 % 250 + 2)" })
        }
        return ClusterObservation(
            status: status, statusReason: seen.ready ? "Stack \(status.rawValue) completed successfully" : nil,
            stackID: "journal-\(spec.cluster.uuid.prefix(8))", apiAddress: "https://10.0.0.2:6443", coeVersion: "v1.30.0",
            nodegroups: nodegroups)
    }
}
