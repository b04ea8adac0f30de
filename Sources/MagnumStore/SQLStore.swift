import Foundation
import Logging
import MagnumCore
import PostgresKit
import PostgresNIO
import SQLKit
import SQLiteKit
import SQLiteNIO
import ServiceLifecycle

/// The `Store` over SQLKit, for embedded SQLite and for PostgreSQL.
///
/// - SQLite: one connection (WAL mode, busy timeout) guarded by a FIFO lock, so a session —
///   a read, or a write transaction (`BEGIN IMMEDIATE` … `COMMIT`) — never interleaves with
///   another. There is a single writer, so `lockProject` has nothing to do.
/// - PostgreSQL: a pooled `PostgresClient`. Writes run in READ COMMITTED transactions, reads in
///   REPEATABLE READ READ ONLY ones; `lockProject` takes a transaction-scoped advisory lock.
///
/// Read sessions are read-only in both dialects: a statement that writes fails with an internal
/// error. After a statement fails inside a `write` the transaction is unusable on PostgreSQL, so
/// bodies should let `MagnumError`s propagate rather than catch and continue.
///
/// The store is a `Service`: run it in the application's `ServiceGroup` (first, so that it is
/// shut down last). For PostgreSQL `run()` drives the client's connection pool and must be
/// running for any session to start; for SQLite it only waits for shutdown.
public final class SQLStore: Store, Service {
    /// The dialect of the database behind the store.
    public let dialect: SQLStoreDialect

    private enum Backend: Sendable {
        case sqlite(SQLiteConnection, FIFOLock, SQLiteMode)
        case postgres(PostgresClient)
    }

    /// Whether SQLite's connection is in `query_only` mode. Read and written only while the
    /// FIFO lock is held, which serializes every use of the connection.
    private final class SQLiteMode: @unchecked Sendable {
        var queryOnly = false
    }

    private let backend: Backend
    private let logger: Logger
    /// How long a PostgreSQL session waits for a pooled connection before answering 503.
    private let leaseTimeout: Duration

    private init(dialect: SQLStoreDialect, backend: Backend, logger: Logger, leaseTimeout: Duration = .seconds(10)) {
        self.dialect = dialect
        self.backend = backend
        self.logger = logger
        self.leaseTimeout = leaseTimeout
    }

    // MARK: - Factories

    /// Opens (creating if needed) the SQLite database file at `path`, creating its parent
    /// directory, and switches it to WAL mode with a busy timeout.
    ///
    /// - Parameters:
    ///   - path: The database file.
    ///   - busyTimeout: How long a statement waits for another process's lock, in milliseconds.
    ///   - logger: Where the store logs.
    public static func sqlite(
        path: String, busyTimeout: Int = 5000, logger: Logger = Logger(label: "magnum.store")
    ) async throws -> SQLStore {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw DatabaseErrors.unavailable("cannot create directory \(directory.path)", logger: logger)
        }
        return try await openSQLite(storage: .file(path: path), busyTimeout: busyTimeout, logger: logger)
    }

    /// Opens a private in-memory SQLite database (for tests); it disappears with the store.
    public static func sqliteInMemory(logger: Logger = Logger(label: "magnum.store")) async throws -> SQLStore {
        try await openSQLite(storage: .memory, busyTimeout: 0, logger: logger)
    }

    private static func openSQLite(
        storage: SQLiteConnection.Storage, busyTimeout: Int, logger: Logger
    ) async throws -> SQLStore {
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(storage: storage, logger: logger)
        } catch {
            throw DatabaseErrors.mapConnect(error, logger: logger)
        }
        let session = SQLSession(db: connection.sql(queryLogLevel: .trace), dialect: .sqlite, logger: logger)
        do {
            if case .file = storage {
                try await session.run("PRAGMA journal_mode = WAL")
                try await session.run("PRAGMA synchronous = NORMAL")
            }
            try await session.run("PRAGMA busy_timeout = \(unsafeRaw: String(max(0, busyTimeout)))")
            try await session.run("PRAGMA foreign_keys = ON")
        } catch {
            try? await connection.close()
            throw error
        }
        return SQLStore(dialect: .sqlite, backend: .sqlite(connection, FIFOLock(), SQLiteMode()), logger: logger)
    }

    /// Creates a store for the PostgreSQL database of `url`
    /// (`postgres://user:password@host:port/database[?sslmode=…]`).
    ///
    /// No connection is made here: connections are opened by the pool once `run()` runs.
    ///
    /// - Parameters:
    ///   - url: The database URL.
    ///   - maxConnections: Size of the connection pool.
    ///   - connectTimeout: How long connecting may take, and how long a session waits for a
    ///     pooled connection; a session that gets none in time fails with
    ///     `MagnumError(.unavailable, …)`.
    ///   - logger: Where the store logs.
    public static func postgres(
        url: String, maxConnections: Int = 20, connectTimeout: Duration = .seconds(10),
        logger: Logger = Logger(label: "magnum.store")
    ) throws -> SQLStore {
        let parsed = try PostgresURL(url)
        var configuration = parsed.clientConfiguration()
        configuration.options.maximumConnections = max(1, maxConnections)
        configuration.options.connectTimeout = connectTimeout
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        return SQLStore(dialect: .postgres, backend: .postgres(client), logger: logger, leaseTimeout: connectTimeout)
    }

    /// The newest schema version this build knows.
    public static var latestSchemaVersion: Int { Migrations.all.map(\.version).max() ?? 0 }

    /// Every schema version this build knows, ascending (the numbering may have gaps).
    public static var knownSchemaVersions: [Int] { Migrations.all.map(\.version).sorted() }

    // MARK: - Service

    /// Runs the store's background work until graceful shutdown or cancellation: the
    /// PostgreSQL connection pool (call this once), or nothing for SQLite.
    public func run() async throws {
        switch backend {
        case .sqlite:
            try? await gracefulShutdown()
        case .postgres(let client):
            await client.run()
        }
    }

    // MARK: - Store

    /// Runs `body` with a read-only session that sees one consistent snapshot.
    public func read<T: Sendable>(_ body: @Sendable (any StoreSession) async throws -> T) async throws -> T {
        try await session(write: false, body)
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    public func write<T: Sendable>(_ body: @Sendable (any StoreSession) async throws -> T) async throws -> T {
        try await session(write: true, body)
    }

    /// Applies every pending migration, each in its own transaction; returns the versions applied.
    @discardableResult
    public func migrate() async throws -> [Int] {
        var applied: [Int] = []
        for migration in Migrations.all.sorted(by: { $0.version < $1.version }) {
            let didApply = try await transaction(write: true) { session in
                try await session.apply(migration)
            }
            if didApply { applied.append(migration.version) }
        }
        return applied
    }

    /// The schema versions recorded in the database, ascending.
    public func appliedSchemaVersions() async throws -> [Int] {
        try await transaction(write: true) { session in try await session.appliedVersions() }
    }

    /// Closes the SQLite connection. For PostgreSQL the pool closes when `run()` ends
    /// (cancellation or graceful shutdown), so this does nothing.
    public func shutdown() async throws {
        switch backend {
        case .sqlite(let connection, let lock, _):
            try await lock.withLock {
                if !connection.isClosed {
                    try await connection.close()
                }
            }
        case .postgres:
            return
        }
    }

    // MARK: - Sessions

    private func session<T: Sendable>(
        write: Bool, _ body: @Sendable (any StoreSession) async throws -> T
    ) async throws -> T {
        // A session opened from inside another one would wait forever for SQLite's single
        // connection (and silently escape the transaction on PostgreSQL): refuse it loudly.
        if SQLStore.insideSession {
            logger.error("nested store session refused")
            throw MagnumError(.internal, "A store session was opened inside another one.")
        }
        return try await SQLStore.$insideSession.withValue(true) {
            try await transaction(write: write) { session in
                // A request holding an Idempotency-Key writes only while it still holds it.
                if write, let claim = IdempotencyClaim.current { try await session.fenceIdempotencyClaim(claim) }
                return try await body(session)
            }
        }
    }

    /// Set while the current task runs a session's body.
    @TaskLocal private static var insideSession = false

    /// Wraps an error thrown by the body so that it passes the connection layer unchanged.
    private struct BodyFailure: Error {
        let error: any Error
    }

    /// Which child of a session's lease race finished.
    private enum LeaseRace<T: Sendable>: Sendable {
        case value(T)
        case leased
    }

    /// Set once a PostgreSQL session got its connection.
    private actor LeaseFlag {
        private(set) var leased = false
        func markLeased() { leased = true }
    }

    private func transaction<T: Sendable>(
        write: Bool, _ body: @Sendable (SQLSession) async throws -> T
    ) async throws -> T {
        switch backend {
        case .sqlite(let connection, let lock, let mode):
            return try await lock.withLock {
                guard !connection.isClosed else {
                    throw MagnumError(.unavailable, "Database unavailable: the store is closed")
                }
                let session = SQLSession(
                    db: connection.sql(queryLogLevel: .trace), dialect: .sqlite, logger: logger)
                // The one connection is used by one session at a time, so a read needs no
                // transaction to be consistent; `query_only` makes it read-only and is only
                // switched when the kind of session changes (a run of reads costs nothing extra).
                if mode.queryOnly != !write {
                    try await session.run(write ? "PRAGMA query_only = OFF" : "PRAGMA query_only = ON")
                    mode.queryOnly = !write
                }
                guard write else { return try await body(session) }
                try await session.run("BEGIN IMMEDIATE")
                do {
                    let value = try await body(session)
                    try await session.run("COMMIT")
                    return value
                } catch {
                    try? await session.run("ROLLBACK")
                    throw error
                }
            }
        case .postgres(let client):
            let logger = self.logger
            let leaseTimeout = self.leaseTimeout
            return try await withoutActuallyEscaping(body) { body in
                try await withThrowingTaskGroup(of: LeaseRace<T>.self) { group in
                    let flag = LeaseFlag()
                    group.addTask {
                        do {
                            return .value(
                                try await client.withConnection { connection in
                                    await flag.markLeased()
                                    return try await Self.postgresTransaction(
                                        connection, write: write, logger: logger, body)
                                })
                        } catch let failure as BodyFailure {
                            throw failure.error
                        } catch {
                            throw DatabaseErrors.mapConnect(error, logger: logger)
                        }
                    }
                    // The pool only gives up on an unreachable server after a minute; answer sooner.
                    group.addTask {
                        try await Task.sleep(for: leaseTimeout)
                        if await flag.leased { return .leased }
                        throw DatabaseErrors.unavailable("no connection within \(leaseTimeout)", logger: logger)
                    }
                    while let outcome = try await group.next() {
                        if case .value(let value) = outcome {
                            group.cancelAll()
                            return value
                        }
                    }
                    throw MagnumError(.internal, DatabaseErrors.internalMessage)
                }
            }
        }
    }

    private static func postgresTransaction<T: Sendable>(
        _ connection: PostgresConnection, write: Bool, logger: Logger,
        _ body: @Sendable (SQLSession) async throws -> T
    ) async throws -> T {
        var session = SQLSession(db: connection.sql(queryLogLevel: .trace), dialect: .postgres, logger: logger)
        session.writing = write
        try await session.run(write ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        let value: T
        do {
            value = try await body(session)
            try await session.run("COMMIT")
        } catch {
            do {
                try await session.run("ROLLBACK")
            } catch {
                // Never hand a connection in an unknown transaction state back to the pool.
                try? await connection.close()
            }
            throw BodyFailure(error: error)
        }
        return value
    }
}
