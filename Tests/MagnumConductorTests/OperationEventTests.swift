import Foundation
import Logging
import MagnumConductor
import MagnumCore
import MagnumDrivers
import MagnumStore
import MagnumTestSupport
import XCTest

/// The cluster events and CADF notifications the operation runner records, on SQLite and
/// PostgreSQL, with the scripted driver and a real JSON-lines notification file.
final class OperationEventTests: XCTestCase {
    typealias T = OperationRunnerTests

    /// A notification file in a fresh temporary directory (removed by the caller).
    static func notificationFile() -> (path: String, directory: URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("magnum-notify-\(UUID().uuidString)")
        return (dir.appendingPathComponent("sub/notifications.jsonl").path, dir)
    }

    static func runner(_ store: any Store, _ ledger: DriverLedger, notifications path: String?) -> OperationRunner {
        OperationRunner(store: store, drivers: DriverSet([ScriptedDriver(ledger: ledger, runner: "a")]),
                        configuration: T.configuration(owner: "runner-a"),
                        notifier: path.map { ClusterNotifier(sink: JSONLinesNotificationFile(path: $0), host: "conductor-1") },
                        logger: T.logger)
    }

    static func events(_ store: any Store, _ cluster: String) async throws -> [ClusterEvent] {
        try await store.read { try await $0.events(clusterUUID: cluster, after: 0, limit: 1000) }
    }

    /// Waits until the notification file has `count` lines (they are written after the
    /// operation's transaction commits).
    static func awaitNotifications(_ path: String, count: Int) async throws {
        try await T.eventually("\(count) notifications") { try notifications(path).count >= count ? true : nil }
    }

    /// Every line of the notification file, parsed.
    static func notifications(_ path: String) throws -> [JSON] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { try JSON.parse(string: String($0)) }
    }

    func testCreateRecordsLeaseStepStatusChangesAndSuccess() async throws {
        try await TestDatabases.withEach { store, label in
            let (path, dir) = Self.notificationFile()
            defer { try? FileManager.default.removeItem(at: dir) }
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let (cluster, op) = try await ConductorFixtures.cluster(store, template: template, workers: 2)
            await ledger.script(cluster.uuid, .succeed(polls: 2))
            try await T.running([Self.runner(store, ledger, notifications: path)]) {
                try await T.eventually("create finished") { try await T.finished(store, op) }
                try await Self.awaitNotifications(path, count: 2)
            }
            let events = try await Self.events(store, cluster.uuid)
            XCTAssertEqual(events.map(\.id), events.map(\.id).sorted(), label)
            XCTAssertTrue(events.allSatisfy { $0.operationUUID == op.uuid && $0.projectID == "p1" }, label)
            let kinds = events.map(\.kind)
            XCTAssertEqual(kinds.first, .operationStarted, label)
            XCTAssertEqual(events.first?.detail["attempt"], 1, label)
            XCTAssertEqual(events.first?.detail["conductor"], "runner-a", label)
            XCTAssertEqual(events.first?.detail["operation"], "cluster_create", label)
            XCTAssertEqual(kinds.dropFirst().first, .operationStep, label)
            XCTAssertEqual(events.dropFirst().first?.detail["driver"], .string(ScriptedDriver.driverName), label)
            XCTAssertEqual(kinds.last, .operationSucceeded, label)
            XCTAssertEqual(events.last?.status, .createComplete, label)

            let changes = events.filter { $0.kind == .statusChanged }
            XCTAssertEqual(changes.last?.status, .createComplete, label)
            XCTAssertEqual(changes.last?.statusReason, "Stack CREATE_COMPLETE completed successfully", label)
            XCTAssertEqual(changes.last?.detail["previous_status"], "CREATE_IN_PROGRESS", label)
            let nodegroupChanges = events.filter { $0.kind == .nodegroupStatusChanged }
            XCTAssertEqual(Set(nodegroupChanges.compactMap { $0.detail["nodegroup_name"]?.stringValue }), ["default-master", "default-worker"], label)
            XCTAssertTrue(nodegroupChanges.allSatisfy { $0.status == .createComplete }, label)

            let lines = try Self.notifications(path)
            XCTAssertEqual(lines.map { $0["event_type"]?.stringValue }, ["magnum.cluster.create", "magnum.cluster.create"], label)
            XCTAssertEqual(lines.map { $0["payload"]?["outcome"]?.stringValue }, ["pending", "success"], label)
            XCTAssertEqual(lines.map { $0["priority"]?.stringValue }, ["INFO", "INFO"], label)
            let content = lines.last?["payload"]?["target"]?["attachments"]?.arrayValue?.first?["content"]
            XCTAssertEqual(content?["status"], "CREATE_COMPLETE", label)
            XCTAssertEqual(content?["node_count"], 2, label)
            XCTAssertEqual(content?["node_addresses"], ["10.0.1.10", "10.0.1.11"], label)
            XCTAssertEqual(lines.first?["payload"]?["target"]?["attachments"]?.arrayValue?.first?["content"]?["status"], "CREATE_IN_PROGRESS", label)
        }
    }

    func testNotificationsHaveTheExactCADFShape() async throws {
        try await TestDatabases.withEach { store, label in
            let (path, dir) = Self.notificationFile()
            defer { try? FileManager.default.removeItem(at: dir) }
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let (created, recorded) = try await ConductorFixtures.cluster(store, template: template)
            // An operation recorded by a requester (user and project of the initiator).
            let op = try await store.write { s in
                var o = try await s.operation(uuid: recorded.uuid)!
                o.userID = "user-a"
                o.projectID = "p1"
                return try await s.update(o)
            }
            let cluster = try await T.cluster(store, created.uuid)!
            try await T.running([Self.runner(store, ledger, notifications: path)]) {
                try await T.eventually("create finished") { try await T.finished(store, op) }
                try await Self.awaitNotifications(path, count: 2)
            }
            let lines = try Self.notifications(path)
            XCTAssertEqual(lines.count, 2, label)
            for line in lines {
                XCTAssertEqual(Self.keys(line),
                               ["message_id", "publisher_id", "event_type", "priority", "payload", "timestamp"], label)
                XCTAssertEqual(line["publisher_id"], "container-infra.conductor-1", label)
                XCTAssertNotNil(line["message_id"]?.stringValue.flatMap(UUIDs.canonical), label)
                XCTAssertTrue(Self.matches(line["timestamp"]?.stringValue, #"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$"#), label)
                let payload = try XCTUnwrap(line["payload"], label)
                XCTAssertEqual(Self.keys(payload),
                               ["typeURI", "eventType", "id", "eventTime", "action", "outcome", "observer", "initiator", "target"], label)
                XCTAssertEqual(payload["typeURI"], "http://schemas.dmtf.org/cloud/audit/1.0/event", label)
                XCTAssertEqual(payload["eventType"], "activity", label)
                XCTAssertEqual(payload["action"], "create", label)
                XCTAssertTrue(Self.matches(payload["eventTime"]?.stringValue, #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+0000$"#), label)
                XCTAssertEqual(Self.keys(payload["observer"]), ["id", "typeURI"], label)
                XCTAssertEqual(payload["observer"]?["typeURI"], "service/magnum/cluster", label)
                XCTAssertEqual(payload["initiator"]?.objectValue?.filter { $0.key != "id" },
                               ["typeURI": "service/security/account/user", "user_id": "user-a", "project_id": "p1"], label)
                let target = try XCTUnwrap(payload["target"], label)
                XCTAssertEqual(Self.keys(target), ["id", "name", "typeURI", "attachments"], label)
                XCTAssertEqual(target["id"], .string(cluster.uuid), label)
                XCTAssertEqual(target["name"], JSON(cluster.name), label)
                XCTAssertEqual(target["typeURI"], "service/magnum/cluster", label)
                let attachment = try XCTUnwrap(target["attachments"]?.arrayValue?.first, label)
                XCTAssertEqual(target["attachments"]?.arrayValue?.count, 1, label)
                XCTAssertEqual(Self.keys(attachment), ["typeURI", "name", "content"], label)
                XCTAssertEqual(attachment["name"], "cluster_data", label)
                XCTAssertEqual(attachment["typeURI"], "service/magnum/cluster", label)
                XCTAssertEqual(Self.keys(attachment["content"]), [
                    "status", "status_reason", "project_id", "created_at", "updated_at", "cluster_template_id", "keypair",
                    "docker_volume_size:", "labels", "master_flavor_id", "flavor_id", "stack_id", "health_status",
                    "create_timeout", "api_address", "discovery_url", "node_addresses", "master_addresses", "node_count",
                    "master_count",
                ], label)
                XCTAssertTrue(Self.matches(attachment["content"]?["created_at"]?.stringValue, #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$"#), label)
                XCTAssertEqual(attachment["content"]?["cluster_template_id"], .string(template.uuid), label)
            }
        }
    }

    func testPermanentFailureRecordsFailedStatusAndFailureNotification() async throws {
        try await TestDatabases.withEach { store, label in
            let (path, dir) = Self.notificationFile()
            defer { try? FileManager.default.removeItem(at: dir) }
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let (cluster, op) = try await ConductorFixtures.cluster(store, template: template)
            await ledger.script(cluster.uuid, .failPermanently("no capacity"))
            try await T.running([Self.runner(store, ledger, notifications: path)]) {
                try await T.eventually("create failed") { try await T.finished(store, op) }
                try await Self.awaitNotifications(path, count: 2)
            }
            let events = try await Self.events(store, cluster.uuid)
            XCTAssertEqual(events.first?.kind, .operationStarted, label)
            XCTAssertFalse(events.contains { $0.kind == .operationStep }, label)
            let change = events.first { $0.kind == .statusChanged }
            XCTAssertEqual(change?.status, .createFailed, label)
            XCTAssertEqual(change?.statusReason, "no capacity", label)
            XCTAssertEqual(events.last?.kind, .operationFailed, label)
            XCTAssertEqual(events.last?.detail["error"], "no capacity", label)

            let lines = try Self.notifications(path)
            XCTAssertEqual(lines.map { $0["payload"]?["outcome"]?.stringValue }, ["pending", "failure"], label)
            XCTAssertEqual(lines.last?["priority"], "ERROR", label)
            XCTAssertEqual(lines.last?["event_type"], "magnum.cluster.create", label)
            XCTAssertEqual(lines.last?["payload"]?["target"]?["attachments"]?.arrayValue?.first?["content"]?["status"], "CREATE_FAILED", label)
        }
    }

    func testTransientFailureRecordsRetryAndNextAttempt() async throws {
        try await TestDatabases.withEach { store, label in
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let (cluster, op) = try await ConductorFixtures.cluster(store, template: template)
            await ledger.script(cluster.uuid, .failTransiently(times: 1))
            try await T.running([Self.runner(store, ledger, notifications: nil)]) {
                try await T.eventually("create finished") { try await T.finished(store, op) }
            }
            let events = try await Self.events(store, cluster.uuid)
            let retry = try XCTUnwrap(events.first { $0.kind == .operationRetry }, label)
            XCTAssertEqual(retry.detail["attempt"], 1, label)
            XCTAssertEqual(retry.detail["error"], "backend busy (1 left)", label)
            XCTAssertNotNil(retry.detail["retry_in_seconds"], label)
            XCTAssertEqual(events.filter { $0.kind == .operationStarted }.map { $0.detail["attempt"] }, [1, 2], label)
            XCTAssertEqual(events.last?.kind, .operationSucceeded, label)
        }
    }

    func testDeleteKeepsEventsAndNotifiesDeleteSuccess() async throws {
        try await TestDatabases.withEach { store, label in
            let (path, dir) = Self.notificationFile()
            defer { try? FileManager.default.removeItem(at: dir) }
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let (cluster, create) = try await ConductorFixtures.cluster(store, template: template)
            try await T.running([Self.runner(store, ledger, notifications: path)]) {
                try await T.eventually("create finished") { try await T.finished(store, create) }
                try await Self.awaitNotifications(path, count: 2)
            }
            let delete = try await ConductorFixtures.operation(store, .clusterDelete, cluster: cluster.uuid, status: .deleteInProgress)
            try await T.running([Self.runner(store, ledger, notifications: path)]) {
                try await T.eventually("delete finished") { try await T.finished(store, delete) }
                try await Self.awaitNotifications(path, count: 4)
            }
            let gone = try await T.cluster(store, cluster.uuid)
            XCTAssertNil(gone, label)
            let events = try await Self.events(store, cluster.uuid).filter { $0.operationUUID == delete.uuid }
            XCTAssertEqual(events.last?.kind, .operationSucceeded, label)
            XCTAssertEqual(events.last?.status, .deleteComplete, label)
            XCTAssertEqual(events.last?.projectID, "p1", label)
            XCTAssertEqual(events.last { $0.kind == .statusChanged }?.status, .deleteComplete, label)

            let lines = try Self.notifications(path)
            XCTAssertEqual(lines.map { "\($0["event_type"]?.stringValue ?? "-") \($0["payload"]?["outcome"]?.stringValue ?? "-")" }, [
                "magnum.cluster.create pending", "magnum.cluster.create success",
                "magnum.cluster.delete pending", "magnum.cluster.delete success",
            ], label)
        }
    }

    func testNodegroupOperationsRecordEventsButNoNotifications() async throws {
        try await TestDatabases.withEach { store, label in
            let (path, dir) = Self.notificationFile()
            defer { try? FileManager.default.removeItem(at: dir) }
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let (cluster, create) = try await ConductorFixtures.cluster(store, template: template)
            try await T.running([Self.runner(store, ledger, notifications: nil)]) {
                try await T.eventually("create finished") { try await T.finished(store, create) }
            }
            let worker = try await T.nodegroups(store, cluster.uuid).first { !$0.isMaster }!
            let update = try await ConductorFixtures.operation(store, .nodegroupUpdate, cluster: cluster.uuid, nodegroup: worker.uuid)
            try await T.running([Self.runner(store, ledger, notifications: path)]) {
                try await T.eventually("nodegroup update finished") { try await T.finished(store, update) }
            }
            let events = try await Self.events(store, cluster.uuid).filter { $0.operationUUID == update.uuid }
            XCTAssertEqual(events.first?.kind, .operationStarted, label)
            XCTAssertEqual(events.last?.kind, .operationSucceeded, label)
            XCTAssertEqual(try Self.notifications(path).count, 0, label)
        }
    }

    func testRetentionPurgesOldEvents() async throws {
        try await TestDatabases.withEach { store, label in
            let c = ConductorFixtures.uuid()
            _ = try await store.write { try await $0.append(ClusterEvent(clusterUUID: c, projectID: "p1", kind: .statusChanged)) }
            let retention = ClusterEventRetention(store: store, days: 14, logger: T.logger)
            let kept = await retention.purge(now: Date())
            XCTAssertEqual(kept, 0, label)
            let purged = await retention.purge(now: Date(timeIntervalSinceNow: 15 * 86_400))
            XCTAssertEqual(purged, 1, label)
            let left = try await Self.events(store, c)
            XCTAssertEqual(left, [], label)
        }
    }

    func testNotificationFileIsSharedByConcurrentWriters() async throws {
        let (path, dir) = Self.notificationFile()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Two sinks on one file stand for two processes (each has its own O_APPEND descriptor).
        let sinks = [JSONLinesNotificationFile(path: path), JSONLinesNotificationFile(path: path)]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<40 {
                group.addTask { try await sinks[i % 2].deliver(["n": .int(i), "text": .string(String(repeating: "x", count: 500))]) }
            }
            try await group.waitForAll()
        }
        let lines = try Self.notifications(path)
        XCTAssertEqual(Set(lines.compactMap { $0["n"]?.intValue }), Set(0..<40))
    }

    func testUnwritableNotificationFileNeverFailsTheOperation() async throws {
        try await TestDatabases.withEach { store, label in
            let ledger = DriverLedger()
            let template = try await ConductorFixtures.template(store)
            let (_, op) = try await ConductorFixtures.cluster(store, template: template)
            try await T.running([Self.runner(store, ledger, notifications: "/proc/magnum-cannot-write/notifications.jsonl")]) {
                let done = try await T.eventually("create finished") { try await T.finished(store, op) }
                XCTAssertEqual(done.state, .succeeded, label)
            }
        }
    }

    static func keys(_ json: JSON?) -> Set<String> {
        Set(json?.objectValue.map { Array($0.keys) } ?? [])
    }

    static func matches(_ value: String?, _ pattern: String) -> Bool {
        guard let value else { return false }
        return value.range(of: pattern, options: .regularExpression) != nil
    }
}
