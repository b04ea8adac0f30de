import Foundation
import MagnumCore
import SQLKit

// MARK: - Public types

/// Who used an `Idempotency-Key` and where: a key is only the same key for the same project,
/// user, method and path (another user or project reusing it has a key of their own).
public struct IdempotencyScope: Sendable, Hashable {
    /// The caller's project (nil for a token without a project).
    public var projectID: String?
    /// The caller's user.
    public var userID: String?
    /// The HTTP method in upper case.
    public var method: String
    /// The request path (`/v1/clusters`, `/v1/clusters/<ident>/nodegroups`, …).
    public var path: String
    /// The header's value.
    public var key: String

    /// Creates a scope.
    public init(projectID: String?, userID: String?, method: String, path: String, key: String) {
        self.projectID = projectID
        self.userID = userID
        self.method = method
        self.path = path
        self.key = key
    }
}

/// One request's ownership of a key: the scope and the random token of the request that
/// claimed it. Write transactions run while `IdempotencyClaim.current` is set first check that
/// the claim is still theirs (see `SQLStore`), so a request whose claim was taken over changes
/// nothing.
public struct IdempotencyClaim: Sendable, Hashable {
    /// The claimed key.
    public var scope: IdempotencyScope
    /// The claiming request's token.
    public var owner: String

    /// Creates a claim.
    public init(scope: IdempotencyScope, owner: String) {
        self.scope = scope
        self.owner = owner
    }

    /// The claim of the request the current task is running, if any.
    @TaskLocal public static var current: IdempotencyClaim?
}

/// A finished request's answer as stored for replay.
public struct IdempotentResponse: Sendable, Hashable {
    /// The HTTP status.
    public var status: Int
    /// Response headers worth replaying (content type, location, API version), by name.
    public var headers: [String: String]
    /// The body text; nil when there was none.
    public var body: String?

    /// Creates a stored response.
    public init(status: Int, headers: [String: String], body: String?) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// The stored state of one `Idempotency-Key`.
public struct IdempotencyRecord: Sendable, Hashable {
    /// Where a key's request stands.
    public enum State: String, Sendable {
        /// A request holds the key and is running.
        case inProgress = "in_progress"
        /// The request finished; `response` is its answer.
        case complete
        /// The request failed after one of its transactions had committed: its outcome is
        /// unknown, so it is neither replayed nor run again.
        case interrupted
    }

    /// The key and its scope.
    public var scope: IdempotencyScope
    /// SHA-256 (hex) of the request's method, path, query and canonical body.
    public var fingerprint: String
    /// The token of the request holding (or that held) the key.
    public var owner: String
    /// Where the request stands.
    public var state: State
    /// Whether a write transaction of the holding request has committed.
    public var changed: Bool
    /// The stored answer of a complete request.
    public var response: IdempotentResponse?
    /// When the key was first used.
    public var createdAt: Date
    /// When the current holder claimed it.
    public var claimedAt: Date
    /// When the key is forgotten.
    public var expiresAt: Date
}

/// What claiming a key found.
public enum IdempotencyClaimResult: Sendable, Hashable {
    /// The caller holds the key now: it was new (or expired), or an in-progress claim of the
    /// same request had gone stale without changing anything and was taken over.
    case claimed(takenOver: Bool)
    /// Another request holds or held the key.
    case existing(IdempotencyRecord)
}

// MARK: - Schema

extension Migrations {
    /// Version 6: `Idempotency-Key`s of create requests, unique per (project, user, method,
    /// path, key); a missing project or user is stored as the empty string so that the key
    /// stays unique.
    @Sendable
    static func idempotencySchema(_ dialect: SQLStoreDialect) -> [String] {
        let t = ColumnTypes(dialect)
        return [
            """
            CREATE TABLE idempotency_key (
                project_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                method TEXT NOT NULL,
                path TEXT NOT NULL,
                request_key TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                owner TEXT NOT NULL,
                state TEXT NOT NULL,
                changed \(t.bool) NOT NULL DEFAULT FALSE,
                response_status \(t.int),
                response_headers TEXT,
                response_body TEXT,
                created_at \(t.timestamp) NOT NULL,
                claimed_at \(t.timestamp) NOT NULL,
                expires_at \(t.timestamp) NOT NULL,
                PRIMARY KEY (project_id, user_id, method, path, request_key)
            )
            """,
            "CREATE INDEX idempotency_key_expires_at_idx ON idempotency_key (expires_at)",
        ]
    }
}

// MARK: - SQL

extension SQLSession {
    /// The predicate selecting the row of a scope.
    private func scopeMatches(_ s: IdempotencyScope) -> SQLQueryString {
        """
        \(ident: "project_id") = \(bind: s.projectID ?? "") AND \(ident: "user_id") = \(bind: s.userID ?? "") \
        AND \(ident: "method") = \(bind: s.method) AND \(ident: "path") = \(bind: s.path) \
        AND \(ident: "request_key") = \(bind: s.key)
        """
    }

    private func decodeRecord(_ row: any SQLRow, scope: IdempotencyScope) throws -> IdempotencyRecord {
        guard let state = IdempotencyRecord.State(rawValue: try row.string("state")) else { throw corruptColumn("state") }
        var response: IdempotentResponse? = nil
        if let status = try row.decode(column: "response_status", as: Int?.self) {
            var headers: [String: String] = [:]
            if let text = try row.decode(column: "response_headers", as: String?.self), !text.isEmpty {
                guard let object = (try? JSON.parse(string: text))?.objectValue else { throw corruptColumn("response_headers") }
                headers = object.compactMapValues(\.stringValue)
            }
            response = IdempotentResponse(status: status, headers: headers, body: try row.decode(column: "response_body", as: String?.self))
        }
        return IdempotencyRecord(
            scope: scope, fingerprint: try row.string("fingerprint"), owner: try row.string("owner"), state: state,
            changed: try row.bool("changed"), response: response,
            createdAt: try row.date("created_at") ?? Date(timeIntervalSince1970: 0),
            claimedAt: try row.date("claimed_at") ?? Date(timeIntervalSince1970: 0),
            expiresAt: try row.date("expires_at") ?? Date(timeIntervalSince1970: 0))
    }

    func idempotencyRecord(_ scope: IdempotencyScope) async throws -> IdempotencyRecord? {
        try await fetch("SELECT * FROM \(ident: "idempotency_key") WHERE \(scopeMatches(scope))") {
            try decodeRecord($0, scope: scope)
        }.first
    }

    func claimIdempotencyKey(_ scope: IdempotencyScope, fingerprint: String, owner: String, now: Date, expiresAt: Date,
                             staleBefore: Date) async throws -> IdempotencyClaimResult
    {
        let now = now.storeNormalized
        // Expired keys are forgotten on the way: an expired key is a new key.
        try await run("DELETE FROM \(ident: "idempotency_key") WHERE \(scopeMatches(scope)) AND \(ident: "expires_at") <= \(bind: now)")
        try await purgeSomeIdempotencyKeys(expiredAt: now)
        var v = RowValues()
        v.set("project_id", scope.projectID ?? "")
        v.set("user_id", scope.userID ?? "")
        v.set("method", scope.method)
        v.set("path", scope.path)
        v.set("request_key", scope.key)
        v.set("fingerprint", fingerprint)
        v.set("owner", owner)
        v.set("state", IdempotencyRecord.State.inProgress.rawValue)
        v.set("changed", false)
        v.set("created_at", now)
        v.set("claimed_at", now)
        v.set("expires_at", expiresAt.storeNormalized)
        // ON CONFLICT DO NOTHING: a concurrent claimer waits for the first one's transaction
        // and then finds its row, without aborting its own transaction (PostgreSQL).
        try await run(
            """
            INSERT INTO \(ident: "idempotency_key") (\(idents: v.names, joinedBy: ", ")) VALUES (\(binds: v.values)) \
            ON CONFLICT DO NOTHING
            """)
        guard let record = try await idempotencyRecord(scope) else {
            throw MagnumError(.internal, DatabaseErrors.internalMessage)
        }
        if record.owner == owner { return .claimed(takenOver: false) }
        // A stale claim of the same request that changed nothing: its process died (or hangs);
        // take it over. The holder's write transactions check their claim first, so if it is
        // still alive it can no longer change anything.
        if record.fingerprint == fingerprint, record.state == .inProgress, !record.changed, record.claimedAt < staleBefore {
            let taken = try await all(
                """
                UPDATE \(ident: "idempotency_key") SET \(ident: "owner") = \(bind: owner), \(ident: "claimed_at") = \(bind: now) \
                WHERE \(scopeMatches(scope)) AND \(ident: "owner") = \(bind: record.owner) \
                AND \(ident: "state") = \(bind: IdempotencyRecord.State.inProgress.rawValue) AND \(ident: "changed") = \(bind: false) \
                RETURNING \(ident: "owner")
                """)
            if !taken.isEmpty { return .claimed(takenOver: true) }
            if let again = try await idempotencyRecord(scope) { return .existing(again) }
        }
        return .existing(record)
    }

    /// Checks inside a write transaction that `claim` still holds its key and records that the
    /// holder changed something (visible only if the transaction commits). On PostgreSQL the
    /// row stays locked until the transaction ends, so a takeover cannot slip in between.
    func fenceIdempotencyClaim(_ claim: IdempotencyClaim) async throws {
        let rows = try await all(
            """
            UPDATE \(ident: "idempotency_key") SET \(ident: "changed") = \(bind: true) \
            WHERE \(scopeMatches(claim.scope)) AND \(ident: "owner") = \(bind: claim.owner) \
            AND \(ident: "state") = \(bind: IdempotencyRecord.State.inProgress.rawValue) RETURNING \(ident: "owner")
            """)
        if rows.isEmpty {
            throw MagnumError(.conflict, "Another request took over Idempotency-Key '\(claim.scope.key)'; this request changed nothing.")
        }
    }

    func completeIdempotencyKey(_ claim: IdempotencyClaim, response: IdempotentResponse) async throws -> Bool {
        let headers = JSON.object(response.headers.mapValues(JSON.string)).serialized()
        let rows = try await all(
            """
            UPDATE \(ident: "idempotency_key") SET \(ident: "state") = \(bind: IdempotencyRecord.State.complete.rawValue), \
            \(ident: "response_status") = \(bind: response.status), \(ident: "response_headers") = \(bind: headers), \
            \(ident: "response_body") = \(bind: response.body) \
            WHERE \(scopeMatches(claim.scope)) AND \(ident: "owner") = \(bind: claim.owner) \
            AND \(ident: "state") = \(bind: IdempotencyRecord.State.inProgress.rawValue) RETURNING \(ident: "owner")
            """)
        return !rows.isEmpty
    }

    func releaseIdempotencyKey(_ claim: IdempotencyClaim) async throws {
        let inProgress = IdempotencyRecord.State.inProgress.rawValue
        try await run(
            """
            DELETE FROM \(ident: "idempotency_key") WHERE \(scopeMatches(claim.scope)) AND \(ident: "owner") = \(bind: claim.owner) \
            AND \(ident: "state") = \(bind: inProgress) AND \(ident: "changed") = \(bind: false)
            """)
        try await run(
            """
            UPDATE \(ident: "idempotency_key") SET \(ident: "state") = \(bind: IdempotencyRecord.State.interrupted.rawValue) \
            WHERE \(scopeMatches(claim.scope)) AND \(ident: "owner") = \(bind: claim.owner) AND \(ident: "state") = \(bind: inProgress)
            """)
    }

    /// Purges up to 100 expired keys. On PostgreSQL rows another transaction has locked are
    /// skipped, so concurrent claimers never wait on (or deadlock over) each other's purges.
    private func purgeSomeIdempotencyKeys(expiredAt now: Date) async throws {
        let columns = ["project_id", "user_id", "method", "path", "request_key"]
        let lock: SQLQueryString = dialect == .postgres ? "FOR UPDATE SKIP LOCKED" : ""
        try await run(
            """
            DELETE FROM \(ident: "idempotency_key") WHERE (\(idents: columns, joinedBy: ", ")) IN \
            (SELECT \(idents: columns, joinedBy: ", ") FROM \(ident: "idempotency_key") \
            WHERE \(ident: "expires_at") <= \(bind: now.storeNormalized) LIMIT 100 \(lock))
            """)
    }

    func purgeIdempotencyKeys(expiredAt now: Date) async throws -> Int {
        try await all(
            """
            DELETE FROM \(ident: "idempotency_key") WHERE \(ident: "expires_at") <= \(bind: now.storeNormalized) \
            RETURNING \(ident: "request_key")
            """
        ).count
    }
}
