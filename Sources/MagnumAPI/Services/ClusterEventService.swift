import Logging
import MagnumCore
import MagnumStore
import ServiceLifecycle

/// A cluster's history (`GET /v1/clusters/{c}/events`, as a list or a server-sent-events
/// stream) — an addition beside the Magnum API. Access is that of `GET /v1/clusters/{c}`:
/// rule `cluster:get`, other projects' clusters are 404 unless the all-projects rule admits the
/// caller. A deleted cluster's events stay readable by its UUID (while they are retained) to
/// whoever could read the cluster.
struct ClusterEventService {
    let env: APIEnvironment
    /// How often a stream looks for new events.
    var pollInterval: Duration = .milliseconds(250)
    /// How long a stream may stay silent before it sends a keep-alive comment.
    var keepAliveInterval: Duration = .seconds(15)
    /// Events read per query.
    static let batch = 100

    /// The UUID of the cluster `ident` names, checked as `GET /v1/clusters/{ident}` checks it;
    /// for a deleted cluster, a UUID whose retained events belong to a project the caller may read.
    func cluster(_ ident: String, _ ctx: RequestContext) async throws -> String {
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: "cluster:get_one_all_projects")
        let target: PolicyTarget
        let uuid: String
        do {
            let c = try await env.store.read { try await Lookup.cluster($0, ident, vis) }
            (uuid, target) = (c.uuid, PolicyTarget(projectID: c.projectID, userID: c.userID))
        } catch let error as MagnumError where error.code == .notFound {
            guard case .uuid(let deleted) = Lookup.ident(ident),
                  let first = try await env.store.read({ try await $0.events(clusterUUID: deleted, after: 0, limit: 1) }).first,
                  vis.allProjects || (first.projectID != nil && first.projectID == vis.projectID)
            else { throw error }
            (uuid, target) = (deleted, PolicyTarget(projectID: first.projectID, userID: first.detail["user_id"]?.stringValue))
        }
        try env.policy.enforce("cluster:get", ctx, target: target)
        return uuid
    }

    /// The cluster's events after `since`, ascending, at most `limit`.
    func events(clusterUUID: String, since: Int64, limit: Int) async throws -> [ClusterEvent] {
        try await env.store.read { try await $0.events(clusterUUID: clusterUUID, after: since, limit: limit) }
    }

    /// Sends the cluster's events after `since` as they commit, one frame each, and a comment
    /// after `keepAliveInterval` of silence; returns when the task is cancelled or the server
    /// shuts down gracefully, throws when `send` fails (the client left) or the store does. Polls the store, so it sees the
    /// events of every process sharing the database.
    func stream(clusterUUID: String, since: Int64, logger: Logger, send: (String) async throws -> Void) async throws {
        let clock = ContinuousClock()
        var cursor = since
        var lastWrite = clock.now
        try await send("retry: 2000\n" + ServerSentEvents.comment("events of cluster \(clusterUUID)"))
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let events = try await events(clusterUUID: clusterUUID, since: cursor, limit: Self.batch)
            for e in events {
                try await send(ServerSentEvents.frame(id: String(e.id), event: e.kind.rawValue,
                                                      data: ClusterEventViews.render(e).serialized()))
                cursor = e.id
                lastWrite = clock.now
            }
            if events.count == Self.batch { continue }
            if clock.now - lastWrite >= keepAliveInterval {
                try await send(ServerSentEvents.comment("keep-alive"))
                lastWrite = clock.now
            }
            do { try await Task.sleep(for: pollInterval) } catch { break }
        }
        logger.debug("event stream closed", metadata: ["cluster_id": .string(clusterUUID)])
    }
}
