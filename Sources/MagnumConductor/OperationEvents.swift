import Foundation
import MagnumCore
import MagnumStore

/// The cluster events the operation runner records (`ClusterEvent`), built from the operation
/// they belong to and appended in the transaction that makes the change they describe.
enum OperationEvents {
    /// An event of `operation`, stamped with the cluster's project and current status; the
    /// detail always names the operation's kind.
    static func event(_ kind: ClusterEvent.Kind, of operation: ClusterOperation, cluster: Cluster?,
                      detail: [String: JSON] = [:]) -> ClusterEvent
    {
        var d = detail
        d["operation"] = .string(operation.kind.rawValue)
        return ClusterEvent(clusterUUID: operation.resourceUUID, projectID: cluster?.projectID ?? operation.projectID,
                            operationUUID: operation.uuid, kind: kind, status: cluster?.status,
                            statusReason: cluster?.statusReason, detail: d, requestID: operation.requestID)
    }

    /// Appends an event of `operation` in `session`, reading the cluster when not given.
    static func append(_ kind: ClusterEvent.Kind, of operation: ClusterOperation, cluster: Cluster? = nil,
                       detail: [String: JSON] = [:], _ session: any StoreSession) async throws
    {
        var c = cluster
        if c == nil { c = try await session.clusters(matching: .uuid(operation.resourceUUID), .everything).first }
        _ = try await session.append(event(kind, of: operation, cluster: c, detail: detail))
    }

    /// `status.changed` when the cluster's status or reason changed from `before` to `after`.
    static func statusChange(of operation: ClusterOperation, from before: Cluster, to after: Cluster) -> ClusterEvent? {
        guard before.status != after.status || before.statusReason != after.statusReason else { return nil }
        return event(.statusChanged, of: operation, cluster: after, detail: [
            "previous_status": JSON(before.status?.rawValue), "previous_status_reason": JSON(before.statusReason),
        ])
    }

    /// `nodegroup.status.changed` when a nodegroup's status or reason changed.
    static func statusChange(of operation: ClusterOperation, cluster: Cluster, nodegroup before: NodeGroup, to after: NodeGroup) -> ClusterEvent? {
        guard before.status != after.status || before.statusReason != after.statusReason else { return nil }
        var e = event(.nodegroupStatusChanged, of: operation, cluster: cluster, detail: [
            "nodegroup_uuid": .string(after.uuid), "nodegroup_name": JSON(after.name),
            "previous_status": JSON(before.status?.rawValue),
        ])
        e.status = after.status
        e.statusReason = after.statusReason
        return e
    }

    /// The `detail.error` of a failure.
    static func error(_ message: String?) -> [String: JSON] {
        message.map { ["error": .string($0)] } ?? [:]
    }
}
