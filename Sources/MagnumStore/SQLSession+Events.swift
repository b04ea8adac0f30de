import Foundation
import MagnumCore
import SQLKit

// MARK: - Cluster events

extension SQLSession {
    func append(_ event: ClusterEvent) async throws -> ClusterEvent {
        if dialect == .postgres {
            // One event writer per cluster at a time: ids are drawn in commit order, so a cursor
            // never passes an event that commits later with a smaller id.
            try await run("SELECT pg_advisory_xact_lock(hashtext(\(bind: "magnum.cluster_event:" + event.clusterUUID)))")
        }
        var e = event
        e.createdAt = Self.now()
        e.id = try await insertRow(
            "cluster_event", ModelRows.values(e),
            conflict: MagnumError(.conflict, "An event with UUID \(e.uuid) already exists."))
        return e
    }

    func events(clusterUUID: String, after: Int64, limit: Int) async throws -> [ClusterEvent] {
        try await fetch(
            """
            SELECT * FROM \(ident: "cluster_event") WHERE \(ident: "cluster_uuid") = \(bind: clusterUUID) \
            AND \(ident: "id") > \(bind: after) ORDER BY \(ident: "id") LIMIT \(bind: max(0, limit))
            """, ModelRows.clusterEvent)
    }

    func purgeEvents(before cutoff: Date) async throws -> Int {
        let rows = try await all(
            """
            DELETE FROM \(ident: "cluster_event") WHERE \(ident: "created_at") < \(bind: cutoff.storeNormalized) \
            RETURNING \(ident: "id")
            """)
        return rows.count
    }
}

extension ModelRows {
    static func values(_ e: ClusterEvent) -> RowValues {
        var v = RowValues()
        v.set("uuid", e.uuid)
        v.set("cluster_uuid", e.clusterUUID)
        v.set("project_id", e.projectID)
        v.set("operation_uuid", e.operationUUID)
        v.set("kind", e.kind.rawValue)
        v.set("status", e.status?.rawValue)
        v.set("status_reason", e.statusReason)
        v.set("detail", JSONText.object(e.detail))
        v.set("request_id", e.requestID)
        v.set("created_at", e.createdAt)
        return v
    }

    static func clusterEvent(_ row: any SQLRow) throws -> ClusterEvent {
        var e = ClusterEvent(
            uuid: try row.string("uuid"), clusterUUID: try row.string("cluster_uuid"),
            projectID: try row.optionalString("project_id"), operationUUID: try row.optionalString("operation_uuid"),
            kind: try row.requiredEnum("kind", ClusterEvent.Kind.self),
            status: try row.optionalEnum("status", ClusterStatus.self),
            statusReason: try row.optionalString("status_reason"),
            detail: try row.jsonObject("detail"), requestID: try row.optionalString("request_id"))
        e.id = try row.int64("id")
        e.createdAt = try row.date("created_at")
        return e
    }
}
