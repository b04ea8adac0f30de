import Foundation
import MagnumCore
import MagnumStore
import MagnumTestSupport
import XCTest

private struct Boom: Error {}

/// The `cluster_event` table: append, cursor reads, retention and transactions, on SQLite and
/// PostgreSQL.
final class ClusterEventStoreTests: XCTestCase {
    static func event(_ cluster: String, _ kind: ClusterEvent.Kind, project: String? = "p1", status: ClusterStatus? = .createInProgress) -> ClusterEvent {
        ClusterEvent(clusterUUID: cluster, projectID: project, operationUUID: Fixtures.uuid(), kind: kind, status: status,
                     statusReason: "because", detail: ["attempt": 2, "error": "x", "nested": ["a": [1, true, nil]]],
                     requestID: "req-1")
    }

    func testAppendAndReadRoundTrip() async throws {
        try await TestDatabases.withEach { store, label in
            let a = Fixtures.uuid(), b = Fixtures.uuid()
            let sent = [Self.event(a, .operationAccepted), Self.event(b, .operationStarted), Self.event(a, .statusChanged), Self.event(a, .operationSucceeded)]
            let stored = try await store.write { s in
                var out: [ClusterEvent] = []
                for e in sent { out.append(try await s.append(e)) }
                return out
            }
            XCTAssertEqual(stored.map(\.id), stored.map(\.id).sorted(), label)
            XCTAssertEqual(Set(stored.map(\.id)).count, 4, label)
            XCTAssertTrue(stored.allSatisfy { $0.createdAt != nil }, label)

            let all = try await store.read { try await $0.events(clusterUUID: a, after: 0, limit: 100) }
            XCTAssertEqual(all, [stored[0], stored[2], stored[3]], label)
            XCTAssertEqual(all.first?.detail["nested"], ["a": [1, true, nil]], label)
            XCTAssertEqual(all.first?.kind, .operationAccepted, label)
            XCTAssertEqual(all.first?.statusReason, "because", label)

            let after = try await store.read { try await $0.events(clusterUUID: a, after: stored[0].id, limit: 100) }
            XCTAssertEqual(after.map(\.uuid), [stored[2].uuid, stored[3].uuid], label)
            let limited = try await store.read { try await $0.events(clusterUUID: a, after: 0, limit: 2) }
            XCTAssertEqual(limited.map(\.uuid), [stored[0].uuid, stored[2].uuid], label)
            let none = try await store.read { try await $0.events(clusterUUID: a, after: stored[3].id, limit: 10) }
            XCTAssertEqual(none, [], label)
        }
    }

    func testOptionalColumnsStayNull() async throws {
        try await TestDatabases.withEach { store, label in
            let c = Fixtures.uuid()
            let stored = try await store.write { s in
                try await s.append(ClusterEvent(clusterUUID: c, projectID: nil, kind: .statusChanged))
            }
            let read = try await store.read { try await $0.events(clusterUUID: c, after: 0, limit: 1) }
            XCTAssertEqual(read, [stored], label)
            XCTAssertNil(read.first?.status, label)
            XCTAssertNil(read.first?.operationUUID, label)
            XCTAssertEqual(read.first?.detail, [:], label)
        }
    }

    func testEventsRollBackWithTheirTransaction() async throws {
        try await TestDatabases.withEach { store, label in
            let c = Fixtures.uuid()
            do {
                _ = try await store.write { s -> Int in
                    _ = try await s.append(Self.event(c, .operationAccepted))
                    throw Boom()
                }
                XCTFail("the write should have thrown", file: #filePath, line: #line)
            } catch is Boom {}
            let read = try await store.read { try await $0.events(clusterUUID: c, after: 0, limit: 10) }
            XCTAssertEqual(read, [], label)
        }
    }

    func testEventsOutliveTheirClusterUntilPurged() async throws {
        try await TestDatabases.withEach { store, label in
            let cluster = try await store.write { s in try await s.insert(Fixtures.fullCluster()) }
            _ = try await store.write { s in try await s.append(Self.event(cluster.uuid, .statusChanged, status: .deleteComplete)) }
            try await store.write { s in try await s.deleteCluster(uuid: cluster.uuid) }
            let kept = try await store.read { try await $0.events(clusterUUID: cluster.uuid, after: 0, limit: 10) }
            XCTAssertEqual(kept.count, 1, label)

            let stale = try await store.write { s in try await s.purgeEvents(before: Date(timeIntervalSinceNow: -3600)) }
            XCTAssertEqual(stale, 0, label)
            let purged = try await store.write { s in try await s.purgeEvents(before: Date(timeIntervalSinceNow: 3600)) }
            XCTAssertEqual(purged, 1, label)
            let gone = try await store.read { try await $0.events(clusterUUID: cluster.uuid, after: 0, limit: 10) }
            XCTAssertEqual(gone, [], label)
        }
    }

    func testConcurrentAppendsOfOneClusterKeepCommitOrder() async throws {
        try await TestDatabases.withEach { store, label in
            let c = Fixtures.uuid()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        _ = try await store.write { s in try await s.append(Self.event(c, .statusChanged)) }
                    }
                }
                try await group.waitForAll()
            }
            let read = try await store.read { try await $0.events(clusterUUID: c, after: 0, limit: 100) }
            XCTAssertEqual(read.count, 8, label)
            XCTAssertEqual(read.map(\.id), read.map(\.id).sorted(), label)
        }
    }
}
