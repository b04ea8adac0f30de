import Foundation
import Logging
import MagnumCore
import MagnumStore

/// Fresh, migrated databases for tests: an SQLite file in a temporary directory always, and a
/// PostgreSQL database when `MAGNUM_TEST_DATABASE_URL` names a server (a role allowed to create
/// databases, e.g. the URL printed by `scripts/postgres.sh`).
public enum TestDatabases {
    /// The environment variable holding the administrative PostgreSQL URL.
    public static let postgresURLVariable = "MAGNUM_TEST_DATABASE_URL"

    /// The administrative PostgreSQL URL of the environment, if any.
    public static var postgresAdminURL: String? {
        guard let value = ProcessInfo.processInfo.environment[postgresURLVariable], !value.isEmpty else {
            return nil
        }
        return value
    }

    /// A quiet logger for test stores (set `MAGNUM_TEST_LOG_LEVEL=debug` to see more).
    public static var logger: Logger {
        var logger = Logger(label: "magnum.test.store")
        let level = ProcessInfo.processInfo.environment["MAGNUM_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
        logger.logLevel = level ?? .warning
        return logger
    }

    /// Printed once per process when PostgreSQL is not configured.
    private static let skipNote: Void = {
        print("note: \(postgresURLVariable) is not set; PostgreSQL store tests skipped (scripts/postgres.sh provides one)")
    }()

    /// Runs `body` against a fresh SQLite database, then against a fresh PostgreSQL database when
    /// one is configured. The label is `"sqlite"` or `"postgres"`.
    public static func withEach(_ body: (any Store, String) async throws -> Void) async throws {
        try await withSQLite { store in try await body(store, "sqlite") }
        if let url = postgresAdminURL {
            try await withPostgres(adminURL: url) { store in try await body(store, "postgres") }
        } else {
            _ = skipNote
        }
    }

    /// Runs `body` against a migrated SQLite database in a new temporary directory, which is
    /// removed afterwards.
    public static func withSQLite<T: Sendable>(_ body: (SQLStore) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("magnum-store-test-\(UUID().uuidString.lowercased())")
        let store = try await SQLStore.sqlite(path: directory.appendingPathComponent("magnum.sqlite").path, logger: logger)
        let result: Result<T, any Error>
        do {
            try await store.migrate()
            result = .success(try await body(store))
        } catch {
            result = .failure(error)
        }
        try? await store.shutdown()
        try? FileManager.default.removeItem(at: directory)
        return try result.get()
    }

    /// Runs `body` against a new, migrated PostgreSQL database (`magnum_t_<random>`) created
    /// through `adminURL`; the store's pool runs in a child task that is cancelled when `body`
    /// ends, and the database is dropped afterwards.
    public static func withPostgres<T: Sendable>(
        adminURL: String, _ body: (SQLStore) async throws -> T
    ) async throws -> T {
        try await withPostgresDatabase(adminURL: adminURL) { store, _ in try await body(store) }
    }

    /// As `withPostgres`, also handing `body` the new database's URL, so that a test can open
    /// more stores (more processes' worth of connection pools) on the same database.
    public static func withPostgresDatabase<T: Sendable>(
        adminURL: String, _ body: (SQLStore, String) async throws -> T
    ) async throws -> T {
        let logger = self.logger
        let name = "magnum_t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        var url = try PostgresURL(adminURL)
        try await PostgresAdmin.createDatabase(String(name), adminURL: adminURL, logger: logger)
        url.database = String(name)
        let result: Result<T, any Error>
        do {
            let store = try SQLStore.postgres(url: url.string, logger: logger)
            result = await withTaskGroup(of: Void.self, returning: Result<T, any Error>.self) { group in
                group.addTask { try? await store.run() }
                let outcome: Result<T, any Error>
                do {
                    try await store.migrate()
                    outcome = .success(try await body(store, url.string))
                } catch {
                    outcome = .failure(error)
                }
                group.cancelAll()
                return outcome
            }
        } catch {
            result = .failure(error)
        }
        do {
            try await PostgresAdmin.dropDatabase(String(name), adminURL: adminURL, logger: logger)
        } catch {
            print("warning: could not drop test database \(name): \(error)")
        }
        return try result.get()
    }
}
