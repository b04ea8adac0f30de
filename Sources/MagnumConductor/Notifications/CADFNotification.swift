import Foundation
import MagnumCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Magnum's cluster notifications (contract §8.9, Appendix A.9): a CADF activity event about a
/// cluster inside an oslo.messaging envelope, as `magnum.conductor.utils` builds them.
public enum CADFNotification {
    /// The CADF action of a cluster notification.
    public enum Action: String, Sendable, Hashable {
        case create, update, delete
    }

    /// The CADF outcome.
    public enum Outcome: String, Sendable, Hashable {
        case pending, success, failure
    }

    /// The action a cluster operation reports (`pending`, and its failure before any status
    /// tells otherwise); nil for operations without notifications (nodegroups, credentials,
    /// repairs).
    public static func action(of kind: ClusterOperation.Kind) -> Action? {
        switch kind {
        case .clusterCreate: .create
        case .clusterDelete: .delete
        case .clusterUpdate, .clusterResize, .clusterUpgrade, .caRotate: .update
        case .nodegroupCreate, .nodegroupUpdate, .nodegroupDelete, .credentialRotate, .clusterHeal: nil
        }
    }

    /// The action of a status notification (contract §8.3): `DELETE_*` → delete, `CREATE_*` →
    /// create, `UPDATE_*`/`ROLLBACK_*` → update; nil for other statuses.
    public static func action(of status: ClusterStatus?) -> Action? {
        switch status {
        case .deleteComplete, .deleteFailed: .delete
        case .createComplete, .createFailed: .create
        case .updateComplete, .updateFailed, .rollbackComplete, .rollbackFailed: .update
        default: nil
        }
    }

    /// The envelope: `message_id`, `publisher_id` (`container-infra.<host>`), `event_type`
    /// (`magnum.cluster.<action>`), `priority` (ERROR for a failure, else INFO), `timestamp`
    /// and the CADF event as `payload`. `userID`/`projectID` name the initiator (the requester).
    public static func envelope(action: Action, outcome: Outcome, cluster: Cluster, nodegroups: [NodeGroup],
                                userID: String?, projectID: String?, host: String, at date: Date = Date()) -> JSON
    {
        [
            "message_id": .string(UUIDs.make()),
            "publisher_id": .string("container-infra.\(host)"),
            "event_type": .string("magnum.cluster.\(action.rawValue)"),
            "priority": .string(outcome == .failure ? "ERROR" : "INFO"),
            "payload": event(action: action, outcome: outcome, cluster: cluster, nodegroups: nodegroups,
                             userID: userID, projectID: projectID, at: date),
            "timestamp": .string(oslo(date)),
        ]
    }

    /// The CADF event (pycadf `Event.as_dict()`); the initiator and observer get fresh ids, as
    /// pycadf gives resources created without one.
    public static func event(action: Action, outcome: Outcome, cluster: Cluster, nodegroups: [NodeGroup],
                             userID: String?, projectID: String?, at date: Date = Date()) -> JSON
    {
        var initiator: [String: JSON] = ["id": .string(UUIDs.make()), "typeURI": "service/security/account/user"]
        if let userID { initiator["user_id"] = .string(userID) }
        if let projectID { initiator["project_id"] = .string(projectID) }
        return [
            "typeURI": "http://schemas.dmtf.org/cloud/audit/1.0/event",
            "eventType": "activity",
            "id": .string(UUIDs.make()),
            "eventTime": .string(cadf(date)),
            "action": .string(action.rawValue),
            "outcome": .string(outcome.rawValue),
            "observer": ["id": .string(UUIDs.make()), "typeURI": "service/magnum/cluster"],
            "initiator": .object(initiator),
            "target": [
                "id": .string(cluster.uuid), "name": JSON(cluster.name), "typeURI": "service/magnum/cluster",
                "attachments": [["typeURI": "service/magnum/cluster", "name": "cluster_data",
                                 "content": content(cluster, nodegroups: nodegroups)]],
            ],
        ]
    }

    /// The `cluster_data` attachment, keys as upstream spells them (`docker_volume_size:` with
    /// its trailing colon); dates as oslo serializes a naive UTC datetime.
    static func content(_ c: Cluster, nodegroups: [NodeGroup]) -> JSON {
        let d = ClusterRules.derived(nodegroups)
        return [
            "status": JSON(c.status?.rawValue), "status_reason": JSON(c.statusReason), "project_id": JSON(c.projectID),
            "created_at": JSON(c.createdAt.map(naive)), "updated_at": JSON(c.updatedAt.map(naive)),
            "cluster_template_id": .string(c.clusterTemplateID), "keypair": JSON(c.keypair),
            "docker_volume_size:": JSON(c.dockerVolumeSize), "labels": JSON(c.labels),
            "master_flavor_id": JSON(c.masterFlavorID), "flavor_id": JSON(c.flavorID), "stack_id": JSON(c.stackID),
            "health_status": JSON(c.healthStatus?.rawValue), "create_timeout": JSON(c.createTimeout),
            "api_address": JSON(c.apiAddress), "discovery_url": JSON(c.discoveryURL),
            "node_addresses": JSON(d.nodeAddresses), "master_addresses": JSON(d.masterAddresses),
            "node_count": .int(d.nodeCount), "master_count": .int(d.masterCount),
        ]
    }

    /// CADF `eventTime`: `YYYY-MM-DDTHH:MM:SS.ffffff+0000`.
    public static func cadf(_ date: Date) -> String {
        let (day, time, micro) = parts(date)
        return "\(day)T\(time).\(micro)+0000"
    }

    /// oslo.messaging's envelope `timestamp`: `YYYY-MM-DD HH:MM:SS.ffffff` (UTC).
    public static func oslo(_ date: Date) -> String {
        let (day, time, micro) = parts(date)
        return "\(day) \(time).\(micro)"
    }

    /// A naive UTC datetime as oslo's JSON serializer writes it: `YYYY-MM-DDTHH:MM:SS.ffffff`.
    static func naive(_ date: Date) -> String {
        let (day, time, micro) = parts(date)
        return "\(day)T\(time).\(micro)"
    }

    /// `YYYY-MM-DD`, `HH:MM:SS` and the six-digit microseconds of a UTC instant.
    static func parts(_ date: Date) -> (String, String, String) {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let micro = min(999_999, max(0, Int(((date.timeIntervalSince1970 - seconds) * 1_000_000).rounded(.down))))
        var t = time_t(seconds)
        var tm = tm()
        gmtime_r(&t, &tm)
        let day = String(format: "%04d-%02d-%02d", Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1, Int(tm.tm_mday))
        let time = String(format: "%02d:%02d:%02d", Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec))
        return (day, time, String(format: "%06d", micro))
    }
}
