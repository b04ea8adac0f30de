import Crypto
import Foundation
import Logging
import MagnumAPI
import MagnumCore
import MagnumPKI
import MagnumStore
import MagnumTestSupport
import X509
import XCTest

/// `/v1/certificates` (contract §4.5, §8.6) over the real PKI: each cluster's CAs issued at
/// create, CSR signing, CA rotation, and keys that never leave the store in clear.
final class CertificateTests: XCTestCase {
    /// A CSR for `commonName`, signed with a fresh P-256 key.
    func csr(_ commonName: String = "jane") throws -> String {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let subject = try DistinguishedName { CommonName(commonName) }
        let request = try CertificateSigningRequest(version: .v1, subject: subject, privateKey: key,
                                                    attributes: .init(), signatureAlgorithm: .ecdsaWithSHA256)
        return try request.serializeAsPEM().pemString
    }

    /// A template and a cluster owned by demo (user demo).
    func cluster(_ h: APIHarness, name: String = "k8s", template extra: [String: JSON] = [:]) async throws -> String {
        let ct = try await h.createTemplate(extra)
        return try await h.createCluster(template: ct["uuid"]?.stringValue ?? "", ["name": .string(name)])
    }

    func testEveryClusterHasItsCAsFromCreation() async throws {
        try await APIHarness.withEach { h in
            let uuid = try await cluster(h)
            let stored = try await h.store.read { try await $0.certificates(clusterUUID: uuid) }
            XCTAssertEqual(Set(stored.map(\.kind)), Set(CertificateKind.allCases), h.label)

            var pems: [String: String] = [:]
            for (type, kind) in [(nil, CertificateKind.kubernetes), ("kubernetes", .kubernetes), ("etcd", .etcd),
                                 ("front_proxy", .frontProxy), ("front-proxy", .frontProxy), ("bogus", .kubernetes)]
            {
                let path = "/v1/certificates/\(uuid)" + (type.map { "?ca_cert_type=\($0)" } ?? "")
                let r = try await h.request(.get, path)
                XCTAssertEqual(r.status, 200, r.text)
                XCTAssertEqual(Set(r.json?.objectValue?.keys.map { $0 } ?? []), ["cluster_uuid", "pem", "links"], r.text)
                XCTAssertEqual(r.json?["cluster_uuid"]?.stringValue, uuid)
                XCTAssertEqual(r.json?["links"]?.arrayValue?.first?["href"]?.stringValue, "http://localhost/v1/certificates/\(uuid)")
                let pem = try XCTUnwrap(r.json?["pem"]?.stringValue)
                XCTAssertEqual(pem, stored.first { $0.kind == kind }?.certificatePEM, "\(type ?? "none") → \(kind)")
                XCTAssertFalse(pem.contains("PRIVATE KEY"))
                pems[kind.rawValue] = pem
            }
            XCTAssertEqual(Set(pems.values).count, 3, "three distinct CAs")
            XCTAssertEqual(try ClusterPKI.commonName(ofCertificatePEM: pems["kubernetes"]!), "k8s")

            // By name as well; another project's member cannot see it.
            let byName = try await h.request(.get, "/v1/certificates/k8s")
            XCTAssertEqual(byName.json?["cluster_uuid"]?.stringValue, uuid)
            let foreign = try await h.request(.get, "/v1/certificates/\(uuid)", token: .other)
            XCTAssertEqual(foreign.status, 404)
            XCTAssertEqual(foreign.errorDetail, "Cluster \(uuid) could not be found.")
            let missing = try await h.request(.get, "/v1/certificates/nope")
            XCTAssertEqual(missing.status, 404)
        }
    }

    /// `certificate:get` / `create` need the cluster creator (or an admin of its project).
    func testOnlyTheClusterCreatorReadsAndSigns() async throws {
        try await APIHarness.withEach { h in
            let uuid = try await cluster(h)
            for token in [APIHarness.Token.demo2, .reader] {
                let get = try await h.request(.get, "/v1/certificates/\(uuid)", token: token)
                XCTAssertEqual(get.status, 403, token.rawValue)
                XCTAssertEqual(get.errorDetail, "Policy doesn't allow certificate:get to be performed.")
                let sign = try await h.request(.post, "/v1/certificates", token: token, body: ["cluster_uuid": .string(uuid), "csr": .string(try csr())])
                XCTAssertEqual(sign.status, 403, token.rawValue)
                XCTAssertEqual(sign.errorDetail, "Policy doesn't allow certificate:create to be performed.")
            }
            // Admins reach only their own project's clusters here (no all-projects switch).
            let admin = try await h.request(.get, "/v1/certificates/\(uuid)", token: .admin)
            XCTAssertEqual(admin.status, 404)
        }
    }

    func testSigningACSR() async throws {
        try await APIHarness.withEach { h in
            let uuid = try await cluster(h)
            let request = try csr("jane")
            let r = try await h.request(.post, "/v1/certificates", body: ["cluster_uuid": "k8s", "csr": .string(request)])
            XCTAssertEqual(r.status, 201, r.text)
            XCTAssertEqual(Set(r.json?.objectValue?.keys.map { $0 } ?? []), ["cluster_uuid", "csr", "pem", "links"])
            XCTAssertEqual(r.json?["cluster_uuid"]?.stringValue, uuid)
            XCTAssertEqual(r.json?["csr"]?.stringValue, request)
            let pem = try XCTUnwrap(r.json?["pem"]?.stringValue)
            XCTAssertFalse(pem.hasSuffix("\n"), "no trailing newline, as upstream")
            XCTAssertEqual(try ClusterPKI.commonName(ofCertificatePEM: pem), "jane")
            let ca = try await h.request(.get, "/v1/certificates/\(uuid)").json?["pem"]?.stringValue ?? ""
            let etcd = try await h.request(.get, "/v1/certificates/\(uuid)?ca_cert_type=etcd").json?["pem"]?.stringValue ?? ""
            let issued = try await ClusterPKI.isCertificate(pem, issuedBy: ca)
            XCTAssertTrue(issued)
            let byEtcd = try await ClusterPKI.isCertificate(pem, issuedBy: etcd)
            XCTAssertFalse(byEtcd)

            // ca_cert_type picks the CA and is echoed.
            let e = try await h.request(.post, "/v1/certificates", body: ["cluster_uuid": .string(uuid), "csr": .string(request), "ca_cert_type": "etcd"])
            XCTAssertEqual(e.status, 201, e.text)
            XCTAssertEqual(e.json?["ca_cert_type"], "etcd")
            let signedByEtcd = try await ClusterPKI.isCertificate(e.json?["pem"]?.stringValue ?? "", issuedBy: etcd)
            XCTAssertTrue(signedByEtcd)
        }
    }

    func testSigningErrors() async throws {
        try await APIHarness.withEach { h in
            let uuid = try await cluster(h)
            // Unknown (or foreign) cluster in the body: 400, not 404.
            for (token, ident) in [(APIHarness.Token.demo, "nope"), (.other, uuid)] {
                let r = try await h.request(.post, "/v1/certificates", token: token, body: ["cluster_uuid": .string(ident), "csr": .string(try csr())])
                XCTAssertEqual(r.status, 400, r.text)
                XCTAssertEqual(r.errorDetail, "Cluster \(ident) could not be found.")
            }
            let bad = try await h.request(.post, "/v1/certificates", body: ["cluster_uuid": .string(uuid), "csr": "not a csr"])
            XCTAssertEqual(bad.status, 400, bad.text)
            XCTAssertTrue(bad.errorDetail?.hasPrefix("Received invalid csr") == true, bad.text)
            for body: JSON in [["cluster_uuid": .string(uuid)], ["csr": .string(try csr())], ["cluster_uuid": .string(uuid), "csr": ""]] {
                let r = try await h.request(.post, "/v1/certificates", body: body)
                XCTAssertEqual(r.status, 400, "\(body): \(r.text)")
            }
            let extra = try await h.request(.post, "/v1/certificates", body: ["cluster_uuid": .string(uuid), "csr": .string(try csr()), "bogus": 1])
            XCTAssertEqual(extra.status, 400, extra.text)
        }
    }

    /// A Swarm-mode template of the local driver, which rotates CAs into its nodes.
    static let localSwarm: [String: JSON] = ["coe": "swarm-mode", "image_id": "local-swarm"]

    func testCARotationOfAClusterOfTheHeatDriverIsRecordedForItsConductor() async throws {
        try await APIHarness.withEach { h in
            let uuid = try await cluster(h)
            try await h.setClusterState(uuid, .createComplete, apiAddress: "https://198.18.0.10:6443")
            let r = try await h.request(.patch, "/v1/certificates/\(uuid)")
            XCTAssertEqual(r.status, 202, r.text)
            let operations = try await h.store.read { try await $0.operations(resourceUUID: uuid) }
            XCTAssertEqual(operations.filter { $0.kind == .caRotate }.count, 1)
            let shown = try await h.request(.get, "/v1/clusters/\(uuid)")
            XCTAssertEqual(shown.json?["status"], "UPDATE_IN_PROGRESS")
        }
    }

    func testCARotation() async throws {
        try await APIHarness.withEach { h in
            let uuid = try await cluster(h, template: Self.localSwarm)
            // Only a stable cluster rotates.
            let early = try await h.request(.patch, "/v1/certificates/\(uuid)")
            XCTAssertEqual(early.status, 400, early.text)
            XCTAssertEqual(early.errorDetail, "Rotating the CA certificate of a cluster when status is \"CREATE_IN_PROGRESS\" is not supported.")

            try await h.setClusterState(uuid, .createComplete, apiAddress: "https://198.18.0.10:6443")
            let oldCA = try await h.request(.get, "/v1/certificates/\(uuid)").json?["pem"]?.stringValue ?? ""
            let before = try await h.request(.post, "/v1/certificates", body: ["cluster_uuid": .string(uuid), "csr": .string(try csr())])
            let oldCert = before.json?["pem"]?.stringValue ?? ""
            let oldStored = try await h.store.read { try await $0.certificates(clusterUUID: uuid) }

            for token in [APIHarness.Token.reader] {
                let denied = try await h.request(.patch, "/v1/certificates/\(uuid)", token: token)
                XCTAssertEqual(denied.status, 403)
                XCTAssertEqual(denied.errorDetail, "Policy doesn't allow certificate:rotate_ca to be performed.")
            }
            let foreign = try await h.request(.patch, "/v1/certificates/\(uuid)", token: .other)
            XCTAssertEqual(foreign.status, 404)

            // python-magnumclient sends the rotation as a body-less octet-stream PATCH.
            let r = try await h.request(.patch, "/v1/certificates/\(uuid)", headers: ["Content-Type": "application/octet-stream"])
            XCTAssertEqual(r.status, 202, r.text)
            XCTAssertEqual(r.json, ["uuid": .string(uuid)])
            let shown = try await h.request(.get, "/v1/clusters/\(uuid)")
            XCTAssertEqual(shown.json?["status"], "UPDATE_IN_PROGRESS")
            let operations = try await h.store.read { try await $0.operations(resourceUUID: uuid) }
            XCTAssertEqual(operations.map(\.kind).filter { $0 == .caRotate }.count, 1)

            let newStored = try await h.store.read { try await $0.certificates(clusterUUID: uuid) }
            XCTAssertEqual(Set(newStored.map(\.kind)), Set(CertificateKind.allCases))
            for kind in CertificateKind.allCases {
                XCTAssertNotEqual(newStored.first { $0.kind == kind }?.certificatePEM, oldStored.first { $0.kind == kind }?.certificatePEM, "\(kind) renewed")
            }
            let newCA = try await h.request(.get, "/v1/certificates/\(uuid)").json?["pem"]?.stringValue ?? ""
            XCTAssertNotEqual(newCA, oldCA)
            let oldTrusted = try await ClusterPKI.isCertificate(oldCert, issuedBy: newCA)
            XCTAssertFalse(oldTrusted, "certificates of the old CA are not accepted by the new one")
            let after = try await h.request(.post, "/v1/certificates", body: ["cluster_uuid": .string(uuid), "csr": .string(try csr())])
            let renewed = try await ClusterPKI.isCertificate(after.json?["pem"]?.stringValue ?? "", issuedBy: newCA)
            XCTAssertTrue(renewed)

            // In progress now: a second rotation waits.
            let again = try await h.request(.patch, "/v1/certificates/\(uuid)")
            XCTAssertEqual(again.status, 400, again.text)
        }
    }

    func testNoRotationOnANonTLSCluster() async throws {
        try await APIHarness.withEach { h in
            let uuid = try await cluster(h, template: ["tls_disabled": true])
            try await h.setClusterState(uuid, .createComplete)
            let r = try await h.request(.patch, "/v1/certificates/\(uuid)")
            XCTAssertEqual(r.status, 400, r.text)
            XCTAssertEqual(r.errorDetail, "Rotating the CA certificate on a non-TLS cluster is not supported")
        }
    }

    /// Keys are sealed at rest (bound to their cluster and kind), and deleting a cluster deletes
    /// every one of them — the etcd and front-proxy CAs included.
    func testKeysAtRestAndDeletion() async throws {
        try await APIHarness.withEach { h in
            let uuid = try await cluster(h)
            let other = try await cluster(h, name: "second")
            let stored = try await h.store.read { try await $0.certificates(clusterUUID: uuid) }
            let authority = APIHarness.certificateAuthority
            for item in stored {
                XCTAssertFalse(String(decoding: item.sealedPrivateKey, as: UTF8.self).contains("PRIVATE KEY"))
                XCTAssertTrue(try authority.open(item).privateKeyPEM.contains("PRIVATE KEY"), "opens with the right key")
                // Another key-encryption key cannot open it.
                let stranger = SealedCertificateAuthority(pki: ClusterPKI(configuration: .init(keyType: .ecdsaP256)),
                                                          vault: KeyVault(key: SymmetricKey(size: .bits256)))
                XCTAssertThrowsError(try stranger.open(item))
                // Moved onto another cluster's row, it does not open either.
                var moved = item
                moved.clusterUUID = other
                XCTAssertThrowsError(try authority.open(moved))
                XCTAssertFalse(String(describing: item).contains("PRIVATE"))
            }
            try await h.store.write { try await $0.deleteCluster(uuid: uuid) }
            let left = try await h.store.read { try await $0.certificates(clusterUUID: uuid) }
            XCTAssertEqual(left, [])
            let kept = try await h.store.read { try await $0.certificates(clusterUUID: other) }
            XCTAssertEqual(kept.count, 4, "other clusters keep theirs")
        }
    }

    /// Nothing secret reaches the log: every record of create, sign and rotate at trace level.
    func testNothingSecretIsLogged() async throws {
        let records = LogRecords()
        var logger = Logger(label: "magnum.test") { _ in CapturingLogHandler(records: records) }
        logger.logLevel = .trace
        try await TestDatabases.withSQLite { store in
            let h = try await APIHarness.make(store: store, label: "sqlite", logger: logger)
            let uuid = try await cluster(h, template: Self.localSwarm)
            try await h.setClusterState(uuid, .createComplete)
            let signed = try await h.request(.post, "/v1/certificates", body: ["cluster_uuid": .string(uuid), "csr": .string(try csr())])
            XCTAssertEqual(signed.status, 201)
            let bad = try await h.request(.post, "/v1/certificates", body: ["cluster_uuid": .string(uuid), "csr": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"])
            XCTAssertEqual(bad.status, 400)
            XCTAssertFalse(bad.text.contains("AAAA"), "a key sent as CSR is not echoed")
            let rotated = try await h.request(.patch, "/v1/certificates/\(uuid)")
            XCTAssertEqual(rotated.status, 202)
            let keys = try await h.store.read { try await $0.certificates(clusterUUID: uuid) }
                .map { try APIHarness.certificateAuthority.open($0).privateKeyPEM }
            let text = records.all.joined(separator: "\n")
            XCTAssertTrue(text.contains("certificate signed"), "the log is captured")
            XCTAssertFalse(text.contains("PRIVATE KEY"))
            for key in keys {
                let body = key.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
                XCTAssertFalse(text.contains(String(body.prefix(40))))
            }
        }
    }
}

/// Every rendered log line, thread-safe.
final class LogRecords: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }

    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }
}

/// A log handler that keeps each message with its metadata.
struct CapturingLogHandler: LogHandler {
    let records: LogRecords
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String, file: String,
             function: String, line: UInt)
    {
        let all = metadata.merging(extra ?? [:]) { _, new in new }
        records.append("\(level) \(message) \(all.map { "\($0)=\($1)" }.joined(separator: " "))")
    }
}
