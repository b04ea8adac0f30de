import Crypto
import Foundation
import MagnumCore
import SwiftASN1
import X509
import XCTest
import _CryptoExtras

@testable import MagnumPKI

/// Certificate sets shared by the tests: RSA key generation is the slow part of the suite.
enum Fixtures {
    /// A default-configuration (RSA 2048) set for cluster "k8s".
    static let rsaSet: ClusterCertificateSet = try! ClusterPKI().issueCertificateSet(
        clusterName: "k8s", clusterUUID: "18c8e5c7-a6b0-420f-b467-7920896eda59"
    )
    /// An ECDSA P-256 set for a nameless cluster.
    static let ecdsaSet: ClusterCertificateSet = try! ClusterPKI(configuration: .init(keyType: .ecdsaP256))
        .issueCertificateSet(clusterName: nil, clusterUUID: "5d12f6fd-a196-4bf0-ae4c-1f639a523a52")

    /// A fresh P-256 key for CSRs.
    static func p256Key() -> Certificate.PrivateKey { Certificate.PrivateKey(P256.Signing.PrivateKey()) }

    /// A fresh RSA-2048 key for CSRs.
    static func rsaKey() throws -> Certificate.PrivateKey {
        Certificate.PrivateKey(try _RSA.Signing.PrivateKey(keySize: .bits2048))
    }

    /// A CSR PEM built with swift-certificates.
    static func csrPEM(
        commonName: String = "node-1",
        organization: String? = "system:nodes",
        key: Certificate.PrivateKey = p256Key(),
        extensions: [Certificate.Extension] = []
    ) throws -> String {
        let subject = try DistinguishedName {
            CommonName(commonName)
            if let organization { OrganizationName(organization) }
        }
        var attributes = CertificateSigningRequest.Attributes()
        if !extensions.isEmpty {
            attributes.insert(try .init(ExtensionRequest(extensions: try Certificate.Extensions(extensions))))
        }
        let algorithm: Certificate.SignatureAlgorithm =
            key.supportedSignatureAlgorithms.contains(.sha256WithRSAEncryption) ? .sha256WithRSAEncryption : .ecdsaWithSHA256
        let csr = try CertificateSigningRequest(
            version: .v1, subject: subject, privateKey: key, attributes: attributes, signatureAlgorithm: algorithm
        )
        return try csr.serializeAsPEM().pemString
    }

    /// Parses a certificate PEM.
    static func certificate(_ pem: String) throws -> Certificate { try Certificate(pemEncoded: pem) }
}

/// Asserts that `body` throws a `MagnumError` with `code` and exactly `message`.
func XCTAssertMagnumError<T>(
    _ body: @autoclosure () throws -> T, _ code: MagnumError.Code, _ message: String? = nil,
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        guard let error = error as? MagnumError else {
            return XCTFail("expected MagnumError, got \(error)", file: file, line: line)
        }
        XCTAssertEqual(error.code, code, file: file, line: line)
        if let message { XCTAssertEqual(error.message, message, file: file, line: line) }
    }
}

/// The real `openssl` binary, run on PEMs written to a scratch directory.
struct OpenSSL {
    static let path = "/usr/bin/openssl"
    let directory: URL

    /// A scratch directory; skips the test with a clear message when the binary is missing.
    init() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.path) else {
            throw XCTSkip("\(Self.path) is missing: the OpenSSL cross-check is skipped (install the openssl package to run it)")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("magnum-pki-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Removes the scratch directory.
    func cleanUp() { try? FileManager.default.removeItem(at: directory) }

    /// Writes `contents` to `name` in the scratch directory and returns its path.
    @discardableResult
    func write(_ name: String, _ contents: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try contents.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// Reads `name` from the scratch directory.
    func read(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    /// Runs openssl with `arguments` in the scratch directory.
    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.path)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// `openssl verify -x509_strict -CAfile <ca> <cert>`.
    func verify(_ certificatePEM: String, ca caPEM: String) throws -> (ok: Bool, output: String) {
        let ca = try write("ca-\(UUID().uuidString).pem", caPEM)
        let certificate = try write("cert-\(UUID().uuidString).pem", certificatePEM + "\n")
        let result = try run(["verify", "-x509_strict", "-CAfile", ca, certificate])
        return (result.status == 0 && result.output.contains(": OK"), result.output)
    }

    /// `openssl x509 -noout -text` of a certificate.
    func text(_ certificatePEM: String) throws -> String {
        let path = try write("text-\(UUID().uuidString).pem", certificatePEM + "\n")
        let result = try run(["x509", "-noout", "-text", "-in", path])
        XCTAssertEqual(result.status, 0, result.output)
        return result.output
    }
}
