import Crypto
import Foundation
@testable import HeatDriver
import MagnumCore
import MagnumDrivers
import MagnumPKI
import XCTest

/// What a CA rotation sends through the stack update: the deployment inputs and the script the
/// nodes' agent runs. Heat running the deployments and the agent signalling them run against a
/// real Heat in scripts/heat-templates-check.sh (agent_deployments) and scripts/heat-e2e.sh.
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

    func testTheHeatDriverOffersCARotation() {
        XCTAssertTrue(DriverRegistry.builtIn.named(HeatDriver.driverName)?.capabilities.contains(.rotateCA) == true)
    }
}
