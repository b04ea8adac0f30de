import Foundation
import XCTest

@testable import MagnumPKI

/// Throughput numbers for docs/benchmarks.md — printed, never asserted. Runs only with
/// `MAGNUM_PKI_BENCH=1 swift test -c release --disable-swift-testing --filter PKIBench`.
final class PKIBench: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["MAGNUM_PKI_BENCH"] == "1", "set MAGNUM_PKI_BENCH=1 to run the PKI benchmark")
    }

    private func rate(_ label: String, seconds minimum: Double = 5, _ body: () throws -> Void) rethrows {
        try body()  // warm-up
        var count = 0
        let start = Date()
        repeat {
            try body()
            count += 1
        } while Date().timeIntervalSince(start) < minimum
        let elapsed = Date().timeIntervalSince(start)
        print(String(format: "PKIBench %@: %.1f/s (%d in %.2f s, %.2f ms each)", label, Double(count) / elapsed, count, elapsed, elapsed * 1000 / Double(count)))
    }

    func testCertificateSetCreation() throws {
        let rsa = ClusterPKI()
        try rate("certificate set, RSA 2048 (3 CAs + client)", seconds: 15) {
            _ = try rsa.issueCertificateSet(clusterName: "bench", clusterUUID: UUID().uuidString)
        }
        let ec = ClusterPKI(configuration: .init(keyType: .ecdsaP256))
        try rate("certificate set, ECDSA P-256 (3 CAs + client)") {
            _ = try ec.issueCertificateSet(clusterName: "bench", clusterUUID: UUID().uuidString)
        }
    }

    func testCSRSigning() throws {
        let pki = ClusterPKI()
        let ecCSR = try Fixtures.csrPEM(extensions: [])
        let rsaCSR = try Fixtures.csrPEM(key: try Fixtures.rsaKey())
        let ca = Fixtures.rsaSet.ca
        try rate("CSR signing, RSA 2048 CA, P-256 CSR") { _ = try pki.sign(csrPEM: ecCSR, with: ca, issuerName: "k8s") }
        try rate("CSR signing, RSA 2048 CA, RSA 2048 CSR") { _ = try pki.sign(csrPEM: rsaCSR, with: ca, issuerName: "k8s") }
        let ecPKI = ClusterPKI(configuration: .init(keyType: .ecdsaP256))
        try rate("CSR signing, P-256 CA, P-256 CSR") { _ = try ecPKI.sign(csrPEM: ecCSR, with: Fixtures.ecdsaSet.ca) }
    }

    func testKeyVault() throws {
        let vault = try KeyVault(base64Key: Data(repeating: 7, count: 32).base64EncodedString())
        let key = Fixtures.rsaSet.ca.privateKeyPEM
        try rate("KeyVault seal + open of an RSA 2048 PKCS#8 PEM", seconds: 3) {
            _ = try vault.open(try vault.seal(key, context: "cluster:x:ca"), context: "cluster:x:ca")
        }
    }
}
