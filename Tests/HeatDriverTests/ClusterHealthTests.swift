import Foundation
@testable import HeatDriver
import Hummingbird
import HummingbirdTesting
import HummingbirdTLS
import MagnumCore
import MagnumDrivers
import MagnumPKI
import Crypto
import NIOSSL
import XCTest

/// Health from a cluster's own API, and the join tokens registered there, over live mutual TLS
/// against a test double of the Kubernetes API server and of a Swarm manager's Docker Engine
/// API: the double trusts only the cluster CA's client certificates, and serves a certificate
/// that CA signed.
final class ClusterHealthTests: XCTestCase {
    /// A cluster's certificates as the conductor stores them (keys sealed), the authority that
    /// opens them, and the API server's certificate signed by the cluster CA.
    struct ClusterCA {
        let authority = SealedCertificateAuthority(pki: ClusterPKI(configuration: .init(keyType: .ecdsaP256)),
                                                   vault: KeyVault(key: SymmetricKey(size: .bits256)))
        let uuid = UUID().uuidString.lowercased()
        let stored: [ClusterCertificate]
        let ca: ClusterCertificate
        let server: IssuedCertificate

        init() async throws {
            stored = try await authority.issueCertificateSet(clusterName: "health", clusterUUID: uuid)
            ca = stored.first { $0.kind == .kubernetes }!
            server = try authority.issueServerCertificate(signedBy: ca, commonName: "kube-apiserver", ipAddresses: ["10.0.0.5"], dnsNames: [])
        }

        var admin: AdminCredentials {
            let client = try! authority.open(stored.first { $0.kind == .magnumClient }!)
            return AdminCredentials(caPEM: ca.certificatePEM, certificatePEM: client.certificatePEM, keyPEM: client.privateKeyPEM)
        }
    }

    /// The secrets the double was asked to create.
    actor Secrets {
        var posted: [JSON] = []
        func add(_ secret: JSON) { posted.append(secret) }
    }

    /// What the double answers.
    struct Answers: Sendable {
        var healthz = (HTTPResponse.Status.ok, "ok")
        var kubernetesNodes: [(String, String)] = [("m-0", "True"), ("w-0", "True")]
        var swarmNodes: [(String, String)] = [("m-0", "ready"), ("w-0", "ready")]
    }

    /// Runs `body` with the base URL of a live mutual-TLS double answering `answers`.
    func withAPI(_ cluster: ClusterCA, _ answers: Answers, secrets: Secrets = Secrets(),
                 _ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let router = Router()
        router.post("/api/v1/namespaces/kube-system/secrets") { request, _ -> HTTPResponse.Status in
            let buffer = try await request.body.collect(upTo: 1 << 20)
            guard let secret = try? JSON.parse(string: String(buffer: buffer)) else { return .badRequest }
            await secrets.add(secret)
            return .created
        }
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
    static func probe(_ coe: String, _ api: String, _ credentials: AdminCredentials) async throws -> ClusterAPI.Verdict {
        let http = try credentials.httpClient(connectTimeout: .seconds(5), readTimeout: .seconds(15), verifyHostname: false, retryConnecting: false)
        let verdict = await ClusterAPI(client: http).probe(coe: coe, apiAddress: api)
        try await http.shutdown()
        return verdict
    }

    func testKubernetesIsHealthyWhenTheAPIIsOkAndEveryNodeIsReady() async throws {
        let cluster = try await ClusterCA()
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
        let cluster = try await ClusterCA()
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
        let cluster = try await ClusterCA()
        let refused = try await Self.probe("kubernetes", "https://127.0.0.1:1", cluster.admin)
        XCTAssertEqual(refused.status, .unknown)
        XCTAssertTrue(refused.reasons["api"]?.contains("could not be reached") == true, "\(refused.reasons)")
        // Another cluster's certificates: the API refuses the handshake and Magnum does not trust it.
        let stranger = try await ClusterCA()
        try await withAPI(cluster, Answers()) { address in
            let verdict = try await Self.probe("kubernetes", "https://\(address)", stranger.admin)
            XCTAssertEqual(verdict.status, .unknown, "\(verdict.reasons)")
            XCTAssertEqual(verdict.reasons.keys.sorted(), ["api"])
        }
    }

    /// A driver whose only use here is talking to the cluster's API (no Keystone or Heat is asked).
    static func driver(_ cluster: ClusterCA) throws -> HeatDriver {
        try HeatDriver(configuration: .init(keystoneURL: "http://127.0.0.1:1/v3", serviceUser: "magnum", servicePassword: "-",
                                            magnumURL: "http://127.0.0.1:1"), authority: cluster.authority)
    }

    static func spec(_ cluster: ClusterCA, coe: String) -> ClusterSpec {
        ClusterSpec(cluster: Cluster(uuid: cluster.uuid, clusterTemplateID: "t"), template: ClusterTemplate(uuid: "t", coe: coe),
                    nodegroups: [], certificates: cluster.stored)
    }

    func testNodesAddedToAKubernetesClusterGetAJoinTokenRegisteredThroughItsAPI() async throws {
        let cluster = try await ClusterCA()
        let secrets = Secrets()
        let driver = try Self.driver(cluster)
        let trust = ScopedToken(token: "trust-token", expiresAt: Date() + 3600, projectID: "p", catalog: [])
        try await withAPI(cluster, Answers(), secrets: secrets) { address in
            let before = Date()
            let credentials = try await driver.joinCredentials(Self.spec(cluster, coe: "kubernetes"), trust: trust, apiAddress: "https://\(address)")
            XCTAssertEqual(credentials.keystoneToken, "trust-token")
            let posted = await secrets.posted
            XCTAssertEqual(posted.count, 1)
            let secret = posted.first ?? .null
            let id = String(credentials.kubeadmToken.prefix(6)), value = String(credentials.kubeadmToken.suffix(16))
            XCTAssertEqual(secret["type"]?.stringValue, "bootstrap.kubernetes.io/token")
            XCTAssertEqual(secret["metadata"]?["name"]?.stringValue, "bootstrap-token-\(id)")
            XCTAssertEqual(secret["metadata"]?["namespace"]?.stringValue, "kube-system")
            let data = secret["stringData"]
            XCTAssertEqual(data?["token-id"]?.stringValue, id)
            XCTAssertEqual(data?["token-secret"]?.stringValue, value)
            XCTAssertEqual(data?["usage-bootstrap-authentication"]?.stringValue, "true")
            XCTAssertEqual(data?["usage-bootstrap-signing"]?.stringValue, "true")
            XCTAssertEqual(data?["auth-extra-groups"]?.stringValue, "system:bootstrappers:kubeadm:default-node-token")
            let expiry = ISO8601DateFormatter().date(from: data?["expiration"]?.stringValue ?? "")
            XCTAssertNotNil(expiry)
            XCTAssertEqual(expiry.map { $0.timeIntervalSince(before) } ?? 0, 7200, accuracy: 120, "two hours, as kubeadm init's token")
        }
        // Swarm-mode nodes join with the managers' own tokens: nothing is registered.
        let swarm = try await driver.joinCredentials(Self.spec(cluster, coe: "swarm-mode"), trust: trust, apiAddress: "tcp://127.0.0.1:1")
        XCTAssertEqual(swarm.keystoneToken, "trust-token")
        let count = await secrets.posted.count
        XCTAssertEqual(count, 1)
    }

    func testAJoinTokenTheAPICannotTakeIsATransientFailure() async throws {
        let cluster = try await ClusterCA()
        let driver = try Self.driver(cluster)
        let trust = ScopedToken(token: "trust-token", expiresAt: Date() + 3600, projectID: "p", catalog: [])
        for api in ["https://127.0.0.1:1", nil] {
            do {
                _ = try await driver.joinCredentials(Self.spec(cluster, coe: "kubernetes"), trust: trust, apiAddress: api)
                XCTFail("no token can be registered without the API")
            } catch let error as MagnumError {
                XCTAssertEqual(error.code, .unavailable, "the conductor retries the resize: \(error.message)")
            }
        }
    }
}

extension ClusterHealthTests {
    /// The masters and workers a cluster stack starts join with the one kubeadm token the first
    /// master's `kubeadm init` registers.
    func testMastersAndWorkersOfOneStackShareOneKubeadmToken() async throws {
        let cluster = try await ClusterCA()
        var spec = Self.spec(cluster, coe: "kubernetes")
        var master = NodeGroup(uuid: "m", clusterID: cluster.uuid)
        master.role = "master"; master.isDefault = true; master.nodeCount = 1
        var worker = NodeGroup(uuid: "w", clusterID: cluster.uuid)
        worker.isDefault = true; worker.nodeCount = 2
        spec.nodegroups = [master, worker]
        let credentials = JoinCredentials.fresh(keystoneToken: "trust-token")
        let parameters = try Self.driver(cluster).clusterParameters(spec, credentials: credentials)
        for key in ["master_user_data", "minion_user_data"] {
            let env = try Self.clusterEnv(parameters[key]?.stringValue ?? "")
            XCTAssertTrue(env.contains("KUBEADM_TOKEN='\(credentials.kubeadmToken)'\n"), "\(key): \(env)")
            XCTAssertTrue(env.contains("CERTIFICATE_KEY='\(credentials.certificateKey)'\n"), key)
            XCTAssertTrue(env.contains("BOOTSTRAP_TOKEN='trust-token'\n"), key)
        }
    }

    /// `/etc/magnum/cluster.env` of an Ignition config.
    static func clusterEnv(_ ignition: String) throws -> String {
        let files = try JSON.parse(string: ignition)["storage"]?["files"]?.arrayValue ?? []
        let source = files.first { $0["path"]?.stringValue == "/etc/magnum/cluster.env" }?["contents"]?["source"]?.stringValue ?? ""
        return Data(base64Encoded: String(source.dropFirst("data:;base64,".count))).flatMap { String(data: $0, encoding: .utf8) } ?? ""
    }
}
