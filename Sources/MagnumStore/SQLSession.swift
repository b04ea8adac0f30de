import Foundation
import Logging
import MagnumCore
import SQLKit

/// The `StoreSession` of both dialects: raw SQLKit statements whose binds and identifiers are
/// rendered by the connection's dialect (`?` for SQLite, `$n` for PostgreSQL).
///
/// A session lives only inside the `read`/`write` body it was created for; it must not escape it.
struct SQLSession: StoreSession {
    let db: any SQLDatabase
    let dialect: SQLStoreDialect
    let logger: Logger
    /// True inside a write transaction: on PostgreSQL the cluster rows it reads are locked
    /// (`FOR UPDATE`) until it commits, so the API and conductors that read-modify-write one
    /// cluster (and, after it, its nodegroups) take turns instead of losing each other's updates.
    var writing = false

    // MARK: - Statement helpers

    /// Runs a statement that returns no rows of interest.
    func run(_ query: SQLQueryString, conflict: MagnumError? = nil) async throws {
        do {
            try await db.raw(query).run()
        } catch {
            throw DatabaseErrors.map(error, conflict: conflict, logger: logger)
        }
    }

    /// Runs a statement and returns its rows.
    func all(_ query: SQLQueryString, conflict: MagnumError? = nil) async throws -> [any SQLRow] {
        do {
            return try await db.raw(query).all()
        } catch {
            throw DatabaseErrors.map(error, conflict: conflict, logger: logger)
        }
    }

    /// Runs a statement and returns its first row.
    func first(_ query: SQLQueryString, conflict: MagnumError? = nil) async throws -> (any SQLRow)? {
        try await all(query, conflict: conflict).first
    }

    /// Runs a query and decodes every row.
    func fetch<T>(_ query: SQLQueryString, _ decode: (any SQLRow) throws -> T) async throws -> [T] {
        let rows = try await all(query)
        return try decoded(rows, decode)
    }

    /// Decodes rows, mapping decoding failures to an internal error.
    func decoded<T>(_ rows: [any SQLRow], _ decode: (any SQLRow) throws -> T) throws -> [T] {
        do {
            return try rows.map(decode)
        } catch {
            throw DatabaseErrors.map(error, conflict: nil, logger: logger)
        }
    }

    /// Reads one integer column of the first row.
    func scalar(_ query: SQLQueryString, column: String = "n") async throws -> Int {
        guard let row = try await first(query) else { return 0 }
        return try decoded([row]) { try $0.int(column) }.first ?? 0
    }

    /// The current time as the store records it.
    static func now() -> Date { Date().storeNormalized }

    /// Inserts a row and returns its generated id.
    func insertRow(_ table: String, _ values: RowValues, conflict: MagnumError) async throws -> Int64 {
        let query: SQLQueryString = """
            INSERT INTO \(ident: table) (\(idents: values.names, joinedBy: ", ")) \
            VALUES (\(binds: values.values)) RETURNING \(ident: "id")
            """
        guard let row = try await first(query, conflict: conflict) else {
            throw MagnumError(.internal, DatabaseErrors.internalMessage)
        }
        return try decoded([row]) { try $0.int64("id") }.first ?? 0
    }

    /// Inserts a row of a table without a generated id.
    func insertPlainRow(_ table: String, _ values: RowValues, conflict: MagnumError) async throws {
        try await run(
            "INSERT INTO \(ident: table) (\(idents: values.names, joinedBy: ", ")) VALUES (\(binds: values.values))",
            conflict: conflict)
    }

    /// Updates the row whose `keyColumn` equals `key`; returns its stored `created_at`, or throws
    /// `notFound` when no row matched.
    func updateRow(
        _ table: String, _ values: RowValues, keyColumn: String, key: Bindable, notFound: MagnumError,
        conflict: MagnumError
    ) async throws -> Date? {
        let assignments = zip(values.names, values.values).map { name, value -> SQLQueryString in
            "\(ident: name) = \(bind: value)"
        }
        let query: SQLQueryString = """
            UPDATE \(ident: table) SET \(assignments.joined(separator: ", ")) \
            WHERE \(ident: keyColumn) = \(bind: key) RETURNING \(ident: "created_at")
            """
        guard let row = try await first(query, conflict: conflict) else { throw notFound }
        return try decoded([row]) { try $0.date("created_at") }.first ?? nil
    }

    /// `ORDER BY <key> <dir>, id <dir>`; refuses keys that are not columns of the table.
    /// NULLs sort as the smallest value in both dialects (as in MySQL, upstream's database).
    func orderBy(_ table: StoreTable, _ sort: SortOrder) throws -> SQLQueryString {
        guard sortableColumns(table).contains(sort.key) else {
            throw MagnumError(.invalid, "The sort_key value \"\(sort.key)\" is an invalid field for sorting")
        }
        let direction = sort.ascending ? "ASC" : "DESC"
        let nulls = sort.ascending ? "NULLS FIRST" : "NULLS LAST"
        if sort.key == "id" {
            return "ORDER BY \(ident: "id") \(unsafeRaw: direction)"
        }
        return "ORDER BY \(ident: sort.key) \(unsafeRaw: direction) \(unsafeRaw: nulls), \(ident: "id") \(unsafeRaw: direction)"
    }

    /// The ownership predicate of a visibility scope.
    func visible(_ visibility: Visibility, userColumn: Bool, publicTemplates: Bool = false) -> SQLQueryString {
        if visibility.allProjects { return "1 = 1" }
        let owner: SQLQueryString
        if let project = visibility.projectID {
            owner = "\(ident: "project_id") = \(bind: project)"
        } else if userColumn, let user = visibility.userID {
            owner = "\(ident: "user_id") = \(bind: user)"
        } else {
            owner = "1 = 0"
        }
        if publicTemplates && visibility.includePublicTemplates {
            return "(\(owner) OR (\(ident: "public") AND NOT \(ident: "hidden")))"
        }
        return "(\(owner))"
    }

    /// The predicate selecting rows named by an `Ident`.
    func matches(_ ident: Ident) -> SQLQueryString {
        switch ident {
        case .uuid(let uuid): return "\(ident: "uuid") = \(bind: uuid)"
        case .name(let name): return "\(ident: "name") = \(bind: name)"
        case .id(let id): return "\(ident: "id") = \(bind: id)"
        }
    }

    // MARK: - StoreSession

    func sortableColumns(_ table: StoreTable) -> Set<String> {
        TableColumns.sets[table] ?? []
    }

    // MARK: Cluster templates

    func clusterTemplates(_ visibility: Visibility, sort: SortOrder) async throws -> [ClusterTemplate] {
        try await fetch(
            """
            SELECT * FROM \(ident: "cluster_template") \
            WHERE \(visible(visibility, userColumn: true, publicTemplates: true)) \(try orderBy(.clusterTemplate, sort))
            """, ModelRows.template)
    }

    func clusterTemplates(matching ident: Ident, _ visibility: Visibility) async throws -> [ClusterTemplate] {
        try await fetch(
            """
            SELECT * FROM \(ident: "cluster_template") \
            WHERE \(matches(ident)) AND \(visible(visibility, userColumn: true, publicTemplates: true)) \
            ORDER BY \(ident: "id")
            """, ModelRows.template)
    }

    func insert(_ template: ClusterTemplate) async throws -> ClusterTemplate {
        var t = template
        t.createdAt = Self.now()
        t.updatedAt = nil
        var values = ModelRows.values(t)
        values.set("created_at", t.createdAt)
        values.set("updated_at", t.updatedAt)
        t.id = try await insertRow(
            "cluster_template", values,
            conflict: MagnumError(.conflict, "A ClusterTemplate with UUID \(t.uuid) already exists."))
        return t
    }

    func update(_ template: ClusterTemplate) async throws -> ClusterTemplate {
        var t = template
        t.updatedAt = Self.now()
        var values = ModelRows.values(t)
        values.set("updated_at", t.updatedAt)
        t.createdAt = try await updateRow(
            "cluster_template", values, keyColumn: "uuid", key: t.uuid,
            notFound: .notFound("ClusterTemplate", t.uuid),
            conflict: MagnumError(.conflict, "A ClusterTemplate with UUID \(t.uuid) already exists."))
        return t
    }

    func deleteClusterTemplate(uuid: String) async throws {
        try await run("DELETE FROM \(ident: "cluster_template") WHERE \(ident: "uuid") = \(bind: uuid)")
    }

    func clusterCount(templateUUID: String) async throws -> Int {
        try await scalar(
            "SELECT COUNT(*) AS n FROM \(ident: "cluster") WHERE \(ident: "cluster_template_id") = \(bind: templateUUID)")
    }

    // MARK: Clusters

    func clusters(_ visibility: Visibility, sort: SortOrder) async throws -> [Cluster] {
        try await fetch(
            """
            SELECT * FROM \(ident: "cluster") WHERE \(visible(visibility, userColumn: true)) \
            \(try orderBy(.cluster, sort))
            """, ModelRows.cluster)
    }

    func clusters(matching ident: Ident, _ visibility: Visibility) async throws -> [Cluster] {
        try await fetch(
            """
            SELECT * FROM \(ident: "cluster") WHERE \(matches(ident)) AND \(visible(visibility, userColumn: true)) \
            ORDER BY \(ident: "id") \(unsafeRaw: writing && dialect == .postgres ? "FOR UPDATE" : "")
            """, ModelRows.cluster)
    }

    func insert(_ cluster: Cluster) async throws -> Cluster {
        var c = cluster
        c.createdAt = Self.now()
        c.updatedAt = nil
        var values = ModelRows.values(c)
        values.set("created_at", c.createdAt)
        values.set("updated_at", c.updatedAt)
        c.id = try await insertRow(
            "cluster", values, conflict: MagnumError(.conflict, "A cluster with UUID \(c.uuid) already exists."))
        return c
    }

    func update(_ cluster: Cluster) async throws -> Cluster {
        var c = cluster
        c.updatedAt = Self.now()
        var values = ModelRows.values(c)
        values.set("updated_at", c.updatedAt)
        c.createdAt = try await updateRow(
            "cluster", values, keyColumn: "uuid", key: c.uuid, notFound: .notFound("Cluster", c.uuid),
            conflict: MagnumError(.conflict, "A cluster with UUID \(c.uuid) already exists."))
        return c
    }

    func deleteCluster(uuid: String) async throws {
        try await run("DELETE FROM \(ident: "cluster_certificate") WHERE \(ident: "cluster_uuid") = \(bind: uuid)")
        try await run("DELETE FROM \(ident: "cluster_driver_state") WHERE \(ident: "cluster_uuid") = \(bind: uuid)")
        try await run("DELETE FROM \(ident: "nodegroup") WHERE \(ident: "cluster_id") = \(bind: uuid)")
        try await run("DELETE FROM \(ident: "cluster") WHERE \(ident: "uuid") = \(bind: uuid)")
    }

    func clusterCount(projectID: String) async throws -> Int {
        try await scalar("SELECT COUNT(*) AS n FROM \(ident: "cluster") WHERE \(ident: "project_id") = \(bind: projectID)")
    }

    func lockProject(_ projectID: String) async throws {
        switch dialect {
        case .sqlite:
            // One connection, one writer: the session already excludes every other writer.
            return
        case .postgres:
            try await run("SELECT pg_advisory_xact_lock(hashtext(\(bind: "magnum.project:" + projectID)))")
        }
    }

    // MARK: Nodegroups

    func nodegroups(clusterUUID: String, role: String?, sort: SortOrder) async throws -> [NodeGroup] {
        let roleFilter: SQLQueryString = role.map { "AND \(ident: "role") = \(bind: $0)" } ?? ""
        return try await fetch(
            """
            SELECT * FROM \(ident: "nodegroup") WHERE \(ident: "cluster_id") = \(bind: clusterUUID) \(roleFilter) \
            \(try orderBy(.nodegroup, sort))
            """, ModelRows.nodegroup)
    }

    func nodegroups(clusterUUIDs: [String]) async throws -> [NodeGroup] {
        let unique = Array(Set(clusterUUIDs))
        guard !unique.isEmpty else { return [] }
        var result: [NodeGroup] = []
        // Stay far below either dialect's limit on bound parameters.
        var start = 0
        while start < unique.count {
            let chunk = unique[start..<min(start + 500, unique.count)].map { $0 as Bindable }
            result += try await fetch(
                """
                SELECT * FROM \(ident: "nodegroup") WHERE \(ident: "cluster_id") IN (\(binds: chunk)) \
                ORDER BY \(ident: "id")
                """, ModelRows.nodegroup)
            start += 500
        }
        if unique.count > 500 { result.sort { $0.id < $1.id } }
        return result
    }

    func nodegroups(clusterUUID: String, matching ident: Ident) async throws -> [NodeGroup] {
        try await fetch(
            """
            SELECT * FROM \(ident: "nodegroup") WHERE \(ident: "cluster_id") = \(bind: clusterUUID) \
            AND \(matches(ident)) ORDER BY \(ident: "id")
            """, ModelRows.nodegroup)
    }

    private func nodegroupConflict(_ n: NodeGroup) -> MagnumError {
        MagnumError(.conflict, "A node group with name \(n.name ?? "None") already exists in the cluster \(n.clusterID).")
    }

    func insert(_ nodegroup: NodeGroup) async throws -> NodeGroup {
        var n = nodegroup
        n.createdAt = Self.now()
        n.updatedAt = nil
        var values = ModelRows.values(n)
        values.set("created_at", n.createdAt)
        values.set("updated_at", n.updatedAt)
        n.id = try await insertRow("nodegroup", values, conflict: nodegroupConflict(n))
        return n
    }

    func update(_ nodegroup: NodeGroup) async throws -> NodeGroup {
        var n = nodegroup
        n.updatedAt = Self.now()
        var values = ModelRows.values(n)
        values.set("updated_at", n.updatedAt)
        n.createdAt = try await updateRow(
            "nodegroup", values, keyColumn: "uuid", key: n.uuid, notFound: .notFound("Nodegroup", n.uuid),
            conflict: nodegroupConflict(n))
        return n
    }

    func deleteNodegroup(uuid: String) async throws {
        try await run("DELETE FROM \(ident: "nodegroup") WHERE \(ident: "uuid") = \(bind: uuid)")
    }

    func stats(projectID: String?) async throws -> (clusters: Int, nodes: Int) {
        let scope: SQLQueryString = projectID.map { "WHERE \(ident: "project_id") = \(bind: $0)" } ?? ""
        let clusters = try await scalar("SELECT COUNT(*) AS n FROM \(ident: "cluster") \(scope)")
        let nodes = try await scalar(
            """
            SELECT CAST(COALESCE(SUM(\(ident: "node_count")), 0) AS BIGINT) AS n FROM \(ident: "nodegroup") \
            WHERE \(ident: "cluster_id") IN (SELECT \(ident: "uuid") FROM \(ident: "cluster") \(scope))
            """)
        return (clusters, nodes)
    }

    // MARK: Quotas

    func quotas(projectID: String?, sort: SortOrder) async throws -> [Quota] {
        let scope: SQLQueryString = projectID.map { "WHERE \(ident: "project_id") = \(bind: $0)" } ?? ""
        return try await fetch(
            "SELECT * FROM \(ident: "quotas") \(scope) \(try orderBy(.quotas, sort))", ModelRows.quota)
    }

    func quota(projectID: String, resource: String) async throws -> Quota? {
        try await fetch(
            """
            SELECT * FROM \(ident: "quotas") WHERE \(ident: "project_id") = \(bind: projectID) \
            AND \(ident: "resource") = \(bind: resource)
            """, ModelRows.quota
        ).first
    }

    private func quotaConflict(_ q: Quota) -> MagnumError {
        MagnumError(.conflict, "Quota for project \(q.projectID) already exists for resource \(q.resource).")
    }

    func insert(_ quota: Quota) async throws -> Quota {
        var q = quota
        q.createdAt = Self.now()
        q.updatedAt = nil
        var values = ModelRows.values(q)
        values.set("created_at", q.createdAt)
        values.set("updated_at", q.updatedAt)
        q.id = try await insertRow("quotas", values, conflict: quotaConflict(q))
        return q
    }

    func update(_ quota: Quota) async throws -> Quota {
        var q = quota
        q.updatedAt = Self.now()
        var values = ModelRows.values(q)
        values.set("updated_at", q.updatedAt)
        q.createdAt = try await updateRow(
            "quotas", values, keyColumn: "id", key: q.id,
            notFound: MagnumError(.notFound, "Quota \(q.projectID)/\(q.resource) could not be found."),
            conflict: quotaConflict(q))
        return q
    }

    func deleteQuota(id: Int64) async throws {
        try await run("DELETE FROM \(ident: "quotas") WHERE \(ident: "id") = \(bind: id)")
    }

    // MARK: Cluster certificates

    func certificates(clusterUUID: String) async throws -> [ClusterCertificate] {
        try await fetch(
            "SELECT * FROM \(ident: "cluster_certificate") WHERE \(ident: "cluster_uuid") = \(bind: clusterUUID) ORDER BY \(ident: "kind")"
        ) { row in
            let kindName = try row.string("kind")
            guard let kind = CertificateKind(rawValue: kindName),
                  let sealed = Data(base64Encoded: try row.string("sealed_private_key"))
            else { throw MagnumError(.internal, "Unreadable certificate row \(kindName) of cluster \(clusterUUID)") }
            return ClusterCertificate(clusterUUID: clusterUUID, kind: kind, certificatePEM: try row.string("certificate"),
                                      sealedPrivateKey: [UInt8](sealed))
        }
    }

    func replaceCertificates(clusterUUID: String, with certificates: [ClusterCertificate]) async throws {
        try await run("DELETE FROM \(ident: "cluster_certificate") WHERE \(ident: "cluster_uuid") = \(bind: clusterUUID)")
        let now = Self.now()
        for c in certificates {
            var v = RowValues()
            v.set("cluster_uuid", clusterUUID)
            v.set("kind", c.kind.rawValue)
            v.set("certificate", c.certificatePEM)
            v.set("sealed_private_key", Data(c.sealedPrivateKey).base64EncodedString())
            v.set("created_at", now)
            try await insertPlainRow("cluster_certificate", v,
                                     conflict: MagnumError(.conflict, "Cluster \(clusterUUID) already has a \(c.kind.rawValue) certificate."))
        }
    }

    // MARK: Cluster driver state

    func driverState(clusterUUID: String) async throws -> [String: String] {
        let pairs = try await fetch(
            "SELECT * FROM \(ident: "cluster_driver_state") WHERE \(ident: "cluster_uuid") = \(bind: clusterUUID)"
        ) { row in (try row.string("key"), try row.string("value")) }
        return Dictionary(pairs, uniquingKeysWith: { _, last in last })
    }

    func setDriverState(clusterUUID: String, key: String, value: String?) async throws {
        try await run(
            "DELETE FROM \(ident: "cluster_driver_state") WHERE \(ident: "cluster_uuid") = \(bind: clusterUUID) AND \(ident: "key") = \(bind: key)")
        guard let value else { return }
        var v = RowValues()
        v.set("cluster_uuid", clusterUUID)
        v.set("key", key)
        v.set("value", value)
        v.set("updated_at", Self.now())
        try await insertPlainRow("cluster_driver_state", v,
                                 conflict: MagnumError(.conflict, "Cluster \(clusterUUID) already has driver state \(key)."))
    }

    // MARK: Services

    func services() async throws -> [MService] {
        try await fetch("SELECT * FROM \(ident: "magnum_service") ORDER BY \(ident: "id")", ModelRows.service)
    }

    func reportService(host: String?, binary: String) async throws -> MService {
        let key: SQLQueryString =
            host.map { "\(ident: "host") = \(bind: $0)" } ?? "\(ident: "host") IS NULL"
        let now = Self.now()
        let bump: SQLQueryString = """
            UPDATE \(ident: "magnum_service") SET \(ident: "report_count") = \(ident: "report_count") + 1, \
            \(ident: "last_seen_up") = \(bind: now), \(ident: "updated_at") = \(bind: now) \
            WHERE \(key) AND \(ident: "binary") = \(bind: binary) RETURNING *
            """
        if let row = try await first(bump) {
            return try decoded([row], ModelRows.service)[0]
        }
        var values = RowValues()
        values.set("host", host)
        values.set("binary", binary)
        values.set("disabled", false)
        values.set("disabled_reason", String?.none)
        values.set("last_seen_up", now)
        values.set("forced_down", false)
        values.set("report_count", 1)
        values.set("created_at", now)
        values.set("updated_at", now)
        let insert: SQLQueryString = """
            INSERT INTO \(ident: "magnum_service") (\(idents: values.names, joinedBy: ", ")) \
            VALUES (\(binds: values.values)) ON CONFLICT DO NOTHING RETURNING *
            """
        if let row = try await first(insert) {
            return try decoded([row], ModelRows.service)[0]
        }
        // Another session created the record concurrently; count this report on it.
        if let row = try await first(bump) {
            return try decoded([row], ModelRows.service)[0]
        }
        throw MagnumError(.internal, DatabaseErrors.internalMessage)
    }

    // MARK: Federations

    func federations(_ visibility: Visibility, sort: SortOrder) async throws -> [Federation] {
        try await fetch(
            """
            SELECT * FROM \(ident: "federation") WHERE \(visible(visibility, userColumn: false)) \
            \(try orderBy(.federation, sort))
            """, ModelRows.federation)
    }

    func federations(matching ident: Ident, _ visibility: Visibility) async throws -> [Federation] {
        try await fetch(
            """
            SELECT * FROM \(ident: "federation") WHERE \(matches(ident)) \
            AND \(visible(visibility, userColumn: false)) ORDER BY \(ident: "id")
            """, ModelRows.federation)
    }

    func insert(_ federation: Federation) async throws -> Federation {
        var f = federation
        f.createdAt = Self.now()
        f.updatedAt = nil
        var values = ModelRows.values(f)
        values.set("created_at", f.createdAt)
        values.set("updated_at", f.updatedAt)
        f.id = try await insertRow(
            "federation", values,
            conflict: MagnumError(.conflict, "A federation with UUID \(f.uuid) already exists."))
        return f
    }

    func update(_ federation: Federation) async throws -> Federation {
        var f = federation
        f.updatedAt = Self.now()
        var values = ModelRows.values(f)
        values.set("updated_at", f.updatedAt)
        f.createdAt = try await updateRow(
            "federation", values, keyColumn: "uuid", key: f.uuid, notFound: .notFound("Federation", f.uuid),
            conflict: MagnumError(.conflict, "A federation with UUID \(f.uuid) already exists."))
        return f
    }

    func deleteFederation(uuid: String) async throws {
        try await run("DELETE FROM \(ident: "federation") WHERE \(ident: "uuid") = \(bind: uuid)")
    }

    // MARK: Operations

    func insert(_ operation: MagnumCore.ClusterOperation) async throws -> MagnumCore.ClusterOperation {
        var o = operation
        o.leaseExpiresAt = o.leaseExpiresAt?.storeNormalized
        o.createdAt = Self.now()
        o.updatedAt = nil
        var values = ModelRows.values(o)
        values.set("created_at", o.createdAt)
        values.set("updated_at", o.updatedAt)
        o.id = try await insertRow(
            "operation", values,
            conflict: MagnumError(.conflict, "An operation with UUID \(o.uuid) already exists."))
        return o
    }

    func operations(resourceUUID: String) async throws -> [MagnumCore.ClusterOperation] {
        try await fetch(
            """
            SELECT * FROM \(ident: "operation") WHERE \(ident: "resource_uuid") = \(bind: resourceUUID) \
            ORDER BY \(ident: "id")
            """, ModelRows.operation)
    }

    func update(_ operation: MagnumCore.ClusterOperation) async throws -> MagnumCore.ClusterOperation {
        var o = operation
        o.leaseExpiresAt = o.leaseExpiresAt?.storeNormalized
        o.updatedAt = Self.now()
        var values = ModelRows.values(o)
        values.set("updated_at", o.updatedAt)
        o.createdAt = try await updateRow(
            "operation", values, keyColumn: "uuid", key: o.uuid,
            notFound: MagnumError(.notFound, "ClusterOperation \(o.uuid) could not be found."),
            conflict: MagnumError(.conflict, "An operation with UUID \(o.uuid) already exists."))
        return o
    }

    func operation(uuid: String) async throws -> MagnumCore.ClusterOperation? {
        try await fetch(
            "SELECT * FROM \(ident: "operation") WHERE \(ident: "uuid") = \(bind: uuid)", ModelRows.operation
        ).first
    }

    // MARK: Operation leases

    /// The template predicate "run by one of `drivers`" over the alias `t`.
    private func runnableTemplates(_ drivers: [DriverDescriptor]) -> SQLQueryString {
        let names = drivers.map(\.name)
        var byTuple: [SQLQueryString] = []
        for d in drivers {
            for p in d.provides {
                byTuple.append("""
                    (t.server_type = \(bind: p.serverType) AND t.cluster_distro = \(bind: p.os) AND t.coe = \(bind: p.coe))
                    """)
            }
        }
        let tuples: SQLQueryString = byTuple.isEmpty ? "1 = 0" : "(\(byTuple.joined(separator: " OR ")))"
        return "(t.driver IN (\(binds: names)) OR (t.driver IS NULL AND \(tuples)))"
    }

    /// A lease's end as stored: rounded up to the whole second, so that a lease never ends
    /// before `until` (the store keeps whole seconds, and `now` is rounded down).
    static func leaseEnd(_ until: Date) -> Date {
        Date(timeIntervalSince1970: until.timeIntervalSince1970.rounded(.up))
    }

    func leaseOperation(owner: String, until: Date, now: Date, drivers: [DriverDescriptor]) async throws -> MagnumCore.ClusterOperation? {
        guard !drivers.isEmpty else { return nil }
        let now = now.storeNormalized
        let pending = MagnumCore.ClusterOperation.State.pending.rawValue
        let running = MagnumCore.ClusterOperation.State.running.rawValue
        let lock: SQLQueryString = dialect == .postgres ? "FOR UPDATE OF o SKIP LOCKED" : ""
        let candidate: SQLQueryString = """
            SELECT o.id AS id FROM operation o \
            WHERE ((o.state = \(bind: pending) AND (o.not_before IS NULL OR o.not_before <= \(bind: now))) \
               OR (o.state = \(bind: running) AND (o.lease_expires_at IS NULL OR o.lease_expires_at <= \(bind: now)))) \
            AND NOT EXISTS (SELECT 1 FROM operation p WHERE p.resource_uuid = o.resource_uuid AND p.id < o.id \
               AND p.state IN (\(bind: pending), \(bind: running))) \
            AND NOT EXISTS (SELECT 1 FROM operation r WHERE r.resource_uuid = o.resource_uuid AND r.id <> o.id \
               AND r.state = \(bind: running) AND r.lease_expires_at > \(bind: now)) \
            AND o.resource_uuid IN (SELECT c.uuid FROM cluster c JOIN cluster_template t \
               ON t.uuid = c.cluster_template_id WHERE \(runnableTemplates(drivers))) \
            ORDER BY o.id LIMIT 1 \(lock)
            """
        guard let row = try await first(candidate) else { return nil }
        let id = try decoded([row]) { try $0.int64("id") }.first ?? 0
        return try await fetch(
            """
            UPDATE \(ident: "operation") SET \(ident: "state") = \(bind: running), \
            \(ident: "lease_owner") = \(bind: owner), \(ident: "lease_expires_at") = \(bind: Self.leaseEnd(until)), \
            \(ident: "attempts") = \(ident: "attempts") + 1, \(ident: "not_before") = NULL, \
            \(ident: "updated_at") = \(bind: Self.now()) \
            WHERE \(ident: "id") = \(bind: id) RETURNING *
            """, ModelRows.operation
        ).first
    }

    func renewLease(operationUUID: String, owner: String, until: Date) async throws -> Bool {
        let rows = try await all(
            """
            UPDATE \(ident: "operation") SET \(ident: "lease_expires_at") = \(bind: Self.leaseEnd(until)) \
            WHERE \(ident: "uuid") = \(bind: operationUUID) AND \(ident: "lease_owner") = \(bind: owner) \
            AND \(ident: "state") = \(bind: MagnumCore.ClusterOperation.State.running.rawValue) RETURNING \(ident: "id")
            """)
        return !rows.isEmpty
    }

    func retryOperation(uuid: String, owner: String, notBefore: Date, error: String?) async throws -> Bool {
        let rows = try await all(
            """
            UPDATE \(ident: "operation") SET \(ident: "state") = \(bind: MagnumCore.ClusterOperation.State.pending.rawValue), \
            \(ident: "lease_owner") = NULL, \(ident: "lease_expires_at") = NULL, \
            \(ident: "not_before") = \(bind: notBefore.storeNormalized), \(ident: "last_error") = \(bind: error), \
            \(ident: "updated_at") = \(bind: Self.now()) \
            WHERE \(ident: "uuid") = \(bind: uuid) AND \(ident: "lease_owner") = \(bind: owner) \
            AND \(ident: "state") = \(bind: MagnumCore.ClusterOperation.State.running.rawValue) RETURNING \(ident: "id")
            """)
        return !rows.isEmpty
    }

    func completeOperation(uuid: String, owner: String, state: MagnumCore.ClusterOperation.State, error: String?) async throws -> Bool {
        let rows = try await all(
            """
            UPDATE \(ident: "operation") SET \(ident: "state") = \(bind: state.rawValue), \
            \(ident: "lease_owner") = NULL, \(ident: "lease_expires_at") = NULL, \
            \(ident: "last_error") = \(bind: error), \(ident: "updated_at") = \(bind: Self.now()) \
            WHERE \(ident: "uuid") = \(bind: uuid) AND \(ident: "lease_owner") = \(bind: owner) \
            AND \(ident: "state") = \(bind: MagnumCore.ClusterOperation.State.running.rawValue) RETURNING \(ident: "id")
            """)
        return !rows.isEmpty
    }

    func abandonOperations(resourceUUID: String, error: String) async throws {
        try await run(
            """
            UPDATE \(ident: "operation") SET \(ident: "state") = \(bind: MagnumCore.ClusterOperation.State.failed.rawValue), \
            \(ident: "lease_owner") = NULL, \(ident: "lease_expires_at") = NULL, \
            \(ident: "last_error") = \(bind: error), \(ident: "updated_at") = \(bind: Self.now()) \
            WHERE \(ident: "resource_uuid") = \(bind: resourceUUID) \
            AND \(ident: "state") IN (\(bind: MagnumCore.ClusterOperation.State.pending.rawValue), \
            \(bind: MagnumCore.ClusterOperation.State.running.rawValue))
            """)
    }

    // MARK: Local catalog

    func flavors() async throws -> [Flavor] {
        try await fetch("SELECT * FROM \(ident: "flavor") ORDER BY \(ident: "id")", ModelRows.flavor)
    }

    func images() async throws -> [Image] {
        try await fetch("SELECT * FROM \(ident: "image") ORDER BY \(ident: "id")", ModelRows.image)
    }

    func networks() async throws -> [Network] {
        try await fetch("SELECT * FROM \(ident: "network") ORDER BY \(ident: "id")", ModelRows.network)
    }

    func subnets() async throws -> [Subnet] {
        try await fetch("SELECT * FROM \(ident: "subnet") ORDER BY \(ident: "id")", ModelRows.subnet)
    }

    func keypairs(userID: String) async throws -> [Keypair] {
        try await fetch(
            "SELECT * FROM \(ident: "keypair") WHERE \(ident: "user_id") = \(bind: userID) ORDER BY \(ident: "name")",
            ModelRows.keypair)
    }

    func insert(_ flavor: Flavor) async throws {
        var v = RowValues()
        v.set("id", flavor.id)
        v.set("name", flavor.name)
        v.set("vcpus", flavor.vcpus)
        v.set("ram_mb", flavor.ramMB)
        v.set("disk_gb", flavor.diskGB)
        try await insertPlainRow("flavor", v, conflict: MagnumError(.conflict, "Flavor \(flavor.id) already exists."))
    }

    func insert(_ image: Image) async throws {
        var v = RowValues()
        v.set("id", image.id)
        v.set("name", image.name)
        v.set("os_distro", image.osDistro)
        v.set("magnum_driver", image.magnumDriver)
        try await insertPlainRow("image", v, conflict: MagnumError(.conflict, "Image \(image.id) already exists."))
    }

    func insert(_ network: Network) async throws {
        var v = RowValues()
        v.set("id", network.id)
        v.set("name", network.name)
        v.set("is_external", network.isExternal)
        try await insertPlainRow(
            "network", v, conflict: MagnumError(.conflict, "Network \(network.id) already exists."))
    }

    func insert(_ subnet: Subnet) async throws {
        var v = RowValues()
        v.set("id", subnet.id)
        v.set("name", subnet.name)
        v.set("network_id", subnet.networkID)
        v.set("cidr", subnet.cidr)
        try await insertPlainRow("subnet", v, conflict: MagnumError(.conflict, "Subnet \(subnet.id) already exists."))
    }

    func insert(_ keypair: Keypair) async throws {
        var v = RowValues()
        v.set("name", keypair.name)
        v.set("user_id", keypair.userID)
        v.set("public_key", keypair.publicKey)
        v.set("fingerprint", keypair.fingerprint)
        v.set("created_at", (keypair.createdAt ?? Date()).storeNormalized)
        try await insertPlainRow(
            "keypair", v, conflict: MagnumError(.conflict, "Key pair '\(keypair.name)' already exists."))
    }

    func deleteKeypair(name: String, userID: String) async throws {
        try await run(
            "DELETE FROM \(ident: "keypair") WHERE \(ident: "user_id") = \(bind: userID) AND \(ident: "name") = \(bind: name)")
    }

    // MARK: Migrations

    /// Applies one migration unless `schema_version` already records it; true when applied.
    /// Runs inside a write transaction (on PostgreSQL behind an advisory lock, so concurrent
    /// migrators apply each step once).
    func apply(_ migration: Migration) async throws -> Bool {
        try await prepareSchemaVersion()
        let done = try await all(
            "SELECT \(ident: "version") FROM \(ident: "schema_version") WHERE \(ident: "version") = \(bind: migration.version)"
        )
        if !done.isEmpty { return false }
        for statement in migration.statements(dialect) {
            try await run(SQLQueryString(statement))
        }
        try await run(
            """
            INSERT INTO \(ident: "schema_version") (\(ident: "version"), \(ident: "name"), \(ident: "applied_at")) \
            VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: Self.now()))
            """)
        logger.info("Applied schema migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
        return true
    }

    /// The versions recorded in `schema_version`, ascending.
    func appliedVersions() async throws -> [Int] {
        try await prepareSchemaVersion()
        return try await fetch(
            "SELECT \(ident: "version") FROM \(ident: "schema_version") ORDER BY \(ident: "version")"
        ) { try $0.int("version") }
    }

    private func prepareSchemaVersion() async throws {
        if dialect == .postgres {
            try await run("SELECT pg_advisory_xact_lock(\(bind: Migrations.advisoryLockKey))")
        }
        try await run(SQLQueryString(Migrations.schemaVersionTable(dialect)))
    }
}
