import Foundation

/// One entry of a cluster's history: an operation accepted, leased, stepped, retried or
/// finished, or a change of the cluster's (or a nodegroup's) status. Events are appended in the
/// transaction that makes the change they describe, so the history never disagrees with the
/// rows; `id` grows monotonically and is the cursor of `GET /v1/clusters/{c}/events?since=`
/// and the `id:` of the server-sent-events stream. Events outlive their cluster (they are
/// purged by age), so a deleted cluster's history stays readable for a while.
public struct ClusterEvent: Sendable, Hashable {
    /// What happened.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// The API accepted a request and recorded its operation.
        case operationAccepted = "operation.accepted"
        /// A conductor leased the operation (`detail.attempt`).
        case operationStarted = "operation.started"
        /// The driver accepted the operation's step (`detail.driver`).
        case operationStep = "operation.step"
        /// A transient failure: the operation is retried later (`detail.error`, `detail.retry_in_seconds`).
        case operationRetry = "operation.retry"
        /// The operation finished successfully.
        case operationSucceeded = "operation.succeeded"
        /// The operation failed (`detail.error`).
        case operationFailed = "operation.failed"
        /// The cluster's status or status reason changed (`detail.previous_status`).
        case statusChanged = "status.changed"
        /// A nodegroup's status changed (`detail.nodegroup_uuid`, `detail.nodegroup_name`, `detail.previous_status`).
        case nodegroupStatusChanged = "nodegroup.status.changed"
    }

    /// The store's sequence number (0 until appended).
    public var id: Int64 = 0
    public var uuid: String
    /// The cluster the event belongs to.
    public var clusterUUID: String
    /// The cluster's project (events are tenant-scoped like their cluster).
    public var projectID: String?
    /// The operation the event belongs to, if any.
    public var operationUUID: String?
    public var kind: Kind
    /// The status after the event (the cluster's, or the nodegroup's for nodegroup events).
    public var status: ClusterStatus?
    public var statusReason: String?
    /// Kind-specific facts (operation kind, attempt, error, previous status, …).
    public var detail: [String: JSON] = [:]
    /// The request that started the operation.
    public var requestID: String?
    public var createdAt: Date?

    /// Creates an event.
    public init(uuid: String = UUIDs.make(), clusterUUID: String, projectID: String?, operationUUID: String? = nil, kind: Kind,
                status: ClusterStatus? = nil, statusReason: String? = nil, detail: [String: JSON] = [:], requestID: String? = nil)
    {
        self.uuid = uuid
        self.clusterUUID = clusterUUID
        self.projectID = projectID
        self.operationUUID = operationUUID
        self.kind = kind
        self.status = status
        self.statusReason = statusReason
        self.detail = detail
        self.requestID = requestID
    }

    /// `operation.accepted` for an operation the API just recorded on `cluster`.
    public static func accepted(_ operation: ClusterOperation, cluster: Cluster) -> ClusterEvent {
        var detail: [String: JSON] = ["operation": .string(operation.kind.rawValue)]
        if let ng = operation.nodegroupUUID { detail["nodegroup_uuid"] = .string(ng) }
        if let user = operation.userID { detail["user_id"] = .string(user) }
        return ClusterEvent(clusterUUID: cluster.uuid, projectID: cluster.projectID, operationUUID: operation.uuid,
                            kind: .operationAccepted, status: cluster.status, statusReason: cluster.statusReason,
                            detail: detail, requestID: operation.requestID)
    }
}
