/// Cluster and nodegroup status: the Heat stack-status vocabulary (contract §5.1).
public enum ClusterStatus: String, Sendable, Hashable, CaseIterable {
    case createInProgress = "CREATE_IN_PROGRESS"
    case createFailed = "CREATE_FAILED"
    case createComplete = "CREATE_COMPLETE"
    case updateInProgress = "UPDATE_IN_PROGRESS"
    case updateFailed = "UPDATE_FAILED"
    case updateComplete = "UPDATE_COMPLETE"
    case deleteInProgress = "DELETE_IN_PROGRESS"
    case deleteFailed = "DELETE_FAILED"
    case deleteComplete = "DELETE_COMPLETE"
    case resumeComplete = "RESUME_COMPLETE"
    case resumeFailed = "RESUME_FAILED"
    case restoreComplete = "RESTORE_COMPLETE"
    case rollbackInProgress = "ROLLBACK_IN_PROGRESS"
    case rollbackFailed = "ROLLBACK_FAILED"
    case rollbackComplete = "ROLLBACK_COMPLETE"
    case snapshotComplete = "SNAPSHOT_COMPLETE"
    case checkComplete = "CHECK_COMPLETE"
    case adoptComplete = "ADOPT_COMPLETE"

    /// The stable states in which a cluster accepts updates (contract §5.4).
    public static let stable: Set<ClusterStatus> = [
        .createComplete, .updateComplete, .resumeComplete, .restoreComplete,
        .rollbackComplete, .snapshotComplete, .checkComplete, .adoptComplete,
    ]

    /// States whose nodegroup failures are reported as `faults`.
    public static let failed: Set<ClusterStatus> = [
        .createFailed, .updateFailed, .deleteFailed, .rollbackFailed, .resumeFailed,
    ]

    /// True for the `*_FAILED` states.
    public var isFailed: Bool { rawValue.hasSuffix("FAILED") }
}

/// Cluster health as reported by a driver's monitor (contract §5.2).
public enum HealthStatus: String, Sendable, Hashable, CaseIterable {
    case healthy = "HEALTHY"
    case unhealthy = "UNHEALTHY"
    case unknown = "UNKNOWN"
}

/// The states each operation accepts (contract §5.4); requests in other states are refused
/// with 400 at the API instead of upstream's silent 202.
public enum OperationGate {
    /// Cluster PATCH (node count change).
    public static let update: Set<ClusterStatus> = ClusterStatus.stable
    /// Resize: stable plus update in progress or failed (autoscalers retry).
    public static let resize: Set<ClusterStatus> = ClusterStatus.stable.union([.updateFailed, .updateInProgress])
    /// Upgrade.
    public static let upgrade: Set<ClusterStatus> = ClusterStatus.stable
    /// CA rotation.
    public static let rotateCA: Set<ClusterStatus> = ClusterStatus.stable
    /// Credential rotation.
    public static let rotateCredential: Set<ClusterStatus> = ClusterStatus.stable.union([.updateInProgress, .updateFailed])
    /// Nodegroup create/update, checked against the nodegroup's own status.
    public static let nodegroupChange: Set<ClusterStatus> = ClusterStatus.stable.union([.updateInProgress, .updateFailed])
}
