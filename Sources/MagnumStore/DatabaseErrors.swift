import Foundation
import Logging
import MagnumCore
import PostgresNIO
import SQLiteNIO

/// Translates driver errors into `MagnumError`s. SQL text and driver details never reach a
/// client: they are logged, and the caller sees a conflict, an "unavailable" or a generic
/// internal error.
enum DatabaseErrors {
    /// The message of an unexpected database failure (Magnum's generic exception text).
    static let internalMessage = "An unknown exception occurred."

    /// Maps an error thrown while running a statement.
    ///
    /// - Parameters:
    ///   - error: What the driver threw.
    ///   - conflict: The error to report when the statement broke a unique constraint.
    ///   - logger: Where the underlying error is logged.
    static func map(_ error: any Error, conflict: MagnumError?, logger: Logger) -> any Error {
        switch error {
        case let error as MagnumError:
            return error
        case is CancellationError:
            return error
        case let error as SQLiteError:
            return mapSQLite(error, conflict: conflict, logger: logger)
        case let error as PSQLError:
            return mapPostgres(error, conflict: conflict, logger: logger)
        case is DecodingError:
            logger.error("Stored row could not be decoded", metadata: ["error": "\(String(reflecting: error))"])
            return MagnumError(.internal, internalMessage)
        case let error as IOError:
            return unavailable(error.description, logger: logger)
        case let error as ChannelError:
            return unavailable("\(error)", logger: logger)
        default:
            if Task.isCancelled { return CancellationError() }
            logger.error("Unexpected database error", metadata: ["error": "\(String(reflecting: error))"])
            return MagnumError(.internal, internalMessage)
        }
    }

    /// Maps an error thrown while obtaining a connection (Postgres pool lease, SQLite open):
    /// anything that is not already a `MagnumError` means the database cannot be reached.
    static func mapConnect(_ error: any Error, logger: Logger) -> any Error {
        switch error {
        case let error as MagnumError:
            return error
        case is CancellationError:
            return error
        case let error as PSQLError where error.code == .server:
            return mapPostgres(error, conflict: nil, logger: logger)
        case let error as PSQLError:
            if error.code == .queryCancelled, Task.isCancelled { return CancellationError() }
            return unavailable(describe(error), logger: logger)
        default:
            if Task.isCancelled { return CancellationError() }
            return unavailable("\(error)", logger: logger)
        }
    }

    /// A 503 for an unreachable database.
    static func unavailable(_ reason: String, logger: Logger) -> MagnumError {
        logger.warning("Database unavailable", metadata: ["reason": "\(reason)"])
        return MagnumError(.unavailable, "Database unavailable: \(reason)")
    }

    private static func mapSQLite(_ error: SQLiteError, conflict: MagnumError?, logger: Logger) -> any Error {
        switch error.reason {
        case .constraint, .constraintUniqueFailed, .constraintPrimaryKeyFailed:
            if let conflict, error.reason != .constraint || error.message.contains("UNIQUE constraint failed") {
                return conflict
            }
        case .busy, .busyTimeout, .busyInRecovery, .busyInSnapshot, .locked, .lockedBySharedCache:
            return unavailable("database is locked", logger: logger)
        case .cantOpen, .full, .ioError, .notADatabase, .corrupt, .noMemory:
            return unavailable(error.message, logger: logger)
        default:
            break
        }
        logger.error("SQLite error", metadata: ["error": "\(error.description)"])
        return MagnumError(.internal, internalMessage)
    }

    private static func mapPostgres(_ error: PSQLError, conflict: MagnumError?, logger: Logger) -> any Error {
        guard error.code == .server else {
            if error.code == .queryCancelled, Task.isCancelled { return CancellationError() }
            return unavailable(describe(error), logger: logger)
        }
        let state = error.serverInfo?[.sqlState] ?? ""
        if state == "23505", let conflict {
            return conflict
        }
        // Connection exceptions, shutdown, too many connections, missing database, bad login.
        if state.hasPrefix("08") || state.hasPrefix("57P") || state == "53300" || state == "3D000"
            || state.hasPrefix("28")
        {
            return unavailable(error.serverInfo?[.message] ?? "server error \(state)", logger: logger)
        }
        logger.error(
            "PostgreSQL error",
            metadata: [
                "sqlstate": "\(state)",
                "message": "\(error.serverInfo?[.message] ?? "")",
                "detail": "\(error.serverInfo?[.detail] ?? "")",
            ]
        )
        return MagnumError(.internal, internalMessage)
    }

    /// A short, SQL-free description of a client-side PostgreSQL error.
    private static func describe(_ error: PSQLError) -> String {
        if let underlying = error.underlying {
            return "\(underlying)"
        }
        switch error.code {
        case .connectionError: return "connection error"
        case .serverClosedConnection: return "server closed the connection"
        case .clientClosedConnection: return "connection closed"
        case .poolClosed: return "connection pool closed"
        case .sslUnsupported: return "server does not support TLS"
        default: return "\(error.code)"
        }
    }
}
