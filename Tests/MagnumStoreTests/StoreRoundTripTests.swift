import Foundation
import MagnumCore
import MagnumStore
import MagnumTestSupport
import XCTest

/// Every table written and read back, field by field, in both dialects.
final class StoreRoundTripTests: XCTestCase {
    func testClusterTemplateRoundTrip() async throws {
        try await TestDatabases.withEach { store, label in
            let full = Fixtures.fullTemplate()
            var minimal = ClusterTemplate(uuid: Fixtures.uuid(), coe: "swarm")
            minimal.projectID = "p1"

            let (insertedFull, insertedMinimal) = try await store.write { [minimal] s in
                (try await s.insert(full), try await s.insert(minimal))
            }
            XCTAssertGreaterThan(insertedFull.id, 0, label)
            XCTAssertEqual(insertedMinimal.id, insertedFull.id + 1, label)
            assertRecent(insertedFull.createdAt, label)
            XCTAssertNil(insertedFull.updatedAt, label)

            let readFull = try await store.read { s in
                try await s.clusterTemplates(matching: .uuid(full.uuid), .everything)
            }
            XCTAssertEqual(readFull.count, 1, label)
            let t = try XCTUnwrap(readFull.first, label)
            XCTAssertEqual(t, insertedFull, label)
            // Field by field for the ones most likely to go wrong.
            XCTAssertEqual(t.labels, full.labels, label)
            XCTAssertEqual(t.apiserverPort, 6443, label)
            XCTAssertTrue(t.isPublic && t.hidden && t.registryEnabled && t.tlsDisabled && t.masterLBEnabled, label)
            XCTAssertFalse(t.floatingIPEnabled, label)
            XCTAssertEqual(t.serverType, "bm", label)
            XCTAssertEqual(t.createdAt, insertedFull.createdAt, label)
            XCTAssertNil(t.updatedAt, label)

            let m = try await store.read { s in try await s.clusterTemplates(matching: .id(insertedMinimal.id), .everything) }
            XCTAssertEqual(m, [insertedMinimal], label)
            XCTAssertNil(m.first?.name, label)
            XCTAssertNil(m.first?.apiserverPort, label)
            XCTAssertEqual(m.first?.labels, [:], label)
            XCTAssertEqual(m.first?.floatingIPEnabled, true, label)
            XCTAssertEqual(m.first?.isPublic, false, label)

            // Update every field, including back to nil / empty.
            var changed = insertedFull
            changed.name = nil
            changed.labels = [:]
            changed.apiserverPort = nil
            changed.isPublic = false
            changed.hidden = false
            changed.floatingIPEnabled = true
            changed.driver = "other"
            let updated = try await store.write { [changed] s in try await s.update(changed) }
            assertRecent(updated.updatedAt, label)
            XCTAssertEqual(updated.createdAt, insertedFull.createdAt, label)
            let reread = try await store.read { s in try await s.clusterTemplates(matching: .uuid(full.uuid), .everything) }
            XCTAssertEqual(reread, [updated], label)

            try await store.write { s in try await s.deleteClusterTemplate(uuid: full.uuid) }
            let gone = try await store.read { s in try await s.clusterTemplates(matching: .uuid(full.uuid), .everything) }
            XCTAssertEqual(gone, [], label)
        }
    }

    func testClusterRoundTrip() async throws {
        try await TestDatabases.withEach { store, label in
            let full = Fixtures.fullCluster()
            var minimal = Cluster(uuid: Fixtures.uuid(), clusterTemplateID: Fixtures.uuid())
            minimal.createTimeout = nil
            let (a, b) = try await store.write { [minimal] s in (try await s.insert(full), try await s.insert(minimal)) }
            XCTAssertEqual(b.id, a.id + 1, label)

            let readA = try await store.read { s in try await s.clusters(matching: .uuid(full.uuid), .everything) }
            XCTAssertEqual(readA, [a], label)
            XCTAssertEqual(readA.first?.status, .createInProgress, label)
            XCTAssertEqual(readA.first?.healthStatus, .unhealthy, label)
            XCTAssertEqual(readA.first?.healthStatusReason, full.healthStatusReason, label)
            XCTAssertEqual(readA.first?.masterLBEnabled, true, label)
            XCTAssertEqual(readA.first?.floatingIPEnabled, false, label)

            let readB = try await store.read { s in try await s.clusters(matching: .id(b.id), .everything) }
            XCTAssertEqual(readB, [b], label)
            XCTAssertNil(readB.first?.status, label)
            XCTAssertNil(readB.first?.healthStatus, label)
            XCTAssertNil(readB.first?.createTimeout, label)
            XCTAssertEqual(readB.first?.labels, [:], label)

            var changed = a
            changed.status = .createComplete
            changed.healthStatusReason = [:]
            changed.apiAddress = nil
            let updated = try await store.write { [changed] s in try await s.update(changed) }
            let reread = try await store.read { s in try await s.clusters(matching: .uuid(full.uuid), .everything) }
            XCTAssertEqual(reread, [updated], label)
            XCTAssertNotNil(reread.first?.updatedAt, label)

            let templateCount = try await store.read { s in try await s.clusterCount(templateUUID: full.clusterTemplateID) }
            XCTAssertEqual(templateCount, 1, label)
        }
    }

    func testNodegroupRoundTripKeepsNullApartFromEmpty() async throws {
        try await TestDatabases.withEach { store, label in
            let cluster = try await store.write { s in try await s.insert(Fixtures.fullCluster()) }
            let full = Fixtures.fullNodegroup(cluster: cluster.uuid)
            var empty = NodeGroup(uuid: Fixtures.uuid(), clusterID: cluster.uuid)
            empty.name = "empty"
            empty.nodeLabels = [:]
            empty.nodeTaints = []
            var absent = NodeGroup(uuid: Fixtures.uuid(), clusterID: cluster.uuid)
            absent.name = "absent"
            absent.role = "master"

            let inserted = try await store.write { [empty, absent] s in
                [try await s.insert(full), try await s.insert(empty), try await s.insert(absent)]
            }
            let read = try await store.read { s in
                try await s.nodegroups(clusterUUID: cluster.uuid, role: nil, sort: SortOrder())
            }
            XCTAssertEqual(read, inserted, label)
            XCTAssertEqual(read[0].nodeTaints, full.nodeTaints, label)
            XCTAssertNil(read[0].nodeTaints?[1].value, label)
            XCTAssertEqual(read[1].nodeLabels, [:], label)
            XCTAssertEqual(read[1].nodeTaints, [], label)
            XCTAssertNil(read[2].nodeLabels, label)
            XCTAssertNil(read[2].nodeTaints, label)
            XCTAssertNil(read[2].maxNodeCount, label)
            XCTAssertEqual(read[2].nodeAddresses, [], label)

            let masters = try await store.read { s in
                try await s.nodegroups(clusterUUID: cluster.uuid, role: "master", sort: SortOrder())
            }
            XCTAssertEqual(masters.map(\.uuid), [absent.uuid], label)

            for ident in [Ident.uuid(full.uuid), .name("workers"), .id(inserted[0].id)] {
                let found = try await store.read { s in try await s.nodegroups(clusterUUID: cluster.uuid, matching: ident) }
                XCTAssertEqual(found, [inserted[0]], "\(label) \(ident)")
            }
            let elsewhere = try await store.read { s in try await s.nodegroups(clusterUUID: Fixtures.uuid(), matching: .name("workers")) }
            XCTAssertEqual(elsewhere, [], label)

            var changed = inserted[0]
            changed.nodeLabels = nil
            changed.nodeTaints = []
            changed.nodeCount = 7
            let updated = try await store.write { [changed] s in try await s.update(changed) }
            let reread = try await store.read { s in try await s.nodegroups(clusterUUID: cluster.uuid, matching: .uuid(full.uuid)) }
            XCTAssertEqual(reread, [updated], label)
            XCTAssertNil(reread.first?.nodeLabels, label)
            XCTAssertEqual(reread.first?.nodeTaints, [], label)

            try await store.write { [empty] s in try await s.deleteNodegroup(uuid: empty.uuid) }
            let left = try await store.read { s in try await s.nodegroups(clusterUUID: cluster.uuid, role: nil, sort: SortOrder()) }
            XCTAssertEqual(left.map(\.uuid), [full.uuid, absent.uuid], label)
        }
    }

    func testNodegroupsOfManyClustersAndClusterDeletion() async throws {
        try await TestDatabases.withEach { store, label in
            let c1 = Fixtures.fullCluster()
            let c2 = Fixtures.fullCluster()
            let c3 = Fixtures.fullCluster()
            try await store.write { s in
                for c in [c1, c2, c3] {
                    _ = try await s.insert(c)
                    _ = try await s.insert(Fixtures.fullNodegroup(cluster: c.uuid, name: "a"))
                    _ = try await s.insert(Fixtures.fullNodegroup(cluster: c.uuid, name: "b"))
                }
            }
            let two = try await store.read { s in try await s.nodegroups(clusterUUIDs: [c1.uuid, c3.uuid, c1.uuid]) }
            XCTAssertEqual(two.count, 4, label)
            XCTAssertEqual(Set(two.map(\.clusterID)), [c1.uuid, c3.uuid], label)
            XCTAssertEqual(two.map(\.id), two.map(\.id).sorted(), label)
            let none = try await store.read { s in try await s.nodegroups(clusterUUIDs: []) }
            XCTAssertEqual(none, [], label)

            try await store.write { s in try await s.deleteCluster(uuid: c1.uuid) }
            let after = try await store.read { s in try await s.nodegroups(clusterUUIDs: [c1.uuid, c2.uuid, c3.uuid]) }
            XCTAssertEqual(Set(after.map(\.clusterID)), [c2.uuid, c3.uuid], label)
            let clusters = try await store.read { s in try await s.clusters(.everything, sort: SortOrder()) }
            XCTAssertEqual(clusters.map(\.uuid), [c2.uuid, c3.uuid], label)
        }
    }

    func testQuotaRoundTrip() async throws {
        try await TestDatabases.withEach { store, label in
            let inserted = try await store.write { s in
                [
                    try await s.insert(Quota(projectID: "p1", resource: "Cluster", hardLimit: 10)),
                    try await s.insert(Quota(projectID: "p2", resource: "Cluster", hardLimit: 3)),
                ]
            }
            XCTAssertEqual(inserted[1].id, inserted[0].id + 1, label)
            let all = try await store.read { s in try await s.quotas(projectID: nil, sort: SortOrder()) }
            XCTAssertEqual(all, inserted, label)
            let p2 = try await store.read { s in try await s.quotas(projectID: "p2", sort: SortOrder()) }
            XCTAssertEqual(p2, [inserted[1]], label)
            let one = try await store.read { s in try await s.quota(projectID: "p1", resource: "Cluster") }
            XCTAssertEqual(one, inserted[0], label)
            let missing = try await store.read { s in try await s.quota(projectID: "p3", resource: "Cluster") }
            XCTAssertNil(missing, label)

            var changed = inserted[0]
            changed.hardLimit = 42
            let updated = try await store.write { [changed] s in try await s.update(changed) }
            XCTAssertEqual(updated.hardLimit, 42, label)
            let reread = try await store.read { s in try await s.quota(projectID: "p1", resource: "Cluster") }
            XCTAssertEqual(reread, updated, label)

            try await store.write { s in try await s.deleteQuota(id: inserted[0].id) }
            let left = try await store.read { s in try await s.quotas(projectID: nil, sort: SortOrder()) }
            XCTAssertEqual(left, [inserted[1]], label)
        }
    }

    func testFederationRoundTrip() async throws {
        try await TestDatabases.withEach { store, label in
            let full = Fixtures.fullFederation()
            let minimal = Federation(uuid: Fixtures.uuid())
            let inserted = try await store.write { s in [try await s.insert(full), try await s.insert(minimal)] }
            let read = try await store.read { s in try await s.federations(.everything, sort: SortOrder()) }
            XCTAssertEqual(read, inserted, label)
            XCTAssertEqual(read[0].memberIDs, full.memberIDs, label)
            XCTAssertEqual(read[0].properties, full.properties, label)
            XCTAssertEqual(read[1].memberIDs, [], label)
            XCTAssertEqual(read[1].properties, [:], label)
            XCTAssertNil(read[1].projectID, label)

            var changed = inserted[0]
            changed.memberIDs = []
            changed.status = "CREATE_COMPLETE"
            let updated = try await store.write { [changed] s in try await s.update(changed) }
            let reread = try await store.read { s in try await s.federations(matching: .uuid(full.uuid), .everything) }
            XCTAssertEqual(reread, [updated], label)

            try await store.write { s in try await s.deleteFederation(uuid: full.uuid) }
            let left = try await store.read { s in try await s.federations(.everything, sort: SortOrder()) }
            XCTAssertEqual(left.map(\.uuid), [minimal.uuid], label)
        }
    }

    func testOperationRoundTrip() async throws {
        try await TestDatabases.withEach { store, label in
            let resource = Fixtures.uuid()
            var full = Fixtures.fullOperation(resource: resource)
            full.leaseExpiresAt = Date(timeIntervalSince1970: 1_900_000_000.75)
            let minimal = MagnumCore.ClusterOperation(uuid: Fixtures.uuid(), kind: .clusterCreate, resourceUUID: resource)
            let inserted = try await store.write { [full] s in [try await s.insert(full), try await s.insert(minimal)] }
            XCTAssertEqual(inserted[0].leaseExpiresAt, Date(timeIntervalSince1970: 1_900_000_000), label)

            let read = try await store.read { s in try await s.operations(resourceUUID: resource) }
            XCTAssertEqual(read, inserted, label)
            XCTAssertEqual(read[0].parameters, full.parameters, label)
            XCTAssertEqual(read[0].kind, .clusterResize, label)
            XCTAssertEqual(read[0].state, .running, label)
            XCTAssertEqual(read[1].parameters, [:], label)
            XCTAssertEqual(read[1].state, .pending, label)
            XCTAssertNil(read[1].leaseExpiresAt, label)
            let other = try await store.read { s in try await s.operations(resourceUUID: Fixtures.uuid()) }
            XCTAssertEqual(other, [], label)

            var changed = inserted[1]
            changed.state = .succeeded
            changed.leaseOwner = "c2"
            changed.leaseExpiresAt = Date(timeIntervalSince1970: 1_800_000_000)
            changed.attempts = 1
            let updated = try await store.write { [changed] s in try await s.update(changed) }
            let reread = try await store.read { s in try await s.operations(resourceUUID: resource) }
            XCTAssertEqual(reread, [inserted[0], updated], label)
        }
    }

    func testLocalCatalogRoundTrip() async throws {
        try await TestDatabases.withEach { store, label in
            let flavors = [
                Flavor(id: "f1", name: "m1.small", vcpus: 1, ramMB: 2048, diskGB: 20),
                Flavor(id: "f2", name: "m1.large", vcpus: 4, ramMB: 8192, diskGB: 80),
            ]
            let images = [
                Image(id: "i1", name: "fedora-coreos", osDistro: "fedora-coreos", magnumDriver: "k8s"),
                Image(id: "i2", name: "plain", osDistro: nil),
            ]
            let networks = [Network(id: "n1", name: "public", isExternal: true), Network(id: "n2", name: "private", isExternal: false)]
            let subnets = [Subnet(id: "s1", name: "private-subnet", networkID: "n2", cidr: "10.0.0.0/24")]
            var key = Keypair(name: "default", userID: "u1", publicKey: "ssh-ed25519 AAAA", fingerprint: "SHA256:x")
            key.createdAt = Date(timeIntervalSince1970: 1_700_000_000)
            let otherUserKey = Keypair(name: "default", userID: "u2", publicKey: "ssh-rsa BBBB", fingerprint: "SHA256:y")

            try await store.write { [key] s in
                for f in flavors.reversed() { try await s.insert(f) }
                for i in images { try await s.insert(i) }
                for n in networks { try await s.insert(n) }
                for n in subnets { try await s.insert(n) }
                try await s.insert(key)
                try await s.insert(otherUserKey)
            }
            let (f, i, n, sn, k1, k2) = try await store.read { s in
                (
                    try await s.flavors(), try await s.images(), try await s.networks(), try await s.subnets(),
                    try await s.keypairs(userID: "u1"), try await s.keypairs(userID: "u2")
                )
            }
            XCTAssertEqual(f, flavors, label)
            XCTAssertEqual(i, images, label)
            XCTAssertEqual(n, networks, label)
            XCTAssertEqual(sn, subnets, label)
            XCTAssertEqual(k1, [key], label)
            XCTAssertEqual(k2.count, 1, label)
            XCTAssertEqual(k2.first?.publicKey, "ssh-rsa BBBB", label)
            assertRecent(k2.first?.createdAt, label)

            await assertMagnumError(.conflict, "Key pair 'default' already exists.", label) {
                try await store.write { [key] s in try await s.insert(key) }
            }
            await assertMagnumError(.conflict, nil, label) {
                try await store.write { s in try await s.insert(flavors[0]) }
            }

            try await store.write { s in try await s.deleteKeypair(name: "default", userID: "u1") }
            let after = try await store.read { s in (try await s.keypairs(userID: "u1"), try await s.keypairs(userID: "u2")) }
            XCTAssertEqual(after.0, [], label)
            XCTAssertEqual(after.1.count, 1, label)
        }
    }

    func testServicesRoundTrip() async throws {
        try await TestDatabases.withEach { store, label in
            let first = try await store.write { s in try await s.reportService(host: "host-a", binary: "magnum-conductor") }
            XCTAssertEqual(first.id, 1, label)
            XCTAssertEqual(first.reportCount, 1, label)
            XCTAssertEqual(first.host, "host-a", label)
            XCTAssertEqual(first.binary, "magnum-conductor", label)
            XCTAssertFalse(first.disabled, label)
            XCTAssertFalse(first.forcedDown, label)
            XCTAssertNil(first.disabledReason, label)
            assertRecent(first.lastSeenUp, label)
            assertRecent(first.createdAt, label)
            assertRecent(first.updatedAt, label)

            let second = try await store.write { s in try await s.reportService(host: "host-a", binary: "magnum-conductor") }
            XCTAssertEqual(second.id, 1, label)
            XCTAssertEqual(second.reportCount, 2, label)
            XCTAssertEqual(second.createdAt, first.createdAt, label)

            let nullHost = try await store.write { s in try await s.reportService(host: nil, binary: "magnum-conductor") }
            XCTAssertEqual(nullHost.id, 2, label)
            XCTAssertNil(nullHost.host, label)
            let nullAgain = try await store.write { s in try await s.reportService(host: nil, binary: "magnum-conductor") }
            XCTAssertEqual(nullAgain.id, 2, label)
            XCTAssertEqual(nullAgain.reportCount, 2, label)
            let otherBinary = try await store.write { s in try await s.reportService(host: "host-a", binary: "magnum-api") }
            XCTAssertEqual(otherBinary.id, 3, label)

            let all = try await store.read { s in try await s.services() }
            XCTAssertEqual(all.map(\.id), [1, 2, 3], label)
            XCTAssertEqual(all.map(\.reportCount), [2, 2, 1], label)
            XCTAssertEqual(all[0], second, label)
        }
    }
}
