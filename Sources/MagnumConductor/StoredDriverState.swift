import MagnumCore
import MagnumDrivers
import MagnumStore

/// Drivers' per-cluster state kept in the store (`cluster_driver_state`), each value written
/// in a transaction of its own so it is durable when `set` returns.
struct StoredDriverState: ClusterDriverState {
    let store: any Store

    func values(clusterUUID: String) async throws -> [String: String] {
        try await store.read { try await $0.driverState(clusterUUID: clusterUUID) }
    }

    func set(clusterUUID: String, key: String, value: String?) async throws {
        try await store.write { try await $0.setDriverState(clusterUUID: clusterUUID, key: key, value: value) }
    }
}
