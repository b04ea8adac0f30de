// `magnum-test-conductor`: a TEST FIXTURE, never shipped (it is not a product of the package and
// lives under Tests/). It is the production conductor — `Conductor.run`, the same assembly
// `magnum conductor` runs (store, heartbeat, operation runner in one ServiceGroup with SIGTERM /
// SIGINT handling) — with one difference: its driver set holds the `JournalingDriver`, whose
// "infrastructure" is a table in the conductor's own PostgreSQL database and which journals every
// step. The crash tests (Tests/MagnumConductorTests/ConductorCrashTests.swift) start several of
// these processes, SIGKILL them at random points and check the journal afterwards.
//
// Configuration, from the environment:
//   MAGNUM_DATABASE_URL                     postgres://… (required; the schema must be migrated)
//   MAGNUM_TEST_CONDUCTOR_LEASE_SECONDS     operation lease (default 2: quick takeover)
//   MAGNUM_TEST_CONDUCTOR_STEP_MS           a step's duration range, e.g. 20-300 (default)
//   MAGNUM_TEST_CONDUCTOR_OBSERVE_MS        an observation's duration range (default 10-100)
//   MAGNUM_TEST_CONDUCTOR_SETTLE_MS         how long a change stays in progress (default 0-400)
//   MAGNUM_TEST_CONDUCTOR_CONCURRENCY       operations run at once (default 8)
//   MAGNUM_TEST_CONDUCTOR_PARENT_PID        exit when this process is no longer the parent
//   MAGNUM_LOG_LEVEL                        log level (default info)
import Foundation
import Logging
import MagnumConductor
import MagnumCore
import MagnumDrivers
import MagnumStore
import PostgresNIO
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
enum TestConductor {
    static func main() async {
        let env = ProcessInfo.processInfo.environment
        var logger = Logger(label: "magnum.test-conductor")
        logger.logLevel = env["MAGNUM_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        logger[metadataKey: "pid"] = .stringConvertible(ProcessInfo.processInfo.processIdentifier)
        do {
            guard let url = env["MAGNUM_DATABASE_URL"], url.hasPrefix("postgres") else {
                throw MagnumError(.invalid, "MAGNUM_DATABASE_URL must name a PostgreSQL database")
            }
            let store = try SQLStore.postgres(url: url, maxConnections: 6, logger: logger)
            var clientConfiguration = try PostgresURL(url).clientConfiguration()
            clientConfiguration.options.maximumConnections = 4
            try await Infrastructure.prepare(clientConfiguration, logger: logger)
            let client = PostgresClient(configuration: clientConfiguration, backgroundLogger: logger)
            let infrastructure = Infrastructure(client: client, logger: logger)
            let driver = JournalingDriver(
                infrastructure: infrastructure,
                stepDelay: Delay(env["MAGNUM_TEST_CONDUCTOR_STEP_MS"], fallback: 20...300),
                observeDelay: Delay(env["MAGNUM_TEST_CONDUCTOR_OBSERVE_MS"], fallback: 10...100),
                settleDelay: Delay(env["MAGNUM_TEST_CONDUCTOR_SETTLE_MS"], fallback: 0...400))
            let lease = env["MAGNUM_TEST_CONDUCTOR_LEASE_SECONDS"].flatMap(Int.init) ?? 2
            let runner = OperationRunner.Configuration(
                leaseDuration: .seconds(max(1, lease)), idlePollInterval: .milliseconds(50), observeInterval: .milliseconds(50),
                maxConcurrentOperations: env["MAGNUM_TEST_CONDUCTOR_CONCURRENCY"].flatMap(Int.init) ?? 8, maxAttempts: 50,
                baseBackoff: .milliseconds(200), maxBackoff: .seconds(2))
            let parent = env["MAGNUM_TEST_CONDUCTOR_PARENT_PID"].flatMap(Int32.init)
            let services: [any Service] = [client] + (parent.map { [ParentWatch(parent: $0, logger: logger)] } ?? [])
            try await Conductor.run(
                store: store, drivers: DriverSet([driver]), extraServices: services,
                configuration: .init(host: "test-conductor-\(ProcessInfo.processInfo.processIdentifier)",
                                     reportInterval: .seconds(1), runner: runner),
                logger: logger)
        } catch {
            logger.critical("test conductor failed", metadata: ["error": .string(String(describing: error))])
            exit(1)
        }
    }
}

/// Exits the process when its parent (the test) is gone, so a crashed test leaves no conductor
/// behind holding connections to its database.
struct ParentWatch: Service {
    let parent: Int32
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if getppid() != parent {
                    logger.warning("parent process gone; exiting")
                    exit(3)
                }
                do { try await Task.sleep(for: .milliseconds(250)) } catch { return }
            }
        }
    }
}
