import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MagnumCore
import MagnumStore
import NIOCore

/// The `Idempotency-Key` request header of the create routes (README "Idempotency-Key";
/// draft-ietf-httpapi-idempotency-key-header): a retried create with the same key and body
/// gets the first answer again and creates nothing new.
///
/// A key belongs to (project, user, method, path). The request claims it in the store before
/// it runs; every write transaction of the request first checks that it still holds the claim
/// (`IdempotencyClaim.current`, see `SQLStore`), and its answer is stored when it succeeds.
/// Failed requests (any 4xx or 5xx) store nothing: the claim is released so that a retry —
/// after a transient failure, or with a corrected body — runs anew.
struct IdempotencyKeys: Sendable {
    let store: any Store
    let policy: any PolicyEnforcer
    /// How long a key is remembered, in seconds.
    let ttl: Double
    /// How long an unfinished claim that changed nothing blocks a retry, in seconds.
    let staleClaim: Double
    let logger: Logger

    /// The request header.
    static let header = HTTPField.Name("Idempotency-Key")!
    /// Set on a replayed answer.
    static let replayedHeader = HTTPField.Name("Idempotent-Replayed")!
    /// The longest accepted key.
    static let maxLength = 255

    init(env: APIEnvironment) {
        store = env.store
        policy = env.policy
        ttl = env.config.idempotencyTTL
        staleClaim = env.config.idempotencyStaleClaim
        logger = env.logger
    }

    /// The policy rule of a create route that honours the header; nil for every other route.
    static func createRule(method: String, segments s: [String]) -> String? {
        guard method == "POST", let first = s.first else { return nil }
        switch (first, s.count) {
        case ("clusters", 1), ("bays", 1): return "cluster:create"
        case ("clustertemplates", 1), ("baymodels", 1): return "clustertemplate:create"
        case ("clusters", 3) where s[2] == "nodegroups": return "nodegroup:create"
        case ("federations", 1): return "federation:create"
        case ("certificates", 1): return "certificate:create"
        case ("quotas", 1): return "quota:create"
        default: return nil
        }
    }

    /// The key of a request's header values: exactly one value of 1–255 printable ASCII
    /// characters, else 400.
    static func validate(_ values: [String]) throws -> String {
        guard values.count == 1, let key = values.first else {
            throw MagnumError(.invalid, "Only one Idempotency-Key header is allowed.")
        }
        guard (1...maxLength).contains(key.utf8.count), key.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else {
            throw MagnumError(.invalid, "Invalid Idempotency-Key: expected 1 to \(maxLength) printable ASCII characters.")
        }
        return key
    }

    /// SHA-256 (hex) of the method, path, query and canonical body (JSON with sorted keys).
    static func fingerprint(method: String, path: String, query: [(String, String)], body: JSON?) -> String {
        var text = method + "\n" + path + "\n"
        text += query.map { "\($0.0)=\($0.1)" }.joined(separator: "&") + "\n"
        text += body?.serialized() ?? ""
        return SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Runs a create request under its key: the first request with the key runs `handler`,
    /// later ones with the same body get its answer replayed, others a 409.
    ///
    /// - Parameters:
    ///   - key: The validated header value.
    ///   - rule: The create route's policy rule, checked before the key is looked at.
    ///   - request: The decoded request.
    ///   - headers: The headers every answer carries (request id, version headers).
    ///   - handler: The route handler.
    func respond(key: String, rule: String, request: APIRequest, headers: HTTPFields,
                 handler: @Sendable (APIRequest) async throws -> APIResponse) async throws -> Response
    {
        // Policy first: a caller who may not create never touches the key table. (The service
        // checks the rule again, against its real target.)
        try policy.enforce(rule, request.context)
        let path = "/v1/" + request.segments.joined(separator: "/")
        let scope = IdempotencyScope(projectID: request.context.projectID, userID: request.context.userID,
                                     method: request.method, path: path, key: key)
        let fingerprint = Self.fingerprint(method: request.method, path: path, query: request.query, body: request.body)
        let claim = IdempotencyClaim(scope: scope, owner: UUIDs.make())
        let now = Date()
        let ttl = self.ttl, staleClaim = self.staleClaim
        let result = try await store.write { session in
            try await session.claimIdempotencyKey(
                scope, fingerprint: fingerprint, owner: claim.owner, now: now,
                expiresAt: now.addingTimeInterval(ttl), staleBefore: now.addingTimeInterval(-staleClaim))
        }
        var logger = self.logger
        logger[metadataKey: "request_id"] = .string(request.context.requestID)
        switch result {
        case .existing(let record):
            return try replay(record, key: key, fingerprint: fingerprint, now: now, headers: headers)
        case .claimed(let takenOver):
            if takenOver { logger.warning("took over a stale Idempotency-Key claim", metadata: ["path": .string(path)]) }
        }

        let out: APIResponse
        do {
            out = try await IdempotencyClaim.$current.withValue(claim) { try await handler(request) }
        } catch {
            await release(claim, logger: logger)
            throw error
        }
        let response = Self.render(out, headers: headers)
        guard (200..<300).contains(out.status) else {
            await release(claim, logger: logger)
            return response
        }
        var stored: [String: String] = [:]
        for field in response.headers where field.name.canonicalName != "x-openstack-request-id" {
            stored[field.name.rawName] = field.value
        }
        let answer = IdempotentResponse(status: out.status, headers: stored, body: out.body?.serialized())
        do {
            let kept = try await store.write { try await $0.completeIdempotencyKey(claim, response: answer) }
            if !kept { logger.warning("Idempotency-Key claim lost before the answer was stored", metadata: ["path": .string(path)]) }
        } catch {
            // The resource exists; the key stays in progress (changed) and answers 409 until it expires.
            logger.error("could not store the answer of an Idempotency-Key", metadata: ["error": .string(String(describing: error))])
        }
        return response
    }

    /// The answer to a request whose key is held by another request.
    private func replay(_ record: IdempotencyRecord, key: String, fingerprint: String, now: Date, headers: HTTPFields) throws -> Response {
        let target = "\(record.scope.method) \(record.scope.path)"
        guard record.fingerprint == fingerprint else {
            throw MagnumError(.conflict, "Idempotency-Key '\(key)' was already used for a different request to \(target); use a new key for a new request.")
        }
        switch record.state {
        case .complete:
            guard let answer = record.response else { throw MagnumError(.internal, "An unexpected error prevented the server from fulfilling your request.") }
            var h = headers
            for (name, value) in answer.headers {
                if let field = HTTPField.Name(name) { h[field] = value }
            }
            h[Self.replayedHeader] = "true"
            let body = answer.body.map { ByteBuffer(string: $0) } ?? ByteBuffer()
            return Response(status: .init(code: answer.status), headers: h, body: .init(byteBuffer: body))
        case .inProgress where !record.changed || record.claimedAt >= now.addingTimeInterval(-staleClaim):
            throw MagnumError(.conflict, "A request with this Idempotency-Key ('\(key)') is in progress; retry later.")
        case .inProgress, .interrupted:
            throw MagnumError(.conflict, "The request with Idempotency-Key '\(key)' to \(target) was interrupted after it had changed state; its outcome is unknown. Check the resource, and use a new key for a new request.")
        }
    }

    /// Gives the key back after a failed request (best effort: a claim left behind is taken
    /// over once stale).
    private func release(_ claim: IdempotencyClaim, logger: Logger) async {
        do {
            try await store.write { try await $0.releaseIdempotencyKey(claim) }
        } catch {
            logger.warning("could not release an Idempotency-Key claim", metadata: ["error": .string(String(describing: error))])
        }
    }

    /// A handler's answer as the responder renders it.
    static func render(_ out: APIResponse, headers: HTTPFields) -> Response {
        var h = headers
        for (k, v) in out.headers { h[HTTPField.Name(k)!] = v }
        if let b = out.body { return MagnumResponder.json(out.status, b, headers: h) }
        return Response(status: .init(code: out.status), headers: h)
    }
}
