import Foundation
import MagnumAPI
import MagnumCore
import MagnumStore
import MagnumTestSupport
import XCTest

/// `Idempotency-Key` on the create routes (README "Idempotency-Key"): replay, conflicts,
/// scope, validation, expiry, failures, concurrency — on SQLite and PostgreSQL.
final class IdempotencyTests: XCTestCase {
    // MARK: Helpers

    private func clusterBody(_ template: String, name: String = "k8s") -> JSON {
        ["name": .string(name), "cluster_template_id": .string(template), "master_count": 1, "node_count": 1]
    }

    private func template(_ h: APIHarness, token: APIHarness.Token = .demo) async throws -> String {
        try await h.createTemplate(token: token)["uuid"]?.stringValue ?? ""
    }

    private static func postCluster(_ h: APIHarness, _ body: JSON, key: String?, token: APIHarness.Token = .demo) async throws -> APIHarness.Reply {
        try await h.request(.post, "/v1/clusters", token: token, version: "latest", body: body,
                            headers: key.map { ["Idempotency-Key": $0] } ?? [:])
    }

    private func clusterCount(_ h: APIHarness) async throws -> Int {
        try await h.store.read { try await $0.clusters(.everything, sort: MagnumStore.SortOrder()) }.count
    }

    private func scope(_ key: String, user: String = "demo", project: String? = "demo-project", path: String = "/v1/clusters") -> IdempotencyScope {
        IdempotencyScope(projectID: project, userID: user, method: "POST", path: path, key: key)
    }

    private func record(_ h: APIHarness, _ scope: IdempotencyScope) async throws -> IdempotencyRecord? {
        try await h.store.read { try await $0.idempotencyRecord(scope) }
    }

    /// Fails the first `failures` certificate sets with a 503, then issues real ones.
    private actor FlakyAuthority: CertificateAuthority {
        var failures: Int
        init(failures: Int) { self.failures = failures }

        func issueCertificateSet(clusterName: String?, clusterUUID: String) async throws -> [ClusterCertificate] {
            if failures > 0 {
                failures -= 1
                throw MagnumError(.unavailable, "Certificate authority unavailable")
            }
            return try await APIHarness.certificateAuthority.issueCertificateSet(clusterName: clusterName, clusterUUID: clusterUUID)
        }

        func sign(csrPEM: String, with authority: ClusterCertificate, issuerName: String) async throws -> String {
            try await APIHarness.certificateAuthority.sign(csrPEM: csrPEM, with: authority, issuerName: issuerName)
        }

        nonisolated func seal(secret: String, context: String) throws -> String {
            try APIHarness.certificateAuthority.seal(secret: secret, context: context)
        }
    }

    // MARK: Replay

    func testSameKeyAndBodyReplaysTheFirstAnswerAndCreatesOneCluster() async throws {
        try await APIHarness.withEach { h in
            let body = clusterBody(try await template(h))
            let first = try await Self.postCluster(h, body, key: "create-k8s-1")
            XCTAssertEqual(first.status, 202, first.text)
            XCTAssertNil(first.header("Idempotent-Replayed"))
            for _ in 0..<2 {
                let again = try await Self.postCluster(h, body, key: "create-k8s-1")
                XCTAssertEqual(again.status, 202, again.text)
                XCTAssertEqual(again.text, first.text)
                XCTAssertEqual(again.header("Idempotent-Replayed"), "true")
                XCTAssertEqual(again.header("Content-Type"), "application/json")
                XCTAssertEqual(again.header("OpenStack-API-Version"), first.header("OpenStack-API-Version"))
                XCTAssertNotNil(again.header("x-openstack-request-id"))
                XCTAssertNotEqual(again.header("x-openstack-request-id"), first.header("x-openstack-request-id"))
            }
            let awaited1 = try await clusterCount(h)
            XCTAssertEqual(awaited1, 1, h.label)
            let stored = try await record(h, scope("create-k8s-1"))
            XCTAssertEqual(stored?.state, .complete)
            XCTAssertEqual(stored?.response?.status, 202)
            // The body's key order and spacing do not matter (canonical JSON).
            let reordered = try await h.request(.post, "/v1/clusters", version: "latest",
                                                rawBody: "{ \"node_count\": 1, \"master_count\": 1, \"cluster_template_id\": \"\(body["cluster_template_id"]?.stringValue ?? "")\", \"name\": \"k8s\" }",
                                                headers: ["Idempotency-Key": "create-k8s-1", "Content-Type": "application/json"])
            XCTAssertEqual(reordered.status, 202, reordered.text)
            XCTAssertEqual(reordered.header("Idempotent-Replayed"), "true")
            let awaited2 = try await clusterCount(h)
            XCTAssertEqual(awaited2, 1, h.label)
        }
    }

    func testEveryCreateRouteReplaysStatusBodyAndLocation() async throws {
        try await APIHarness.withEach { h in
            func twice(_ path: String, token: APIHarness.Token = .demo, version: String? = nil, _ body: JSON,
                       line: UInt = #line) async throws -> APIHarness.Reply
            {
                let key = "route-\(path)"
                let a = try await h.request(.post, path, token: token, version: version, body: body, headers: ["Idempotency-Key": key])
                let b = try await h.request(.post, path, token: token, version: version, body: body, headers: ["Idempotency-Key": key])
                XCTAssertTrue((200..<300).contains(a.status), "\(path): \(a.text)", line: line)
                XCTAssertEqual(b.status, a.status, path, line: line)
                XCTAssertEqual(b.text, a.text, path, line: line)
                XCTAssertEqual(b.header("Location"), a.header("Location"), path, line: line)
                XCTAssertEqual(b.header("Idempotent-Replayed"), "true", path, line: line)
                return a
            }
            let t = try await twice("/v1/clustertemplates", [
                "name": "ct", "coe": "kubernetes", "image_id": "fedora-coreos-latest", "external_network_id": "public",
                "flavor_id": "m1.small", "master_flavor_id": "m1.small", "keypair_id": "kp",
            ])
            XCTAssertEqual(t.status, 201)
            let templates = try await h.store.read { try await $0.clusterTemplates(.everything, sort: MagnumStore.SortOrder()) }
            XCTAssertEqual(templates.count, 1, h.label)

            let bm = try await twice("/v1/baymodels", [
                "name": "bm", "coe": "kubernetes", "image_id": "fedora-coreos-latest", "external_network_id": "public",
                "flavor_id": "m1.small", "master_flavor_id": "m1.small", "keypair_id": "kp",
            ])
            XCTAssertNotNil(bm.header("Location"))

            let c = try await h.createCluster(template: t.json?["uuid"]?.stringValue ?? "")
            try await h.setClusterState(c, .createComplete, apiAddress: "https://192.0.2.10:6443")
            _ = try await twice("/v1/clusters/\(c)/nodegroups", version: "latest", ["name": "ng1"])
            let ngs = try await h.store.read { try await $0.nodegroups(clusterUUID: c, role: nil, sort: MagnumStore.SortOrder()) }
            XCTAssertEqual(ngs.filter { $0.name == "ng1" }.count, 1, h.label)

            _ = try await twice("/v1/federations", ["name": "fed1", "hostcluster_id": .string(c), "properties": ["dns-zone": "example.com."]])
            let feds = try await h.store.read { try await $0.federations(.everything, sort: MagnumStore.SortOrder()) }
            XCTAssertEqual(feds.count, 1, h.label)

            _ = try await twice("/v1/quotas", token: .admin, ["project_id": "demo-project", "resource": "Cluster", "hard_limit": 5])
            _ = try await twice("/v1/bays", version: "1.2", ["name": "bay1", "baymodel_id": .string(bm.json?["uuid"]?.stringValue ?? ""),
                                                            "node_count": 1, "master_count": 1])
            let awaited3 = try await clusterCount(h)
            XCTAssertEqual(awaited3, 2, h.label)
        }
    }

    func testSameKeyWithAnotherBodyIsAConflictNamingTheKey() async throws {
        try await APIHarness.withEach { h in
            let t = try await template(h)
            let first = try await Self.postCluster(h, clusterBody(t), key: "k-1")
            XCTAssertEqual(first.status, 202, first.text)
            let other = try await Self.postCluster(h, clusterBody(t, name: "other"), key: "k-1")
            XCTAssertEqual(other.status, 409, other.text)
            XCTAssertEqual(other.errorDetail,
                           "Idempotency-Key 'k-1' was already used for a different request to POST /v1/clusters; use a new key for a new request.")
            XCTAssertEqual(other.json?["errors"]?.arrayValue?.first?["code"], "client")
            let awaited4 = try await clusterCount(h)
            XCTAssertEqual(awaited4, 1, h.label)
        }
    }

    func testKeysAreScopedToProjectUserAndPath() async throws {
        try await APIHarness.withEach { h in
            let t = try await template(h)
            let otherT = try await template(h, token: .other)
            let awaited5 = try await Self.postCluster(h, clusterBody(t), key: "shared").status
            XCTAssertEqual(awaited5, 202)
            // Same project, another user: a key of its own (and the body may differ).
            let demo2 = try await Self.postCluster(h, clusterBody(t, name: "mine"), key: "shared", token: .demo2)
            XCTAssertEqual(demo2.status, 202, demo2.text)
            XCTAssertNil(demo2.header("Idempotent-Replayed"))
            // Another project.
            let other = try await Self.postCluster(h, clusterBody(otherT), key: "shared", token: .other)
            XCTAssertEqual(other.status, 202, other.text)
            XCTAssertNil(other.header("Idempotent-Replayed"))
            // Another path.
            let ct = try await h.request(.post, "/v1/clustertemplates", body: [
                "name": "ct2", "coe": "kubernetes", "image_id": "fedora-coreos-latest", "external_network_id": "public",
            ], headers: ["Idempotency-Key": "shared"])
            XCTAssertEqual(ct.status, 201, ct.text)
            let awaited6 = try await clusterCount(h)
            XCTAssertEqual(awaited6, 3, h.label)
        }
    }

    // MARK: Concurrency

    func testConcurrentRequestsWithOneKeyCreateExactlyOneCluster() async throws {
        try await APIHarness.withEach { h in
            let body = clusterBody(try await template(h))
            let replies = try await withThrowingTaskGroup(of: APIHarness.Reply.self) { group in
                for _ in 0..<20 { group.addTask { try await IdempotencyTests.postCluster(h, body, key: "race") } }
                return try await group.reduce(into: [APIHarness.Reply]()) { $0.append($1) }
            }
            let awaited7 = try await clusterCount(h)
            XCTAssertEqual(awaited7, 1, h.label)
            let accepted = replies.filter { $0.status == 202 }
            XCTAssertGreaterThanOrEqual(accepted.count, 1, h.label)
            XCTAssertEqual(Set(accepted.map(\.text)).count, 1, h.label)
            XCTAssertEqual(accepted.filter { $0.header("Idempotent-Replayed") == nil }.count, 1, h.label)
            for r in replies where r.status != 202 {
                XCTAssertEqual(r.status, 409, r.text)
                XCTAssertEqual(r.errorDetail, "A request with this Idempotency-Key ('race') is in progress; retry later.")
            }
            // Once settled, every retry is the replay.
            let after = try await Self.postCluster(h, body, key: "race")
            XCTAssertEqual(after.text, accepted.first?.text)
        }
    }

    /// Several API processes (each its own store and connection pool) on one PostgreSQL
    /// database: still one cluster.
    func testConcurrentRequestsThroughSeveralAPIProcessesCreateOneCluster() async throws {
        guard let admin = TestDatabases.postgresAdminURL else { throw XCTSkip("PostgreSQL not configured") }
        try await TestDatabases.withPostgresDatabase(adminURL: admin) { store, url in
            let first = try await APIHarness.make(store: store, label: "postgres")
            let secondStore = try SQLStore.postgres(url: url, logger: TestDatabases.logger)
            try await withThrowingTaskGroup(of: Void.self) { pool in
                pool.addTask { try await secondStore.run() }
                var env = first.env
                env.store = secondStore
                env.catalog = LocalCatalog(store: secondStore)
                let second = APIHarness(store: secondStore, env: env, label: "postgres-2")
                let body = clusterBody(try await template(first))
                let replies = try await withThrowingTaskGroup(of: APIHarness.Reply.self) { group in
                    for i in 0..<20 { group.addTask { try await IdempotencyTests.postCluster(i % 2 == 0 ? first : second, body, key: "two-processes") } }
                    return try await group.reduce(into: [APIHarness.Reply]()) { $0.append($1) }
                }
                let awaited8 = try await clusterCount(first)
                XCTAssertEqual(awaited8, 1)
                XCTAssertTrue(replies.allSatisfy { $0.status == 202 || $0.status == 409 }, replies.map(\.text).joined(separator: "\n"))
                XCTAssertEqual(Set(replies.filter { $0.status == 202 }.map(\.text)).count, 1)
                pool.cancelAll()
            }
        }
    }

    // MARK: Validation and access

    func testInvalidKeysAreRefusedWith400() async throws {
        try await APIHarness.withEach { h in
            let body = clusterBody(try await template(h))
            for key in ["", String(repeating: "k", count: 256), "schlüssel"] {
                let r = try await Self.postCluster(h, body, key: key)
                XCTAssertEqual(r.status, 400, "\(key): \(r.text)")
                XCTAssertEqual(r.errorDetail, "Invalid Idempotency-Key: expected 1 to 255 printable ASCII characters.")
            }
            let longest = try await Self.postCluster(h, body, key: String(repeating: "k", count: 255))
            XCTAssertEqual(longest.status, 202, longest.text)
            let awaited9 = try await clusterCount(h)
            XCTAssertEqual(awaited9, 1, h.label)
        }
    }

    func testUnauthenticatedAndForbiddenRequestsNeverTouchTheKeyTable() async throws {
        try await APIHarness.withEach { h in
            let body = clusterBody(try await template(h))
            let anonymous = try await h.request(.post, "/v1/clusters", token: nil, version: "latest", body: body, headers: ["Idempotency-Key": "k"])
            XCTAssertEqual(anonymous.status, 401)
            let reader = try await Self.postCluster(h, body, key: "k", token: .reader)
            XCTAssertEqual(reader.status, 403, reader.text)
            XCTAssertEqual(reader.errorDetail, "Policy doesn't allow cluster:create to be performed.")
            let awaited10 = try await record(h, scope("k", user: "reader"))
            XCTAssertNil(awaited10)
            let awaited11 = try await clusterCount(h)
            XCTAssertEqual(awaited11, 0)
        }
    }

    func testWithoutKeyEveryPostCreates() async throws {
        try await APIHarness.withEach { h in
            let body = clusterBody(try await template(h))
            let a = try await Self.postCluster(h, body, key: nil)
            let b = try await Self.postCluster(h, body, key: nil)
            XCTAssertEqual(a.status, 202)
            XCTAssertEqual(b.status, 202)
            XCTAssertNotEqual(a.text, b.text)
            XCTAssertNil(b.header("Idempotent-Replayed"))
            let awaited12 = try await clusterCount(h)
            XCTAssertEqual(awaited12, 2, h.label)
            // Other methods ignore the header.
            let get = try await h.request(.get, "/v1/clusters", headers: ["Idempotency-Key": ""])
            XCTAssertEqual(get.status, 200)
        }
    }

    // MARK: Expiry and failures

    func testExpiredKeyIsANewKey() async throws {
        var config = APIConfiguration()
        config.idempotencyTTL = 0
        try await APIHarness.withEach(config: config) { h in
            let body = clusterBody(try await template(h))
            let a = try await Self.postCluster(h, body, key: "short-lived")
            let b = try await Self.postCluster(h, body, key: "short-lived")
            XCTAssertEqual(a.status, 202, a.text)
            XCTAssertEqual(b.status, 202, b.text)
            XCTAssertNil(b.header("Idempotent-Replayed"))
            XCTAssertNotEqual(a.text, b.text)
            let awaited13 = try await clusterCount(h)
            XCTAssertEqual(awaited13, 2, h.label)
        }
        try await APIHarness.withEach { h in
            let body = clusterBody(try await template(h))
            let awaited14 = try await Self.postCluster(h, body, key: "day").status
            XCTAssertEqual(awaited14, 202)
            let stored = try await record(h, scope("day"))
            let ttl = (stored?.expiresAt.timeIntervalSince1970 ?? 0) - (stored?.createdAt.timeIntervalSince1970 ?? 0)
            XCTAssertEqual(ttl, 24 * 3600, accuracy: 1)
            let purged = try await h.store.write { try await $0.purgeIdempotencyKeys(expiredAt: Date().addingTimeInterval(25 * 3600)) }
            XCTAssertEqual(purged, 1)
            let awaited15 = try await record(h, scope("day"))
            XCTAssertNil(awaited15)
        }
    }

    func testServerErrorsAreNotStoredSoARetrySucceeds() async throws {
        try await TestDatabases.withEach { store, label in
            let base = try await APIHarness.make(store: store, label: label)
            var env = base.env
            env.certificates = FlakyAuthority(failures: 1)
            let h = APIHarness(store: store, env: env, label: label)
            let body = clusterBody(try await template(h))
            let failed = try await Self.postCluster(h, body, key: "retry-me")
            XCTAssertEqual(failed.status, 503, failed.text)
            let awaited16 = try await record(h, scope("retry-me"))
            XCTAssertNil(awaited16)
            let retried = try await Self.postCluster(h, body, key: "retry-me")
            XCTAssertEqual(retried.status, 202, retried.text)
            XCTAssertNil(retried.header("Idempotent-Replayed"))
            let awaited17 = try await clusterCount(h)
            XCTAssertEqual(awaited17, 1, label)
        }
    }

    func testClientErrorsAreNotStoredSoACorrectedRetrySucceeds() async throws {
        try await APIHarness.withEach { h in
            let body: JSON = ["name": "k8s", "cluster_template_id": "later", "master_count": 1, "node_count": 1]
            let missing = try await Self.postCluster(h, body, key: "fix-me")
            XCTAssertEqual(missing.status / 100, 4, missing.text)
            let awaited18 = try await record(h, scope("fix-me"))
            XCTAssertNil(awaited18)
            _ = try await h.createTemplate(["name": "later"])
            let retried = try await Self.postCluster(h, body, key: "fix-me")
            XCTAssertEqual(retried.status, 202, retried.text)
            let awaited19 = try await clusterCount(h)
            XCTAssertEqual(awaited19, 1, h.label)
        }
    }

    // MARK: Claims

    func testStaleClaimIsTakenOverUnlessItChangedSomething() async throws {
        try await APIHarness.withEach { h in
            let body = clusterBody(try await template(h))
            let awaited20 = try await Self.postCluster(h, body, key: "probe").status
            XCTAssertEqual(awaited20, 202)
            let fingerprint = try await record(h, scope("probe"))?.fingerprint ?? ""
            let hourAgo = Date().addingTimeInterval(-3600)
            func claim(_ key: String, at: Date) async throws -> IdempotencyClaim {
                let c = IdempotencyClaim(scope: scope(key), owner: UUIDs.make())
                let result = try await h.store.write {
                    try await $0.claimIdempotencyKey(c.scope, fingerprint: fingerprint, owner: c.owner, now: at,
                                                     expiresAt: at.addingTimeInterval(86400), staleBefore: at.addingTimeInterval(-300))
                }
                XCTAssertEqual(result, .claimed(takenOver: false))
                return c
            }
            // A fresh claim (a request still running) → 409 in progress.
            _ = try await claim("fresh", at: Date())
            let busy = try await Self.postCluster(h, body, key: "fresh")
            XCTAssertEqual(busy.status, 409, busy.text)
            XCTAssertEqual(busy.errorDetail, "A request with this Idempotency-Key ('fresh') is in progress; retry later.")

            // A stale claim that changed nothing (its process died early) → taken over, runs once.
            let dead = try await claim("stale", at: hourAgo)
            let taken = try await Self.postCluster(h, body, key: "stale")
            XCTAssertEqual(taken.status, 202, taken.text)
            let awaited21 = try await clusterCount(h)
            XCTAssertEqual(awaited21, 2, h.label)
            // The dead request can no longer write under its lost claim.
            do {
                try await IdempotencyClaim.$current.withValue(dead) { try await h.store.write { _ in } }
                XCTFail("write under a lost claim succeeded")
            } catch let error as MagnumError {
                XCTAssertEqual(error.code, .conflict)
            }

            // A stale claim whose request committed a change → never run again.
            let changed = try await claim("changed", at: hourAgo)
            try await IdempotencyClaim.$current.withValue(changed) { try await h.store.write { _ in } }
            let unknown = try await Self.postCluster(h, body, key: "changed")
            XCTAssertEqual(unknown.status, 409, unknown.text)
            XCTAssertTrue(unknown.errorDetail?.contains("was interrupted after it had changed state") == true, unknown.text)
            // Releasing a changed claim keeps it, as interrupted.
            try await h.store.write { try await $0.releaseIdempotencyKey(changed) }
            let awaited22 = try await record(h, scope("changed"))?.state
            XCTAssertEqual(awaited22, .interrupted)
            let awaited23 = try await clusterCount(h)
            XCTAssertEqual(awaited23, 2, h.label)
        }
    }
}
