import MagnumCore
import MagnumPKI
import MagnumStore
import MagnumTestSupport
import XCTest

/// The requesting user's token travels to a driver that acts as that user (the Heat driver's
/// `usesCallerToken`): sealed into the create operations, bound to each operation, never in
/// clear; other drivers' operations carry none.
final class CallerTokenTests: XCTestCase {
    private func operations(_ h: APIHarness, _ uuid: String) async throws -> [MagnumCore.ClusterOperation] {
        try await h.store.read { try await $0.operations(resourceUUID: uuid) }
    }

    func testHeatClusterAndNodegroupCreatesCarryTheSealedTokenAndRoles() async throws {
        try await APIHarness.withEach { h in
            let template = try await h.createTemplate()["uuid"]!.stringValue!
            let cluster = try await h.createCluster(template: template)
            let createOps = try await self.operations(h, cluster)
            let create = try XCTUnwrap(createOps.first { $0.kind == .clusterCreate })
            let sealed = try XCTUnwrap(create.parameters[CallerToken.tokenParameter]?.stringValue)
            XCTAssertFalse(sealed.contains(APIHarness.Token.demo.rawValue), "the token is never stored in clear")
            let authority = APIHarness.certificateAuthority
            XCTAssertEqual(try authority.open(secret: sealed, context: CallerToken.sealContext(create.uuid)), APIHarness.Token.demo.rawValue)
            XCTAssertThrowsError(try authority.open(secret: sealed, context: CallerToken.sealContext("another-operation")),
                                 "a sealed token opens only for its own operation")
            XCTAssertEqual(create.parameters[CallerToken.rolesParameter], ["member", "reader"])
            // Nothing the API shows carries it.
            let shown = try await h.request(.get, "/v1/clusters/\(cluster)", token: .demo).text
            XCTAssertFalse(shown.contains(sealed))
            let events = try await h.request(.get, "/v1/clusters/\(cluster)/events", token: .demo).text
            XCTAssertFalse(events.contains(sealed))
            XCTAssertFalse(events.contains(CallerToken.tokenParameter))

            try await h.setClusterState(cluster, .createComplete, apiAddress: "https://10.0.0.5:6443")
            let r = try await h.request(.post, "/v1/clusters/\(cluster)/nodegroups", token: .demo, version: "latest", body: ["name": "extra", "node_count": 1])
            XCTAssertEqual(r.status, 202, r.text)
            let ngCreateOps = try await self.operations(h, cluster)
            let ngCreate = try XCTUnwrap(ngCreateOps.first { $0.kind == .nodegroupCreate })
            let ngSealed = try XCTUnwrap(ngCreate.parameters[CallerToken.tokenParameter]?.stringValue)
            XCTAssertEqual(try authority.open(secret: ngSealed, context: CallerToken.sealContext(ngCreate.uuid)), APIHarness.Token.demo.rawValue)

            // Resizes act through the cluster's trust: no token recorded.
            let resize = try await h.request(.post, "/v1/clusters/\(cluster)/actions/resize", token: .demo, version: "latest", body: ["node_count": 2])
            XCTAssertEqual(resize.status, 202, resize.text)
            let resizeOpOps = try await self.operations(h, cluster)
            let resizeOp = try XCTUnwrap(resizeOpOps.first { $0.kind == .clusterResize })
            XCTAssertNil(resizeOp.parameters[CallerToken.tokenParameter])
        }
    }

    func testLocalDriverOperationsCarryNoToken() async throws {
        try await APIHarness.withEach { h in
            let template = try await h.createTemplate(["coe": "swarm-mode", "image_id": "local-swarm"])["uuid"]!.stringValue!
            let cluster = try await h.createCluster(template: template)
            let createOps = try await self.operations(h, cluster)
            let create = try XCTUnwrap(createOps.first { $0.kind == .clusterCreate })
            XCTAssertNil(create.parameters[CallerToken.tokenParameter])
            XCTAssertNil(create.parameters[CallerToken.rolesParameter])
        }
    }
}
