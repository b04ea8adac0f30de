import MagnumCore

/// Cluster event views (`GET /v1/clusters/{c}/events`, an addition beside the Magnum API).
enum ClusterEventViews {
    /// One event as JSON: every column, `detail` as an object.
    static func render(_ e: ClusterEvent) -> JSON {
        [
            "id": .int(Int(e.id)), "uuid": .string(e.uuid), "cluster_uuid": .string(e.clusterUUID),
            "project_id": JSON(e.projectID), "operation_uuid": JSON(e.operationUUID), "kind": .string(e.kind.rawValue),
            "status": JSON(e.status?.rawValue), "status_reason": JSON(e.statusReason), "detail": .object(e.detail),
            "request_id": JSON(e.requestID), "created_at": JSON(Timestamps.format(e.createdAt)),
        ]
    }

    /// `{"events": [...]}`.
    static func list(_ events: [ClusterEvent]) -> JSON {
        ["events": .array(events.map(render))]
    }
}
