import Foundation
@testable import HeatDriver
import Hummingbird
import HummingbirdTesting
import HummingbirdTLS
import MagnumCore
import MagnumDrivers
import MagnumPKI
import NIOSSL
import XCTest

/// Health from a cluster's own API, over live mutual TLS against a test double of the
/// Kubernetes API server and of a Swarm manager's Docker Engine API: the double trusts only the
/// cluster CA's client certificates, and serves a certificate that CA signed.
final class ClusterHealthTests: XCTestCase {
    /// A cluster's CA, Magnum's client certificate and the API server's certificate.
    struct ClusterCA {
        let ca: IssuedCertificate
        let client: IssuedCertificate
        let server: IssuedCertificate

        init() throws {
            var configuration = PKIConfiguration()
            configuration.keyType = .ecdsaP256
            let pki = ClusterPKI(configuration: configuration)
            let set = try pki.issueCertificateSet(clusterName: "health", clusterUUID: UUID().uuidString)
            ca = set.ca
            client = set.magnumClient
            server = try pki.issueServerCertificate(signedBy: set.ca, commonName: "kube-apiserver", ipAddresses: ["10.0.0.5"], dnsNames: [])
        }

        var admin: AdminCredentials { AdminCredentials(caPEM: ca.certificatePEM, certificatePEM: client.certificatePEM, keyPEM: client.privateKeyPEM) }
    }

    /// What the double answers.
    struct Answers: Sendable {
        var healthz = (HTTPResponse.Status.ok, "ok")
        var kubernetesNodes: [(String, String)] = [("m-0", "True"), ("w-0", "True")]
        var swarmNodes: [(String, String)] = [("m-0", "ready"), ("w-0", "ready")]
    }

    /// Runs `body` with the base URL of a live mutual-TLS double answering `answers`.
    func withAPI(_ cluster: ClusterCA, _ answers: Answers, _ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let router = Router()
        router.get("/healthz") { _, _ in
            Response(status: answers.healthz.0, body: .init(byteBuffer: ByteBuffer(string: answers.healthz.1)))
        }
        router.get("/api/v1/nodes") { _, _ in
            let items = answers.kubernetesNodes.map { name, ready in
                #"{"metadata": {"name": "\#(name)"}, "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "\#(ready)"}]}}"#
            }
            return #"{"kind": "NodeList", "items": [\#(items.joined(separator: ","))]}"#
        }
        router.get("/v1.41/nodes") { _, _ in
            let items = answers.swarmNodes.map { name, state in #"{"ID": "id-\#(name)", "Description": {"Hostname": "\#(name)"}, "Status": {"State": "\#(state)"}}"# }
            return "[\(items.joined(separator: ","))]"
        }
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(cluster.server.certificatePEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(cluster.server.privateKeyPEM.utf8), format: .pem)))
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(cluster.ca.certificatePEM.utf8)))
        tls.certificateVerification = .noHostnameVerification   // a client certificate signed by the cluster CA is required
        let app = Application(router: router, server: try .tls(.http1(), tlsConfiguration: tls),
                              configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in try await body("127.0.0.1:\(client.port!)") }
    }

    /// Probes with `credentials` (the cluster's own by default).
    static func probe(_ coe: String, _ api: String, _ credentials: AdminCredentials) async throws -> ClusterHealthProbe.Verdict {
        let http = try credentials.httpClient(connectTimeout: .seconds(5), readTimeout: .seconds(15), verifyHostname: false, retryConnecting: false)
        let verdict = await ClusterHealthProbe(client: http).probe(coe: coe, apiAddress: api)
        try await http.shutdown()
        return verdict
    }

    func testKubernetesIsHealthyWhenTheAPIIsOkAndEveryNodeIsReady() async throws {
        let cluster = try ClusterCA()
        try await withAPI(cluster, Answers()) { address in
            let verdict = try await Self.probe("kubernetes", "https://\(address)", cluster.admin)
            XCTAssertEqual(verdict, .init(status: .healthy, reasons: ["api": "ok", "m-0.Ready": "True", "w-0.Ready": "True"]))
        }
        var notReady = Answers()
        notReady.kubernetesNodes = [("m-0", "True"), ("w-0", "False"), ("w-1", "Unknown")]
        try await withAPI(cluster, notReady) { address in
            let verdict = try await Self.probe("kubernetes", "https://\(address)/", cluster.admin)
            XCTAssertEqual(verdict, .init(status: .unhealthy, reasons: ["api": "ok", "m-0.Ready": "True", "w-0.Ready": "False", "w-1.Ready": "Unknown"]))
        }
        var sick = Answers()
        sick.healthz = (.internalServerError, "[-]etcd failed: reason withheld")
        try await withAPI(cluster, sick) { address in
            let verdict = try await Self.probe("kubernetes", "https://\(address)", cluster.admin)
            XCTAssertEqual(verdict, .init(status: .unhealthy, reasons: ["api": "[-]etcd failed: reason withheld"]))
        }
        var empty = Answers()
        empty.kubernetesNodes = []
        try await withAPI(cluster, empty) { address in
            let verdict = try await Self.probe("kubernetes", "https://\(address)", cluster.admin)
            XCTAssertEqual(verdict.status, .unhealthy, "a cluster without nodes is not healthy")
        }
    }

    func testSwarmModeIsHealthyWhenEveryNodeIsReady() async throws {
        let cluster = try ClusterCA()
        try await withAPI(cluster, Answers()) { address in
            let verdict = try await Self.probe("swarm-mode", "tcp://\(address)", cluster.admin)
            XCTAssertEqual(verdict, .init(status: .healthy, reasons: ["api": "ok", "m-0.Ready": "True", "w-0.Ready": "True"]))
        }
        var down = Answers()
        down.swarmNodes = [("m-0", "ready"), ("w-0", "down")]
        try await withAPI(cluster, down) { address in
            let verdict = try await Self.probe("swarm-mode", "tcp://\(address)", cluster.admin)
            XCTAssertEqual(verdict, .init(status: .unhealthy, reasons: ["api": "ok", "m-0.Ready": "True", "w-0.Ready": "False"]))
        }
    }

    func testAnAPIThatCannotBeAskedIsUnknown() async throws {
        let cluster = try ClusterCA()
        let refused = try await Self.probe("kubernetes", "https://127.0.0.1:1", cluster.admin)
        XCTAssertEqual(refused.status, .unknown)
        XCTAssertTrue(refused.reasons["api"]?.contains("could not be reached") == true, "\(refused.reasons)")
        // Another cluster's certificates: the API refuses the handshake and Magnum does not trust it.
        let stranger = try ClusterCA()
        try await withAPI(cluster, Answers()) { address in
            let verdict = try await Self.probe("kubernetes", "https://\(address)", stranger.admin)
            XCTAssertEqual(verdict.status, .unknown, "\(verdict.reasons)")
            XCTAssertEqual(verdict.reasons.keys.sorted(), ["api"])
        }
    }
}
