import Foundation
import MagnumCore
import MagnumStore
import MagnumTestSupport
import XCTest

private struct Boom: Error, Equatable {}

/// Visibility, sorting, transactions, conflicts, migrations, stats and concurrency.
final class StoreBehaviourTests: XCTestCase {
    func testMigrateTwiceIsNoOp() async throws {
        try await TestDatabases.withEach { store, label in
            let again = try await store.migrate()
            XCTAssertEqual(again, [], label)
            let third = try await store.migrate()
            XCTAssertEqual(third, [], label)
            let sql = try XCTUnwrap(store as? SQLStore, label)
            let versions = try await sql.appliedSchemaVersions()
            XCTAssertEqual(versions, SQLStore.knownSchemaVersions, label)
            // The schema still works after the no-op migrations.
            _ = try await store.write { s in try await s.insert(Fixtures.fullCluster()) }
        }
    }

    func testFreshStoreMigratesEverything() async throws {
        let store = try await SQLStore.sqliteInMemory(logger: TestDatabases.logger)
        let applied = try await store.migrate()
        XCTAssertEqual(applied, SQLStore.knownSchemaVersions)
        let again = try await store.migrate()
        XCTAssertEqual(again, [])
        let cluster = try await store.write { s in try await s.insert(Fixtures.fullCluster()) }
        let read = try await store.read { s in try await s.clusters(matching: .uuid(cluster.uuid), .everything) }
        XCTAssertEqual(read, [cluster])
        try await store.shutdown()
        await assertMagnumError(.unavailable) {
            _ = try await store.read { s in try await s.services() }
        }
    }

    func testTemplateVisibility() async throws {
        try await TestDatabases.withEach { store, label in
            var own = Fixtures.fullTemplate(project: "p1", user: "u1", name: "own")
            own.isPublic = false
            own.hidden = false
            var otherPublic = Fixtures.fullTemplate(project: "p2", user: "u2", name: "public")
            otherPublic.isPublic = true
            otherPublic.hidden = false
            var otherPublicHidden = Fixtures.fullTemplate(project: "p2", user: "u2", name: "hidden")
            otherPublicHidden.isPublic = true
            otherPublicHidden.hidden = true
            var otherPrivate = Fixtures.fullTemplate(project: "p2", user: "u2", name: "private")
            otherPrivate.isPublic = false
            otherPrivate.hidden = false
            var ownHidden = Fixtures.fullTemplate(project: "p1", user: "u1", name: "own-hidden")
            ownHidden.isPublic = false
            ownHidden.hidden = true
            let all = [own, otherPublic, otherPublicHidden, otherPrivate, ownHidden]
            try await store.write { s in
                for t in all { _ = try await s.insert(t) }
            }
            func names(_ v: Visibility) async throws -> [String] {
                try await store.read { s in try await s.clusterTemplates(v, sort: SortOrder()) }.compactMap(\.name)
            }
            let p1 = Visibility(projectID: "p1", userID: "u1", allProjects: false)
            let p1NoPublic = Visibility(projectID: "p1", userID: "u1", allProjects: false, includePublicTemplates: false)
            let userOnly = Visibility(projectID: nil, userID: "u2", allProjects: false, includePublicTemplates: false)
            let nobody = Visibility(projectID: nil, userID: nil, allProjects: false, includePublicTemplates: false)
            let seen = [
                try await names(p1), try await names(p1NoPublic), try await names(.everything),
                try await names(userOnly), try await names(nobody),
            ]
            XCTAssertEqual(seen[0], ["own", "public", "own-hidden"], label)
            XCTAssertEqual(seen[1], ["own", "own-hidden"], label)
            XCTAssertEqual(seen[2], ["own", "public", "hidden", "private", "own-hidden"], label)
            XCTAssertEqual(seen[3], ["public", "hidden", "private"], label)
            XCTAssertEqual(seen[4], [], label)
            let privateUUID = otherPrivate.uuid

            let lookup = try await store.read { s in
                (
                    try await s.clusterTemplates(matching: .uuid(privateUUID), p1),
                    try await s.clusterTemplates(matching: .name("public"), p1),
                    try await s.clusterTemplates(matching: .name("hidden"), p1),
                    try await s.clusterTemplates(matching: .name("private"), .everything)
                )
            }
            XCTAssertEqual(lookup.0, [], label)
            XCTAssertEqual(lookup.1.map(\.uuid), [otherPublic.uuid], label)
            XCTAssertEqual(lookup.2, [], label)
            XCTAssertEqual(lookup.3.map(\.uuid), [otherPrivate.uuid], label)
        }
    }

    func testClusterAndFederationVisibility() async throws {
        try await TestDatabases.withEach { store, label in
            let mine = Fixtures.fullCluster(project: "p1", user: "u1", name: "mine")
            let theirs = Fixtures.fullCluster(project: "p2", user: "u2", name: "theirs")
            let fedMine = Fixtures.fullFederation(project: "p1", name: "fm")
            let fedTheirs = Fixtures.fullFederation(project: "p2", name: "ft")
            try await store.write { s in
                _ = try await s.insert(mine)
                _ = try await s.insert(theirs)
                _ = try await s.insert(fedMine)
                _ = try await s.insert(fedTheirs)
            }
            let p1 = Visibility(projectID: "p1", userID: "u2", allProjects: false)
            let userOnly = Visibility(projectID: nil, userID: "u2", allProjects: false)
            let r = try await store.read { s in
                (
                    try await s.clusters(p1, sort: SortOrder()).map(\.name),
                    try await s.clusters(userOnly, sort: SortOrder()).map(\.name),
                    try await s.clusters(.everything, sort: SortOrder()).map(\.name),
                    try await s.clusters(matching: .uuid(theirs.uuid), p1),
                    try await s.federations(p1, sort: SortOrder()).map(\.name),
                    try await s.federations(.everything, sort: SortOrder()).map(\.name),
                    try await s.federations(matching: .name("ft"), p1)
                )
            }
            XCTAssertEqual(r.0, ["mine"], label)
            XCTAssertEqual(r.1, ["theirs"], label)
            XCTAssertEqual(r.2, ["mine", "theirs"], label)
            XCTAssertEqual(r.3, [], label)
            XCTAssertEqual(r.4, ["fm"], label)
            XCTAssertEqual(r.5, ["fm", "ft"], label)
            XCTAssertEqual(r.6, [], label)
        }
    }

    func testAmbiguousNamesReturnEveryMatch() async throws {
        try await TestDatabases.withEach { store, label in
            let a = Fixtures.fullCluster(name: "dup")
            let b = Fixtures.fullCluster(name: "dup")
            let c = Fixtures.fullCluster(name: "single")
            let t1 = Fixtures.fullTemplate(name: "tdup")
            let t2 = Fixtures.fullTemplate(name: "tdup")
            let f1 = Fixtures.fullFederation(name: "fdup")
            let f2 = Fixtures.fullFederation(name: "fdup")
            try await store.write { s in
                for x in [a, b, c] { _ = try await s.insert(x) }
                for x in [t1, t2] { _ = try await s.insert(x) }
                for x in [f1, f2] { _ = try await s.insert(x) }
            }
            let p1 = Visibility(projectID: "p1", userID: "u1", allProjects: false)
            let r = try await store.read { s in
                (
                    try await s.clusters(matching: .name("dup"), p1),
                    try await s.clusters(matching: .name("single"), p1),
                    try await s.clusterTemplates(matching: .name("tdup"), p1),
                    try await s.federations(matching: .name("fdup"), p1),
                    try await s.clusters(matching: .name("nope"), p1)
                )
            }
            XCTAssertEqual(r.0.map(\.uuid), [a.uuid, b.uuid], label)
            XCTAssertEqual(r.1.map(\.uuid), [c.uuid], label)
            XCTAssertEqual(r.2.count, 2, label)
            XCTAssertEqual(r.3.count, 2, label)
            XCTAssertEqual(r.4, [], label)
        }
    }

    func testSortingByNonIdColumn() async throws {
        try await TestDatabases.withEach { store, label in
            let names: [String?] = ["bravo", nil, "alpha", "charlie", "alpha"]
            var inserted: [Cluster] = []
            for name in names {
                let c = try await store.write { s in try await s.insert(Fixtures.fullCluster(name: name)) }
                inserted.append(c)
            }
            let asc = try await store.read { s in try await s.clusters(.everything, sort: SortOrder(key: "name", ascending: true)) }
            XCTAssertEqual(asc.map(\.name), [nil, "alpha", "alpha", "bravo", "charlie"], label)
            // Ties are broken by id in the same direction.
            XCTAssertEqual(asc.map(\.id)[1...2], [inserted[2].id, inserted[4].id], label)
            let desc = try await store.read { s in try await s.clusters(.everything, sort: SortOrder(key: "name", ascending: false)) }
            XCTAssertEqual(desc.map(\.name), ["charlie", "bravo", "alpha", "alpha", nil], label)
            XCTAssertEqual(desc.map(\.id)[2...3], [inserted[4].id, inserted[2].id], label)
            let byID = try await store.read { s in try await s.clusters(.everything, sort: SortOrder(key: "id", ascending: false)) }
            XCTAssertEqual(byID.map(\.id), inserted.map(\.id).reversed(), label)

            // Integer column, and sorting nodegroups / quotas / templates / federations.
            let quotas = try await store.write { s in
                [
                    try await s.insert(Quota(projectID: "a", resource: "Cluster", hardLimit: 5)),
                    try await s.insert(Quota(projectID: "b", resource: "Cluster", hardLimit: 1)),
                    try await s.insert(Quota(projectID: "c", resource: "Cluster", hardLimit: 3)),
                ]
            }
            let byLimit = try await store.read { s in try await s.quotas(projectID: nil, sort: SortOrder(key: "hard_limit", ascending: true)) }
            XCTAssertEqual(byLimit.map(\.hardLimit), [1, 3, 5], label)
            XCTAssertEqual(Set(byLimit.map(\.id)), Set(quotas.map(\.id)), label)

            await assertMagnumError(.invalid, "The sort_key value \"name; DROP TABLE cluster\" is an invalid field for sorting", label) {
                _ = try await store.read { s in
                    try await s.clusters(.everything, sort: SortOrder(key: "name; DROP TABLE cluster"))
                }
            }
        }
    }

    func testEverySortableColumnExists() async throws {
        try await TestDatabases.withEach { store, label in
            let cluster = try await store.write { s in
                let c = try await s.insert(Fixtures.fullCluster())
                _ = try await s.insert(Fixtures.fullNodegroup(cluster: c.uuid))
                _ = try await s.insert(Fixtures.fullTemplate())
                _ = try await s.insert(Fixtures.fullFederation())
                _ = try await s.insert(Quota(projectID: "p", resource: "Cluster", hardLimit: 1))
                return c
            }
            try await store.read { s in
                for table in [StoreTable.clusterTemplate, .cluster, .nodegroup, .quotas, .federation] {
                    let columns = s.sortableColumns(table)
                    XCTAssertTrue(columns.isSuperset(of: ["id", "created_at", "updated_at"]), "\(label) \(table)")
                    for column in columns {
                        for ascending in [true, false] {
                            let sort = SortOrder(key: column, ascending: ascending)
                            let count: Int
                            switch table {
                            case .clusterTemplate: count = try await s.clusterTemplates(.everything, sort: sort).count
                            case .cluster: count = try await s.clusters(.everything, sort: sort).count
                            case .nodegroup: count = try await s.nodegroups(clusterUUID: cluster.uuid, role: nil, sort: sort).count
                            case .quotas: count = try await s.quotas(projectID: nil, sort: sort).count
                            case .federation: count = try await s.federations(.everything, sort: sort).count
                            }
                            XCTAssertEqual(count, 1, "\(label) \(table) \(column)")
                        }
                    }
                }
            }
            let s = try await store.read { s in s.sortableColumns(.cluster) }
            XCTAssertTrue(s.contains("name") && s.contains("status") && !s.contains("node_count"), label)
        }
    }

    func testWriteThatThrowsLeavesNothingBehind() async throws {
        try await TestDatabases.withEach { store, label in
            let cluster = Fixtures.fullCluster()
            do {
                try await store.write { s in
                    _ = try await s.insert(cluster)
                    _ = try await s.insert(Fixtures.fullNodegroup(cluster: cluster.uuid))
                    _ = try await s.insert(MagnumCore.ClusterOperation(uuid: Fixtures.uuid(), kind: .clusterCreate, resourceUUID: cluster.uuid))
                    _ = try await s.reportService(host: "h", binary: "b")
                    let seen = try await s.clusters(matching: .uuid(cluster.uuid), .everything)
                    XCTAssertEqual(seen.count, 1, label)
                    throw Boom()
                }
                XCTFail("\(label): write did not rethrow")
            } catch let error as Boom {
                XCTAssertEqual(error, Boom(), label)
            }
            let (clusters, nodegroups, operations, services) = try await store.read { s in
                (
                    try await s.clusters(.everything, sort: SortOrder()),
                    try await s.nodegroups(clusterUUIDs: [cluster.uuid]),
                    try await s.operations(resourceUUID: cluster.uuid),
                    try await s.services()
                )
            }
            XCTAssertEqual(clusters, [], label)
            XCTAssertEqual(nodegroups, [], label)
            XCTAssertEqual(operations, [], label)
            XCTAssertEqual(services, [], label)

            // A failing statement also rolls back what came before it in the transaction.
            let first = Fixtures.fullCluster()
            await assertMagnumError(.conflict, nil, label) {
                try await store.write { s in
                    _ = try await s.insert(first)
                    _ = try await s.insert(first)
                }
            }
            let after = try await store.read { s in try await s.clusters(.everything, sort: SortOrder()) }
            XCTAssertEqual(after, [], label)
            // And the store is still usable.
            _ = try await store.write { s in try await s.insert(first) }
        }
    }

    func testReadSessionsAreReadOnly() async throws {
        try await TestDatabases.withEach { store, label in
            await assertMagnumError(.internal, nil, label) {
                _ = try await store.read { s in try await s.insert(Fixtures.fullCluster()) }
            }
            let clusters = try await store.read { s in try await s.clusters(.everything, sort: SortOrder()) }
            XCTAssertEqual(clusters, [], label)
            _ = try await store.write { s in try await s.insert(Fixtures.fullCluster()) }
        }
    }

    func testDuplicateConflicts() async throws {
        try await TestDatabases.withEach { store, label in
            let template = Fixtures.fullTemplate()
            let cluster = Fixtures.fullCluster(template: template.uuid)
            let federation = Fixtures.fullFederation()
            let nodegroup = Fixtures.fullNodegroup(cluster: cluster.uuid, name: "workers")
            try await store.write { s in
                _ = try await s.insert(template)
                _ = try await s.insert(cluster)
                _ = try await s.insert(federation)
                _ = try await s.insert(nodegroup)
                _ = try await s.insert(Quota(projectID: "p1", resource: "Cluster", hardLimit: 1))
            }
            await assertMagnumError(.conflict, "A ClusterTemplate with UUID \(template.uuid) already exists.", label) {
                _ = try await store.write { s in try await s.insert(template) }
            }
            await assertMagnumError(.conflict, "A cluster with UUID \(cluster.uuid) already exists.", label) {
                _ = try await store.write { s in try await s.insert(cluster) }
            }
            await assertMagnumError(.conflict, "A federation with UUID \(federation.uuid) already exists.", label) {
                _ = try await store.write { s in try await s.insert(federation) }
            }
            await assertMagnumError(.conflict, "Quota for project p1 already exists for resource Cluster.", label) {
                _ = try await store.write { s in try await s.insert(Quota(projectID: "p1", resource: "Cluster", hardLimit: 9)) }
            }
            let sameName = Fixtures.fullNodegroup(cluster: cluster.uuid, name: "workers")
            await assertMagnumError(
                .conflict, "A node group with name workers already exists in the cluster \(cluster.uuid).", label
            ) {
                _ = try await store.write { s in try await s.insert(sameName) }
            }
            // Renaming onto an existing name conflicts too.
            let second = try await store.write { s in try await s.insert(Fixtures.fullNodegroup(cluster: cluster.uuid, name: "other")) }
            var rename = second
            rename.name = "workers"
            let renamed = rename
            await assertMagnumError(
                .conflict, "A node group with name workers already exists in the cluster \(cluster.uuid).", label
            ) {
                _ = try await store.write { s in try await s.update(renamed) }
            }
            // The same name in another cluster, and several unnamed nodegroups, are fine.
            try await store.write { s in
                _ = try await s.insert(Fixtures.fullNodegroup(cluster: Fixtures.uuid(), name: "workers"))
                _ = try await s.insert(Fixtures.fullNodegroup(cluster: cluster.uuid, name: nil))
                _ = try await s.insert(Fixtures.fullNodegroup(cluster: cluster.uuid, name: nil))
            }
            let count = try await store.read { s in try await s.nodegroups(clusterUUID: cluster.uuid, role: nil, sort: SortOrder()).count }
            XCTAssertEqual(count, 4, label)
        }
    }

    func testUpdateOfMissingRowIsNotFound() async throws {
        try await TestDatabases.withEach { store, label in
            let cluster = Fixtures.fullCluster()
            await assertMagnumError(.notFound, "Cluster \(cluster.uuid) could not be found.", label) {
                _ = try await store.write { s in try await s.update(cluster) }
            }
            let template = Fixtures.fullTemplate()
            await assertMagnumError(.notFound, "ClusterTemplate \(template.uuid) could not be found.", label) {
                _ = try await store.write { s in try await s.update(template) }
            }
        }
    }

    func testStats() async throws {
        try await TestDatabases.withEach { store, label in
            let empty = try await store.read { s in try await s.stats(projectID: nil) }
            XCTAssertEqual(empty.clusters, 0, label)
            XCTAssertEqual(empty.nodes, 0, label)
            try await store.write { s in
                for (project, counts) in [("p1", [1, 3]), ("p1", [2]), ("p2", [5, 1])] {
                    let c = try await s.insert(Fixtures.fullCluster(project: project))
                    for (i, n) in counts.enumerated() {
                        var ng = Fixtures.fullNodegroup(cluster: c.uuid, name: "ng\(i)")
                        ng.nodeCount = n
                        _ = try await s.insert(ng)
                    }
                }
                // A cluster without nodegroups.
                _ = try await s.insert(Fixtures.fullCluster(project: "p3"))
            }
            let r = try await store.read { s in
                (
                    try await s.stats(projectID: nil), try await s.stats(projectID: "p1"),
                    try await s.stats(projectID: "p2"), try await s.stats(projectID: "p3"),
                    try await s.stats(projectID: "none"), try await s.clusterCount(projectID: "p1")
                )
            }
            XCTAssertEqual(r.0.clusters, 4, label)
            XCTAssertEqual(r.0.nodes, 12, label)
            XCTAssertEqual(r.1.clusters, 2, label)
            XCTAssertEqual(r.1.nodes, 6, label)
            XCTAssertEqual(r.2.clusters, 1, label)
            XCTAssertEqual(r.2.nodes, 6, label)
            XCTAssertEqual(r.3.clusters, 1, label)
            XCTAssertEqual(r.3.nodes, 0, label)
            XCTAssertEqual(r.4.clusters, 0, label)
            XCTAssertEqual(r.4.nodes, 0, label)
            XCTAssertEqual(r.5, 2, label)
        }
    }

    func testConcurrentQuotaChecksInsertExactlyTheLimit() async throws {
        try await TestDatabases.withEach { store, label in
            let inserted = try await withThrowingTaskGroup(of: Bool.self, returning: Int.self) { group in
                for i in 0..<50 {
                    group.addTask {
                        try await store.write { s in
                            try await s.lockProject("quota-project")
                            let count = try await s.clusterCount(projectID: "quota-project")
                            guard count < 20 else { return false }
                            _ = try await s.insert(Fixtures.fullCluster(project: "quota-project", name: "c\(i)"))
                            return true
                        }
                    }
                }
                var n = 0
                for try await ok in group where ok { n += 1 }
                return n
            }
            XCTAssertEqual(inserted, 20, label)
            let count = try await store.read { s in try await s.clusterCount(projectID: "quota-project") }
            XCTAssertEqual(count, 20, label)
        }
    }

    func testConcurrentReportsOfOneService() async throws {
        try await TestDatabases.withEach { store, label in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        _ = try await store.write { s in try await s.reportService(host: "h", binary: "magnum-conductor") }
                    }
                }
                try await group.waitForAll()
            }
            let services = try await store.read { s in try await s.services() }
            XCTAssertEqual(services.count, 1, label)
            XCTAssertEqual(services.first?.reportCount, 20, label)
        }
    }
}

/// PostgreSQL-specific behaviour that needs no server.
final class PostgresConfigurationTests: XCTestCase {
    func testURLParsing() throws {
        let url = try PostgresURL("postgres://magnum:p%40ss@db.example:6543/magnum?sslmode=require")
        XCTAssertEqual(url.host, "db.example")
        XCTAssertEqual(url.port, 6543)
        XCTAssertEqual(url.username, "magnum")
        XCTAssertEqual(url.password, "p@ss")
        XCTAssertEqual(url.database, "magnum")
        XCTAssertEqual(url.tls, .require)
        let plain = try PostgresURL("postgresql://u@localhost/db")
        XCTAssertEqual(plain.port, 5432)
        XCTAssertNil(plain.password)
        XCTAssertEqual(plain.tls, .prefer)
        var copy = plain
        copy.database = "other"
        XCTAssertEqual(try PostgresURL(copy.string).database, "other")
        let odd = try PostgresURL("postgres://u%3Ax:a%2541%3A%2F@h:1/d%20b")
        XCTAssertEqual(odd.username, "u:x")
        XCTAssertEqual(odd.password, "a%41:/")
        XCTAssertEqual(odd.database, "d b")
        let roundTripped = try PostgresURL(odd.string)
        XCTAssertEqual(roundTripped, odd)
        XCTAssertFalse(odd.redacted.contains("a%2541"))
        XCTAssertThrowsError(try PostgresURL("mysql://u@h/db"))
        XCTAssertThrowsError(try PostgresURL("postgres:///db"))
        XCTAssertThrowsError(try PostgresURL("postgres://u@h/db?sslmode=bogus"))
    }

    func testUnreachableDatabaseIsUnavailable() async throws {
        let store = try SQLStore.postgres(
            url: "postgres://nobody:secret@127.0.0.1:1/none?sslmode=disable", connectTimeout: .milliseconds(500),
            logger: TestDatabases.logger)
        let started = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await store.run() }
            await assertMagnumError(.unavailable) {
                _ = try await store.read { s in try await s.services() }
            }
            group.cancelAll()
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(30))
    }
}
