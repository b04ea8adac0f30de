import Logging
import MagnumConductor
import MagnumCore
import MagnumStore
import MagnumTestSupport
import ServiceLifecycle
import XCTest

/// The conductor's liveness record (contract §8.8).
final class ConductorHeartbeatTests: XCTestCase {
    let logger: Logger = {
        // The retry test provokes failed reports on purpose; keep them out of the test log.
        var l = Logger(label: "test.conductor")
        l.logLevel = .critical
        return l
    }()

    func testEachReportBumpsOneRecordPerHost() async throws {
        try await TestDatabases.withEach { store, label in
            let a = ConductorHeartbeat(store: store, host: "node-a", logger: logger)
            let first = await a.report()
            let second = await a.report()
            XCTAssertEqual(first?.reportCount, 1, label)
            XCTAssertEqual(second?.reportCount, 2, label)
            XCTAssertEqual(second?.id, first?.id, label)
            XCTAssertEqual(second?.binary, "magnum-conductor", label)
            XCTAssertNotNil(second?.lastSeenUp, label)

            let b = await ConductorHeartbeat(store: store, host: "node-b", logger: logger).report()
            XCTAssertNotEqual(b?.id, first?.id, label)
            let all = try await store.read { try await $0.services() }
            XCTAssertEqual(all.map(\.host), ["node-a", "node-b"], label)
            XCTAssertEqual(all.map(\.reportCount), [2, 1], label)
        }
    }

    /// Run as a service, it reports at once and then on every interval until shutdown.
    func testRunsAsAServiceUntilShutdown() async throws {
        try await TestDatabases.withSQLite { store in
            let beat = ConductorHeartbeat(store: store, host: "node-a", interval: .milliseconds(50), logger: logger)
            let group = ServiceGroup(configuration: .init(services: [.init(service: beat)], logger: logger))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                var count = 0
                for _ in 0..<100 {
                    count = try await store.read { try await $0.services() }.first?.reportCount ?? 0
                    if count >= 3 { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                XCTAssertGreaterThanOrEqual(count, 3)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            // Stopped: no more reports.
            let stopped = try await store.read { try await $0.services() }.first?.reportCount ?? 0
            try await Task.sleep(for: .milliseconds(200))
            let later = try await store.read { try await $0.services() }.first?.reportCount ?? 0
            XCTAssertEqual(stopped, later)
        }
    }

    /// Before the schema exists the report fails (logged, not thrown); once it exists the
    /// conductor registers without waiting a whole interval.
    func testRetriesUntilTheSchemaExists() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("magnum-hb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await SQLStore.sqlite(path: directory.appendingPathComponent("m.sqlite").path, logger: logger)
        let beat = ConductorHeartbeat(store: store, host: "node-a", interval: .seconds(3600), logger: logger)
        let none = await beat.report()
        XCTAssertNil(none)
        let group = ServiceGroup(configuration: .init(services: [.init(service: beat)], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await Task.sleep(for: .milliseconds(100))
            try await store.migrate()
            var count = 0
            for _ in 0..<60 {
                count = try await store.read { try await $0.services() }.first?.reportCount ?? 0
                if count > 0 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            XCTAssertEqual(count, 1)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        try await store.shutdown()
    }
}
