import Foundation
import Logging
import MagnumCore
import NIOHTTP1

/// The load balancers that Kubernetes' OpenStack cloud provider made for a cluster's
/// `LoadBalancer` services and ingresses. Heat does not know them, and they hold ports on the
/// cluster's subnet, so the cluster stack cannot be deleted while they exist: the delete step
/// removes them (with their listeners, pools and members, and the floating IP the provider
/// gave their VIP) first.
///
/// The cloud provider names the cluster in each description (`Kubernetes external service
/// <namespace>/<name> from cluster <cluster-name>`, the floating IP `Floating IP for Kubernetes
/// external service … from cluster <cluster-name>`); the bootstrap sets the cluster name to the
/// cluster's UUID, so only this cluster's load balancers match.
struct ServiceLoadBalancers: Sendable {
    /// The Octavia endpoint (catalog type `load-balancer`).
    var octavia: String
    /// The Neutron endpoint (catalog type `network`), for the VIPs' floating IPs.
    var neutron: String?
    /// The trust's token.
    var token: String
    /// The cluster whose load balancers these are.
    var clusterUUID: String

    /// One load balancer as Octavia lists it.
    struct LoadBalancer: Equatable, Sendable {
        var id: String
        var description: String
        var provisioningStatus: String
        var vipPortID: String?
    }

    /// Whether a load balancer's description says the cloud provider made it for `clusterUUID`.
    static func madeByCloudProvider(_ description: String, for clusterUUID: String) -> Bool {
        description.hasPrefix("Kubernetes ") && description.dropFirst("Kubernetes ".count).contains(" from cluster \(clusterUUID)")
    }

    /// Whether a floating IP's description says the cloud provider made it for `clusterUUID`.
    static func floatingIPMadeByCloudProvider(_ description: String, for clusterUUID: String) -> Bool {
        description.hasPrefix("Floating IP for Kubernetes ") && description.hasSuffix(" from cluster \(clusterUUID)")
    }

    /// The Octavia v2 API root of an endpoint that may or may not carry the version.
    var api: String {
        let base = octavia.hasSuffix("/") ? String(octavia.dropLast()) : octavia
        return base.hasSuffix("/v2") || base.hasSuffix("/v2.0") ? base : base + "/v2"
    }

    /// The cluster's load balancers that are not deleted yet.
    func list() async throws -> [LoadBalancer] {
        let body = try await CloudHTTP(service: "Octavia").json(.GET, api + "/lbaas/loadbalancers", token: token, expect: [200])
        return (body["loadbalancers"]?.arrayValue ?? []).compactMap { lb in
            guard let id = lb["id"]?.stringValue, let description = lb["description"]?.stringValue,
                  Self.madeByCloudProvider(description, for: clusterUUID) else { return nil }
            let status = lb["provisioning_status"]?.stringValue ?? "ACTIVE"
            guard status != "DELETED" else { return nil }
            return LoadBalancer(id: id, description: description, provisioningStatus: status, vipPortID: lb["vip_port_id"]?.stringValue)
        }
    }

    /// Deletes the cluster's load balancers and waits until Octavia has removed them. One that
    /// is being created or changed (`PENDING_CREATE`/`PENDING_UPDATE`) cannot be deleted yet:
    /// that is a transient failure, and the conductor tries again later.
    func remove(pollInterval: Duration, maxPolls: Int = 300, logger: Logger) async throws {
        var asked = Set<String>()
        for _ in 0..<maxPolls {
            let current = try await list()
            if current.isEmpty { return }
            for lb in current where !asked.contains(lb.id) {
                switch lb.provisioningStatus {
                case "ACTIVE", "ERROR":
                    if let port = lb.vipPortID { try await removeFloatingIP(of: port, logger: logger) }
                    let answer = try await CloudHTTP(service: "Octavia").send(.DELETE, api + "/lbaas/loadbalancers/\(CloudHTTP.escape(lb.id))?cascade=true", token: token)
                    switch answer.status {
                    case 202, 204, 404: break
                    case 409: continue   // became immutable meanwhile: the next round sees its status
                    default: throw CloudHTTP(service: "Octavia").failure(answer, .DELETE, api + "/lbaas/loadbalancers/\(lb.id)")
                    }
                    logger.info("cloud provider's load balancer delete requested", metadata: ["load_balancer_id": .string(lb.id)])
                    asked.insert(lb.id)
                case "PENDING_DELETE":
                    asked.insert(lb.id)
                default:
                    throw MagnumError(.unavailable, "Load balancer \(lb.id) (\(lb.description)) is \(lb.provisioningStatus); it can be deleted once Octavia has settled it.")
                }
            }
            try await Task.sleep(for: pollInterval)
        }
        throw MagnumError(.unavailable, "Octavia has not finished deleting the cluster's load balancers yet.")
    }

    /// Deletes the floating IP on a load balancer's VIP port when the cloud provider made it for
    /// this cluster (an operator's own floating IP stays).
    func removeFloatingIP(of port: String, logger: Logger) async throws {
        guard let neutron else { return }
        let http = CloudHTTP(service: "Neutron")
        let body = try await http.json(.GET, neutron + "/v2.0/floatingips?port_id=\(CloudHTTP.escape(port))", token: token, expect: [200])
        for fip in body["floatingips"]?.arrayValue ?? [] {
            guard let id = fip["id"]?.stringValue,
                  Self.floatingIPMadeByCloudProvider(fip["description"]?.stringValue ?? "", for: clusterUUID) else { continue }
            _ = try await http.json(.DELETE, neutron + "/v2.0/floatingips/\(CloudHTTP.escape(id))", token: token, expect: [204, 404])
            logger.info("cloud provider's floating IP deleted", metadata: ["floating_ip_id": .string(id)])
        }
    }
}
