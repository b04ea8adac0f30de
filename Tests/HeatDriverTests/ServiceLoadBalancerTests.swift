import Foundation
@testable import HeatDriver
import Hummingbird
import HummingbirdTesting
import Logging
import MagnumCore
import XCTest

/// The pre-delete removal of the cloud provider's load balancers, over live HTTP against a test
/// double of Octavia's and Neutron's APIs (no Octavia runs on this machine).
final class ServiceLoadBalancerTests: XCTestCase {
    static let cluster = "5a1d2c3e-0000-4000-8000-00000000c1a5"
    static let token = "trust-token"

    /// Octavia's load balancers and Neutron's floating IPs of one project, and what was asked.
    actor Cloud {
        struct LB { var description: String; var status: String; var port: String }
        var lbs: [String: LB] = [:]
        var floatingIPs: [String: (port: String, description: String)] = [:]
        var requests: [String] = []
        var deletesLeftPending = 1

        func seed(lbs: [String: LB], floatingIPs: [String: (port: String, description: String)]) {
            self.lbs = lbs
            self.floatingIPs = floatingIPs
        }

        func log(_ line: String) { requests.append(line) }

        /// Octavia's list; a load balancer asked to be deleted shows PENDING_DELETE once, then goes.
        func listLoadBalancers() -> String {
            let items = lbs.sorted { $0.key < $1.key }.map { id, lb in
                #"{"id": "\#(id)", "description": "\#(lb.description)", "provisioning_status": "\#(lb.status)", "vip_port_id": "\#(lb.port)"}"#
            }
            for (id, lb) in lbs where lb.status == "PENDING_DELETE" { lbs[id] = nil }
            return #"{"loadbalancers": [\#(items.joined(separator: ","))]}"#
        }

        func deleteLoadBalancer(_ id: String, cascade: Bool) -> HTTPResponse.Status {
            guard let lb = lbs[id] else { return .notFound }
            guard cascade else { return .badRequest }
            guard lb.status == "ACTIVE" || lb.status == "ERROR" else { return .conflict }
            lbs[id]?.status = "PENDING_DELETE"
            return .noContent
        }

        func listFloatingIPs(port: String?) -> String {
            let items = floatingIPs.filter { port == nil || $0.value.port == port }.map { id, f in
                #"{"id": "\#(id)", "port_id": "\#(f.port)", "description": "\#(f.description)"}"#
            }
            return #"{"floatingips": [\#(items.joined(separator: ","))]}"#
        }

        func deleteFloatingIP(_ id: String) -> HTTPResponse.Status {
            floatingIPs.removeValue(forKey: id) == nil ? .notFound : .noContent
        }
    }

    /// Runs `body` with removal pointed at a live test double of `cloud`.
    func withCloud(_ cloud: Cloud, _ body: @escaping @Sendable (ServiceLoadBalancers) async throws -> Void) async throws {
        let router = Router()
        router.middlewares.add(TokenCheck(cloud: cloud))
        router.get("/load-balancer/v2/lbaas/loadbalancers") { _, _ in await cloud.listLoadBalancers() }
        router.delete("/load-balancer/v2/lbaas/loadbalancers/{id}") { request, context in
            await cloud.deleteLoadBalancer(try context.parameters.require("id"), cascade: request.uri.queryParameters["cascade"] == "true")
        }
        router.get("/network/v2.0/floatingips") { request, _ in
            await cloud.listFloatingIPs(port: request.uri.queryParameters["port_id"].map(String.init))
        }
        router.delete("/network/v2.0/floatingips/{id}") { _, context in await cloud.deleteFloatingIP(try context.parameters.require("id")) }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let base = "http://127.0.0.1:\(client.port!)"
            try await body(ServiceLoadBalancers(octavia: base + "/load-balancer", neutron: base + "/network",
                                                token: Self.token, clusterUUID: Self.cluster))
        }
    }

    /// Refuses requests without the trust's token and logs the others.
    struct TokenCheck: RouterMiddleware {
        let cloud: Cloud
        func handle(_ request: Request, context: BasicRequestContext, next: (Request, BasicRequestContext) async throws -> Response) async throws -> Response {
            guard request.headers[.init("X-Auth-Token")!] == ServiceLoadBalancerTests.token else { return Response(status: .unauthorized) }
            await cloud.log("\(request.method) \(request.uri.path)\(request.uri.query.map { "?" + $0 } ?? "")")
            return try await next(request, context)
        }
    }

    func testTheCloudProvidersLoadBalancersOfTheClusterAreRemovedWithTheirFloatingIPs() async throws {
        let c = Self.cluster
        let cloud = Cloud()
        await cloud.seed(lbs: [
            "lb-web": .init(description: "Kubernetes external service default/web from cluster \(c)", status: "ACTIVE", port: "port-web"),
            "lb-broken": .init(description: "Kubernetes ingress kube-system/ing from cluster \(c)", status: "ERROR", port: "port-broken"),
            "lb-other-cluster": .init(description: "Kubernetes external service default/web from cluster 0ther", status: "ACTIVE", port: "port-x"),
            "lb-operator": .init(description: "the operator's own", status: "ACTIVE", port: "port-op"),
        ], floatingIPs: [
            "fip-web": (port: "port-web", description: "Floating IP for Kubernetes external service default/web from cluster \(c)"),
            "fip-broken-by-hand": (port: "port-broken", description: "given by hand"),
            "fip-operator": (port: "port-op", description: "Floating IP for Kubernetes external service a/b from cluster \(c)"),
        ])
        try await withCloud(cloud) { lbs in
            try await lbs.remove(pollInterval: .milliseconds(10), logger: Logger(label: "test"))
        }
        let left = await cloud.lbs.keys.sorted()
        XCTAssertEqual(left, ["lb-operator", "lb-other-cluster"], "only the cluster's own load balancers are gone")
        let fips = await cloud.floatingIPs.keys.sorted()
        XCTAssertEqual(fips, ["fip-broken-by-hand", "fip-operator"],
                       "the provider's floating IP of a removed load balancer goes; one given by hand, or on a load balancer that stays, does not")
        let deletes = await cloud.requests.filter { $0.hasPrefix("DELETE") }.sorted()
        XCTAssertEqual(deletes, [
            "DELETE /load-balancer/v2/lbaas/loadbalancers/lb-broken?cascade=true",
            "DELETE /load-balancer/v2/lbaas/loadbalancers/lb-web?cascade=true",
            "DELETE /network/v2.0/floatingips/fip-web",
        ], "each asked once, with its listeners, pools and members (cascade)")
    }

    func testALoadBalancerOctaviaIsStillChangingIsATransientFailure() async throws {
        let cloud = Cloud()
        await cloud.seed(lbs: [
            "lb-busy": .init(description: "Kubernetes external service default/web from cluster \(Self.cluster)", status: "PENDING_UPDATE", port: "p"),
        ], floatingIPs: [:])
        do {
            try await withCloud(cloud) { lbs in try await lbs.remove(pollInterval: .milliseconds(10), logger: Logger(label: "test")) }
            XCTFail("a PENDING_UPDATE load balancer cannot be deleted yet")
        } catch let error as MagnumError {
            XCTAssertEqual(error.code, .unavailable, "the conductor retries the delete later")
            XCTAssertTrue(error.message.contains("lb-busy") && error.message.contains("PENDING_UPDATE"), error.message)
        }
        let left = await cloud.lbs["lb-busy"]?.status
        XCTAssertEqual(left, "PENDING_UPDATE", "nothing was asked of it")
    }

    func testOnlyTheCloudProvidersDescriptionsOfThisClusterMatch() {
        let c = Self.cluster
        XCTAssertTrue(ServiceLoadBalancers.madeByCloudProvider("Kubernetes external service ns/svc from cluster \(c)", for: c))
        XCTAssertFalse(ServiceLoadBalancers.madeByCloudProvider("Kubernetes external service ns/svc from cluster other", for: c))
        XCTAssertFalse(ServiceLoadBalancers.madeByCloudProvider("kubernetes external service ns/svc from cluster \(c)", for: c))
        XCTAssertFalse(ServiceLoadBalancers.madeByCloudProvider("my lb from cluster \(c)", for: c))
        XCTAssertTrue(ServiceLoadBalancers.floatingIPMadeByCloudProvider("Floating IP for Kubernetes external service ns/svc from cluster \(c)", for: c))
        XCTAssertFalse(ServiceLoadBalancers.floatingIPMadeByCloudProvider("Floating IP for Kubernetes external service ns/svc from cluster \(c)-2", for: c))
        XCTAssertEqual(ServiceLoadBalancers(octavia: "http://o:9876/", neutron: nil, token: "t", clusterUUID: c).api, "http://o:9876/v2")
        XCTAssertEqual(ServiceLoadBalancers(octavia: "http://o/load-balancer/v2.0", neutron: nil, token: "t", clusterUUID: c).api, "http://o/load-balancer/v2.0")
    }
}
