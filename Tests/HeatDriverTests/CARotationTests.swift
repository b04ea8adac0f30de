import Crypto
import Foundation
@testable import HeatDriver
import Hummingbird
import HummingbirdTesting
import Logging
import MagnumCore
import MagnumDrivers
import MagnumPKI
import XCTest

/// What a CA rotation sends through the stack update — the deployment inputs and the script the
/// nodes' agent runs — and how the driver updates each stack once per rotation, over live HTTP
/// against a test double of Keystone's token API and Heat's stacks. Heat running the
/// deployments and the agent signalling them run against a real Heat in
/// scripts/heat-templates-check.sh (agent_deployments) and scripts/heat-e2e.sh.
final class CARotationTests: XCTestCase {
    let authority = SealedCertificateAuthority(pki: ClusterPKI(configuration: .init(keyType: .ecdsaP256)),
                                               vault: KeyVault(key: SymmetricKey(size: .bits256)))

    func spec(_ certificates: [ClusterCertificate]) -> ClusterSpec {
        ClusterSpec(cluster: Cluster(uuid: "c-1", clusterTemplateID: "t"), template: ClusterTemplate(uuid: "t", coe: "kubernetes"),
                    nodegroups: [], certificates: certificates)
    }

    func testInputsCarryTheNewCAsAndATrustTokenButNoKey() async throws {
        let old = try await authority.issueCertificateSet(clusterName: "rot", clusterUUID: "c-1")
        let new = try await authority.issueCertificateSet(clusterName: "rot", clusterUUID: "c-1")
        let (id, inputs) = try HeatDriver.caRotationInputs(spec(new), token: "trust-token")
        let ca = try XCTUnwrap(new.first { $0.kind == .kubernetes })
        XCTAssertEqual(id, try CertificateSummary(certificatePEM: ca.certificatePEM).serialNumber)
        XCTAssertEqual(inputs["rotation_id"]?.stringValue, id)
        XCTAssertEqual(inputs["bootstrap_token"]?.stringValue, "trust-token")
        XCTAssertEqual(inputs["kubernetes_ca"]?.stringValue, ca.certificatePEM)
        XCTAssertEqual(inputs["etcd_ca"]?.stringValue, new.first { $0.kind == .etcd }?.certificatePEM)
        XCTAssertEqual(inputs["front_proxy_ca"]?.stringValue, new.first { $0.kind == .frontProxy }?.certificatePEM)
        XCTAssertEqual(Set(inputs.keys), ["rotation_id", "bootstrap_token", "kubernetes_ca", "etcd_ca", "front_proxy_ca"])
        XCTAssertFalse(JSON.object(inputs).serialized().contains("PRIVATE KEY"))
        // Another CA is another rotation: its stacks are updated again.
        XCTAssertNotEqual(try HeatDriver.caRotationInputs(spec(old), token: "trust-token").0, id)
        // A cluster without a CA has nothing to rotate onto.
        XCTAssertThrowsError(try HeatDriver.caRotationInputs(spec([]), token: "t")) { error in
            XCTAssertEqual((error as? MagnumError)?.code, .internal)
        }
    }

    func testTheRotationScriptIsTheSharedLibraryThenTheCOEsScript() throws {
        let scripts = try StackTemplates(directory: HeatDriver.bundledTemplates, environments: []).bootstrapScripts
        let bootstrap = NodeBootstrap(scripts: scripts)
        for coe in StackTemplates.coes {
            let script = try bootstrap.rotationScript(coe: coe)
            let common = try XCTUnwrap(scripts["common.sh"]), own = try XCTUnwrap(scripts["\(coe)-rotate-ca.sh"])
            XCTAssertEqual(script, common + "\n" + own)
            // The COE's script runs rotation_init, which the shared library defines before it.
            XCTAssertTrue(common.contains("rotation_init() {"))
            XCTAssertTrue(own.contains("\nrotation_init\n"))
        }
        XCTAssertThrowsError(try bootstrap.rotationScript(coe: "mesos"))
    }

    /// Heat's stacks of one project, by `name/id`, and the updates asked of it.
    actor Heat {
        var stacks: [String: (status: String, updated: String?)] = [:]
        var patches: [(stack: String, body: JSON)] = []

        func seed(_ refs: [String]) { for ref in refs { stacks[ref] = ("CREATE_COMPLETE", nil) } }
        func complete() { for ref in stacks.keys { stacks[ref]?.status = "UPDATE_COMPLETE" } }

        func show(_ ref: String) -> Response {
            guard let s = stacks[ref] else { return Response(status: .notFound) }
            let parts = ref.split(separator: "/").map(String.init)
            let stack: JSON = ["stack": ["id": .string(parts[1]), "stack_name": .string(parts[0]), "stack_status": .string(s.status),
                                         "updated_time": s.updated.map(JSON.string) ?? .null, "outputs": []]]
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: stack.serialized())))
        }

        /// An update starts at once; Heat refuses one while another is under way.
        func patch(_ ref: String, _ body: JSON) -> HTTPResponse.Status {
            guard let s = stacks[ref] else { return .notFound }
            guard !s.status.hasSuffix("_IN_PROGRESS") else { return .conflict }
            patches.append((ref, body))
            stacks[ref] = ("UPDATE_IN_PROGRESS", "2026-12-06T10:00:0\(patches.count)Z")
            return .accepted
        }
    }

    /// The conductor's driver state, in memory.
    actor MemoryState: ClusterDriverState {
        var stored: [String: [String: String]] = [:]
        func values(clusterUUID: String) -> [String: String] { stored[clusterUUID] ?? [:] }
        func set(clusterUUID: String, key: String, value: String?) { stored[clusterUUID, default: [:]][key] = value }
    }

    /// Runs `body` with a driver whose Keystone and Heat are a live double of `heat`: a trust's
    /// token is `trust-token`, whose catalog's orchestration endpoint is the double's `/v1/p`.
    func withCloud(_ heat: Heat, _ body: @escaping @Sendable (HeatDriver) async throws -> Void) async throws {
        let router = Router()
        router.post("/v3/auth/tokens") { request, _ -> Response in
            let sent = try JSON.parse(string: String(buffer: try await request.body.collect(upTo: 1 << 16)))
            guard sent["auth"]?["scope"]?["OS-TRUST:trust"]?["id"]?.stringValue == "trust-1" else { return Response(status: .unauthorized) }
            let token: JSON = ["token": ["expires_at": "2099-01-01T00:00:00.000000Z", "project": ["id": "p"], "catalog": [
                ["type": "orchestration", "endpoints": [["interface": "public", "region_id": "RegionOne",
                                                          "url": .string("http://\(request.head.authority ?? "")/v1/p")]]],
            ]]]
            return Response(status: .created, headers: [.init("X-Subject-Token")!: "trust-token"],
                            body: .init(byteBuffer: ByteBuffer(string: token.serialized())))
        }
        router.get("/v1/p/stacks/{name}/{id}") { _, context in
            await heat.show(try context.parameters.require("name") + "/" + context.parameters.require("id"))
        }
        router.patch("/v1/p/stacks/{name}/{id}") { request, context -> HTTPResponse.Status in
            guard request.headers[.init("X-Auth-Token")!] == "trust-token" else { return .unauthorized }
            let sent = try JSON.parse(string: String(buffer: try await request.body.collect(upTo: 1 << 20)))
            return await heat.patch(try context.parameters.require("name") + "/" + context.parameters.require("id"), sent)
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        let authority = authority
        try await app.test(.live) { client in
            let driver = try HeatDriver(configuration: .init(keystoneURL: "http://127.0.0.1:\(client.port!)/v3", serviceUser: "magnum",
                                                             servicePassword: "-", magnumURL: "http://127.0.0.1:1", pollInterval: .milliseconds(10)),
                                        authority: authority)
            try await body(driver)
        }
    }

    func testEachStackIsUpdatedOncePerRotationAndOneHeatIsStillUpdatingWaits() async throws {
        let uuid = "c-1"
        var master = NodeGroup(uuid: "ng-m", clusterID: uuid), worker = NodeGroup(uuid: "ng-w", clusterID: uuid)
        master.role = "master"
        master.isDefault = true
        worker.isDefault = true
        let extra = NodeGroup(uuid: "ng-x", clusterID: uuid)
        var built = spec(try await authority.issueCertificateSet(clusterName: "rot", clusterUUID: uuid))
        built.nodegroups = [master, worker, extra]
        let rotated = built
        built.certificates = try await authority.issueCertificateSet(clusterName: "rot", clusterUUID: uuid)
        let again = built
        let state = MemoryState()
        for (key, value) in [(HeatClusterRecord.stackKey, "k8s-c/s-1"), (HeatClusterRecord.nodegroupKey("ng-x"), "k8s-c-x/s-2"),
                             (HeatClusterRecord.trusteeKey, "trustee-1"), (HeatClusterRecord.trustKey, "trust-1"),
                             (HeatClusterRecord.trusteePasswordKey, try authority.seal(secret: "pw", context: HeatDriver.passwordContext(uuid)))] {
            await state.set(clusterUUID: uuid, key: key, value: value)
        }
        let heat = Heat()
        await heat.seed(["k8s-c/s-1", "k8s-c-x/s-2"])
        let context = DriverContext(operationID: "op-1", state: state, logger: Logger(label: "test"))
        let first = try HeatDriver.caRotationInputs(rotated, token: "trust-token").0
        let second = try HeatDriver.caRotationInputs(again, token: "trust-token").0
        try await withCloud(heat) { driver in
            try await driver.rotateCA(rotated, context: context)
            var patches = await heat.patches
            XCTAssertEqual(patches.map(\.stack), ["k8s-c/s-1", "k8s-c-x/s-2"], "the cluster's stack, then each nodegroup's")
            for (_, body) in patches {
                XCTAssertEqual(body["existing"], true)
                XCTAssertEqual(body["parameters"]?["ca_rotation"]?["rotation_id"]?.stringValue, first)
                XCTAssertEqual(body["parameters"]?["ca_rotation"]?["bootstrap_token"]?.stringValue, "trust-token")
                XCTAssertEqual(body["parameters"]?["ca_rotation_script"]?.stringValue, try NodeBootstrap(scripts: driver.templates.bootstrapScripts).rotationScript(coe: "kubernetes"))
            }

            // Run again (a conductor died after the updates were accepted): nothing is asked again.
            try await driver.rotateCA(rotated, context: context)
            patches = await heat.patches
            XCTAssertEqual(patches.count, 2)

            // The next rotation while Heat still works on the stacks: retried later, nothing asked.
            do {
                try await driver.rotateCA(again, context: context)
                XCTFail("a stack Heat is updating cannot be updated again")
            } catch let error as MagnumError {
                XCTAssertEqual(error.code, .unavailable)
                XCTAssertTrue(error.message.contains("k8s-c") && error.message.contains("UPDATE_IN_PROGRESS"), error.message)
            }
            patches = await heat.patches
            XCTAssertEqual(patches.count, 2)
            await heat.complete()
            try await driver.rotateCA(again, context: context)
            patches = await heat.patches
            XCTAssertEqual(patches.dropFirst(2).map { $0.body["parameters"]?["ca_rotation"]?["rotation_id"]?.stringValue }, [second, second])
        }
        let recorded = await state.values(clusterUUID: uuid)
        XCTAssertEqual(recorded[HeatDriver.caRotationKey("s-1")], second)
        XCTAssertEqual(recorded[HeatDriver.caRotationKey("s-2")], second)
    }

    func testTheHeatDriverOffersCARotation() {
        XCTAssertTrue(DriverRegistry.builtIn.named(HeatDriver.driverName)?.capabilities.contains(.rotateCA) == true)
    }
}
