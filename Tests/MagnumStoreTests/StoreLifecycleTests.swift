import Foundation
import Logging
import MagnumCore
import MagnumStore
import MagnumTestSupport
import XCTest

/// The store as a service, and migrations racing each other.
final class StoreLifecycleTests: XCTestCase {
    func testSQLiteServiceRunEndsOnCancellation() async throws {
        try await TestDatabases.withSQLite { store in
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await store.run() }
                // The store keeps serving while run() waits.
                let services = try? await store.read { s in try await s.services() }
                XCTAssertEqual(services, [])
                group.cancelAll()
                await group.waitForAll()
            }
            let after = try await store.read { s in try await s.services() }
            XCTAssertEqual(after, [])
        }
    }

    func testSQLiteFileSurvivesReopening() async throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("magnum-store-reopen-\(UUID().uuidString)/nested")
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        let path = directory.appendingPathComponent("magnum.sqlite").path
        let first = try await SQLStore.sqlite(path: path, logger: TestDatabases.logger)
        let applied = try await first.migrate()
        XCTAssertEqual(applied, SQLStore.knownSchemaVersions)
        let cluster = try await first.write { s in try await s.insert(Fixtures.fullCluster()) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: path + "-wal"), "WAL journal expected")
        try await first.shutdown()

        let second = try await SQLStore.sqlite(path: path, logger: TestDatabases.logger)
        let again = try await second.migrate()
        XCTAssertEqual(again, [])
        let read = try await second.read { s in try await s.clusters(matching: .uuid(cluster.uuid), .everything) }
        XCTAssertEqual(read, [cluster])
        try await second.shutdown()
    }

    func testConcurrentMigratorsOnPostgres() async throws {
        guard let admin = TestDatabases.postgresAdminURL else {
            throw XCTSkip("\(TestDatabases.postgresURLVariable) is not set")
        }
        let logger = TestDatabases.logger
        let name = "magnum_t_mig_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        try await PostgresAdmin.createDatabase(String(name), adminURL: admin, logger: logger)
        var url = try PostgresURL(admin)
        url.database = String(name)
        let stores = try (0..<4).map { _ in try SQLStore.postgres(url: url.string, logger: logger) }
        let outcome: Result<[[Int]], any Error> = await withTaskGroup(of: Void.self) { group in
            for store in stores { group.addTask { try? await store.run() } }
            defer { group.cancelAll() }
            do {
                let applied = try await withThrowingTaskGroup(of: [Int].self, returning: [[Int]].self) { migrators in
                    for store in stores { migrators.addTask { try await store.migrate() } }
                    var all: [[Int]] = []
                    for try await versions in migrators { all.append(versions) }
                    return all
                }
                return .success(applied)
            } catch {
                return .failure(error)
            }
        }
        try? await PostgresAdmin.dropDatabase(String(name), adminURL: admin, logger: logger)
        let applied = try outcome.get()
        // Every version was applied by exactly one migrator.
        XCTAssertEqual(applied.flatMap { $0 }.sorted(), SQLStore.knownSchemaVersions)
    }
}
