import Foundation
import Logging
import MagnumCore

/// Emits the CADF notifications of cluster operations (contract §8.9) to a sink. Called after
/// the changes a notification reports have committed; best effort — a failed delivery is
/// logged and never fails the operation.
public struct ClusterNotifier: Sendable {
    /// Where notifications go.
    public let sink: any NotificationSink
    /// The conductor's host (`publisher_id` is `container-infra.<host>`).
    public let host: String

    /// Creates a notifier.
    public init(sink: any NotificationSink, host: String) {
        self.sink = sink
        self.host = host
    }

    /// Emits `magnum.cluster.<action>` with `outcome` about `cluster`, initiated by the
    /// operation's requester.
    func emit(_ action: CADFNotification.Action, _ outcome: CADFNotification.Outcome, cluster: Cluster, nodegroups: [NodeGroup],
              operation: ClusterOperation, logger: Logger) async
    {
        let notification = CADFNotification.envelope(
            action: action, outcome: outcome, cluster: cluster, nodegroups: nodegroups,
            userID: operation.userID, projectID: operation.projectID, host: host)
        do {
            try await sink.deliver(notification)
        } catch {
            logger.warning("notification not delivered", metadata: [
                "event_type": .string("magnum.cluster.\(action.rawValue)"), "outcome": .string(outcome.rawValue),
                "error": .string(String(describing: error)),
            ])
        }
    }
}
