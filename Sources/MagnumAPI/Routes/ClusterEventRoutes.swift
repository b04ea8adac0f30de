import Foundation
import Logging
import MagnumCore

/// `GET /v1/clusters/{c}/events`: the cluster's events as `{"events": [...]}`, or with
/// `Accept: text/event-stream` as a server-sent-events stream (an addition beside the Magnum API).
struct ClusterEventRoutes: Sendable {
    let service: ClusterEventService
    let maxLimit: Int

    /// True for a request of the event stream (the one path that answers something else than JSON).
    static func streams(_ s: [String], accept: String) -> Bool {
        s.count == 3 && s[0] == "clusters" && s[2] == "events" && ServerSentEvents.accepted(by: accept)
    }

    func route(_ method: String, _ s: [String]) -> Handler? {
        guard method == "GET", s.count == 3 else { return nil }
        return { req in
            try req.allowQuery(["since", "limit"])
            var since = try Self.cursor(req.query("since"), name: "since")
            let stream = req.header("accept").map(ServerSentEvents.accepted(by:)) ?? false
            if stream, let last = req.header("last-event-id") {
                since = try Self.cursor(last, name: "Last-Event-ID")
            }
            let limit = try Self.limit(req.query("limit"), maxLimit: maxLimit)
            let uuid = try await service.cluster(s[1], req.context)
            guard stream else {
                return .ok(ClusterEventViews.list(try await service.events(clusterUUID: uuid, since: since, limit: limit)))
            }
            let service = self.service
            var logger = service.env.logger
            logger[metadataKey: "request_id"] = .string(req.context.requestID)
            return .streamed(StreamedBody(contentType: ServerSentEvents.mediaType) { [logger, since] send in
                try await service.stream(clusterUUID: uuid, since: since, logger: logger, send: send)
            })
        }
    }

    /// An event id cursor: a non-negative integer; absent is 0 (from the first event).
    static func cursor(_ value: String?, name: String) throws -> Int64 {
        guard let value else { return 0 }
        guard let n = Int64(value.trimmingCharacters(in: .whitespaces)), n >= 0 else {
            throw MagnumError.invalidField(name, value, "Expected a non-negative integer event id.")
        }
        return n
    }

    /// `limit`: a positive integer, capped at `maxLimit` (its default).
    static func limit(_ value: String?, maxLimit: Int) throws -> Int {
        guard let value else { return maxLimit }
        guard let n = Int(value) else {
            throw MagnumError.invalidField("limit", value, "Wrong type. Expected '<class 'int'>', got '<class 'str'>'")
        }
        guard n > 0 else { throw MagnumError(.invalid, "Limit must be positive") }
        return min(n, maxLimit)
    }
}
