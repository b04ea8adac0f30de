import Foundation
import Logging
import MagnumCore
import MagnumStore
import MagnumTestSupport
import PostgresNIO
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sends `signal` to `pid`.
private func deliver(_ signal: Int32, to pid: Int32) {
    _ = kill(pid, signal)
}

/// Real `magnum-test-conductor` processes (the fixture of Tests/TestConductor) on one PostgreSQL
/// database, by slot: started, SIGKILLed, restarted, terminated. Each start writes its output to
/// its own log file, whose tails are printed when a test fails.
final class ConductorFleet: @unchecked Sendable {
    /// The fixture's executable name.
    static let executableName = "magnum-test-conductor"

    /// The fixture built next to the test bundle (`swift build --build-tests` builds it).
    static func executable() throws -> URL {
        let name = executableName
        var candidates: [URL] = []
        // Linux: `swift test` runs .build/<triple>/debug/<package>PackageTests.xctest as a program.
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name))
        // macOS: the bundle sits in the products directory.
        candidates.append(Bundle(for: ConductorFleet.self).bundleURL.deletingLastPathComponent().appendingPathComponent(name))
        // From the source tree: <package>/.build/debug.
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(package.appendingPathComponent(".build/debug").appendingPathComponent(name))
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) { return found }
        XCTFail("\(name) is not built (looked in \(candidates.map(\.path))); run `swift build --build-tests` first")
        throw MagnumError(.notFound, "\(name) is not built")
    }

    private let lock = NSLock()
    private var running: [Int: Process] = [:]
    private var starts = 0
    private var logs: [URL] = []
    private(set) var kills = 0
    let binary: URL
    let environment: [String: String]
    let logDirectory: URL

    /// A fleet of `binary` on the database of `databaseURL`; `settings` adds fixture variables
    /// (MAGNUM_TEST_CONDUCTOR_LEASE_SECONDS, …).
    init(binary: URL, databaseURL: String, settings: [String: String] = [:]) throws {
        self.binary = binary
        var env = ProcessInfo.processInfo.environment
        env["MAGNUM_DATABASE_URL"] = databaseURL
        env["MAGNUM_TEST_CONDUCTOR_PARENT_PID"] = String(getpid())
        env["MAGNUM_LOG_LEVEL"] = env["MAGNUM_TEST_LOG_LEVEL"] ?? "info"
        for (k, v) in settings { env[k] = v }
        environment = env
        logDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("magnum-fleet-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
    }

    /// Starts a conductor in `slot` (which must be empty); returns its pid.
    @discardableResult
    func start(slot: Int) throws -> Int32 {
        try lock.withLock {
            precondition(running[slot] == nil, "slot \(slot) is taken")
            starts += 1
            let log = logDirectory.appendingPathComponent("conductor-\(slot)-\(starts).log")
            FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            let process = Process()
            process.executableURL = binary
            process.environment = environment
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            try process.run()
            try? handle.close()
            running[slot] = process
            logs.append(log)
            return process.processIdentifier
        }
    }

    /// The pid in each occupied slot.
    var pids: [Int: Int32] { lock.withLock { running.mapValues(\.processIdentifier) } }

    /// SIGKILLs the conductor in `slot` and waits until it is gone.
    func kill(slot: Int) async {
        guard let process = lock.withLock({ running.removeValue(forKey: slot) }) else { return }
        deliver(SIGKILL, to: process.processIdentifier)
        lock.withLock { kills += 1 }
        await Self.waitForExit(process, timeout: .seconds(10))
    }

    /// Sends SIGTERM to every conductor and waits for each to exit (SIGKILL after `timeout`);
    /// returns how each ended, by slot: `exit N`, `signal N`, or `killed after timeout`.
    func terminateAll(timeout: Duration = .seconds(15)) async -> [Int: String] {
        let all = lock.withLock {
            defer { running.removeAll() }
            return running
        }
        for process in all.values { process.terminate() }
        var endings: [Int: String] = [:]
        for (slot, process) in all {
            if await Self.waitForExit(process, timeout: timeout) {
                endings[slot] = "\(process.terminationReason == .exit ? "exit" : "signal") \(process.terminationStatus)"
            } else {
                deliver(SIGKILL, to: process.processIdentifier)
                await Self.waitForExit(process, timeout: .seconds(10))
                endings[slot] = "killed after timeout"
            }
        }
        return endings
    }

    /// SIGKILLs whatever still runs (teardown, also after a failure). Synchronous on purpose.
    func killAll() {
        let all = lock.withLock {
            defer { running.removeAll() }
            return running
        }
        for process in all.values where process.isRunning {
            deliver(SIGKILL, to: process.processIdentifier)
            process.waitUntilExit()
        }
    }

    /// The last lines of every log, for a failure's diagnosis.
    func logTails(lines: Int = 15) -> String {
        let files = lock.withLock { logs }
        return files.map { url in
            let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
            return "== \(url.lastPathComponent)\n" + text.split(separator: "\n").suffix(lines).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// Removes the log directory.
    func removeLogs() { try? FileManager.default.removeItem(at: logDirectory) }

    @discardableResult
    private static func waitForExit(_ process: Process, timeout: Duration) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while process.isRunning {
            if clock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }
}

/// One row of the fixture's `test_journal`: a step a conductor ran.
struct JournalEntry: Sendable, Hashable {
    var operation: String
    var cluster: String
    var step: String
    var pid: Int
    var changed: Bool
}

/// Reads the fixture's tables and the operation table directly.
struct FixtureTables: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// Runs `body` with a client of `url` whose pool runs meanwhile.
    static func with<T: Sendable>(url: String, _ body: (FixtureTables) async throws -> T) async throws -> T {
        var configuration = try PostgresURL(url).clientConfiguration()
        configuration.options.maximumConnections = 2
        let logger = TestDatabases.logger
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(FixtureTables(client: client, logger: logger))
        }
    }

    /// Every journal row, oldest first (empty before a fixture created the table).
    func journal() async throws -> [JournalEntry] {
        guard try await tableExists("test_journal") else { return [] }
        let rows = try await client.query("SELECT operation_uuid, cluster_uuid, step, pid, changed FROM test_journal ORDER BY id", logger: logger)
        var out: [JournalEntry] = []
        for try await (op, cluster, step, pid, changed) in rows.decode((String, String, String, Int, Bool).self) {
            out.append(JournalEntry(operation: op, cluster: cluster, step: step, pid: pid, changed: changed))
        }
        return out
    }

    /// The infrastructure's node count per cluster.
    func infrastructure() async throws -> [String: Int] {
        guard try await tableExists("test_infrastructure") else { return [:] }
        let rows = try await client.query("SELECT cluster_uuid, node_count FROM test_infrastructure", logger: logger)
        var out: [String: Int] = [:]
        for try await (uuid, count) in rows.decode((String, Int).self) { out[uuid] = count }
        return out
    }

    /// The lease owners of running operations.
    func leaseOwners() async throws -> [String] {
        let rows = try await client.query(
            "SELECT lease_owner FROM operation WHERE state = 'running' AND lease_owner IS NOT NULL", logger: logger)
        var out: [String] = []
        for try await owner in rows.decode(String.self) { out.append(owner) }
        return out
    }

    /// Every operation row (all clusters, deleted ones included).
    func operations() async throws -> [(uuid: String, kind: String, cluster: String, state: String, attempts: Int, error: String?)] {
        let rows = try await client.query("SELECT uuid, kind, resource_uuid, state, attempts, last_error FROM operation ORDER BY id", logger: logger)
        var out: [(uuid: String, kind: String, cluster: String, state: String, attempts: Int, error: String?)] = []
        for try await (uuid, kind, cluster, state, attempts, error) in rows.decode((String, String, String, String, Int, String?).self) {
            out.append((uuid, kind, cluster, state, attempts, error))
        }
        return out
    }

    private func tableExists(_ name: String) async throws -> Bool {
        let rows = try await client.query("SELECT to_regclass(\(name)) IS NOT NULL", logger: logger)
        for try await exists in rows.decode(Bool.self) { return exists }
        return false
    }
}
