import Foundation
import Logging
import MagnumCore
import MagnumStore

extension OperationRunner {
    /// Emits the operation's CADF notification (contract §8.9) after the change it reports
    /// committed: `pending` with the operation kind's action, `success`/`failure` with the
    /// action of the cluster's status (§8.3). About the cluster as stored now, or `snapshot`
    /// (before the step, or once deleted). Nothing for nodegroup and credential operations or
    /// without a notifier; never throws.
    func notify(_ outcome: CADFNotification.Outcome, _ operation: ClusterOperation,
                snapshot: (cluster: Cluster, nodegroups: [NodeGroup])? = nil, _ log: Logger) async
    {
        guard let notifier, let kindAction = CADFNotification.action(of: operation.kind) else { return }
        var current = snapshot
        if current == nil {
            do {
                current = try await store.read { session -> (cluster: Cluster, nodegroups: [NodeGroup])? in
                    guard let c = try await session.clusters(matching: .uuid(operation.resourceUUID), .everything).first else { return nil }
                    return (c, try await session.nodegroups(clusterUUID: c.uuid, role: nil, sort: SortOrder()))
                }
            } catch {
                log.warning("notification skipped: reading the cluster failed", metadata: ["error": .string(String(describing: error))])
                return
            }
        }
        guard let current else { return }
        let (cluster, nodegroups) = (current.cluster, current.nodegroups)
        let action = outcome == .pending ? kindAction : (CADFNotification.action(of: cluster.status) ?? kindAction)
        await notifier.emit(action, outcome, cluster: cluster, nodegroups: nodegroups, operation: operation, logger: log)
    }
}
