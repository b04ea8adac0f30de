import Crypto
import Foundation
import MagnumCore
import SwiftASN1
import X509
import XCTest
import _CryptoExtras

@testable import MagnumPKI

/// `POST /v1/certificates`: signing a node's CSR with one of the cluster's CAs (contract §8.6).
final class CSRSigningTests: XCTestCase {
    let pki = ClusterPKI()
    var ca: IssuedCertificate { Fixtures.rsaSet.ca }

    private func signed(_ csrPEM: String, pki: ClusterPKI? = nil, ca: IssuedCertificate? = nil) throws -> Certificate {
        let pem = try (pki ?? self.pki).sign(csrPEM: csrPEM, with: ca ?? self.ca, issuerName: "k8s")
        return try Fixtures.certificate(pem)
    }

    private func ext(_ oid: ASN1ObjectIdentifier, critical: Bool, _ value: [UInt8]) -> Certificate.Extension {
        Certificate.Extension(oid: oid, critical: critical, value: value[...])
    }

    // MARK: What a signed certificate contains

    func testSubjectKeyIssuerAndIdentifiersOfASignedECDSACSR() async throws {
        let key = Fixtures.p256Key()
        let csrPEM = try Fixtures.csrPEM(commonName: "system:node:node-1", key: key)
        let pem = try pki.sign(csrPEM: csrPEM, with: ca, issuerName: "k8s")
        XCTAssertFalse(pem.hasSuffix("\n"), "no trailing newline")
        XCTAssertTrue(pem.hasPrefix("-----BEGIN CERTIFICATE-----\n"))
        XCTAssertTrue(pem.hasSuffix("-----END CERTIFICATE-----"))

        let certificate = try Fixtures.certificate(pem)
        let caCertificate = try Fixtures.certificate(ca.certificatePEM)
        XCTAssertEqual(certificate.subject, try DistinguishedName {
            CommonName("system:node:node-1")
            OrganizationName("system:nodes")
        })
        XCTAssertEqual(certificate.issuer, caCertificate.subject)
        XCTAssertEqual(certificate.publicKey, key.publicKey)
        XCTAssertEqual(certificate.signatureAlgorithm, .sha256WithRSAEncryption, "signed with the CA's RSA key")
        XCTAssertEqual(try certificate.extensions.subjectKeyIdentifier, SubjectKeyIdentifier(hash: key.publicKey))
        XCTAssertEqual(
            try certificate.extensions.authorityKeyIdentifier?.keyIdentifier,
            try caCertificate.extensions.subjectKeyIdentifier?.keyIdentifier
        )
        XCTAssertEqual(certificate.extensions.count, 2, "a CSR without extensions gets only the key identifiers")
        let verified = try await ClusterPKI.isCertificate(pem, issuedBy: ca.certificatePEM)
        XCTAssertTrue(verified)
    }

    func testRSACSRSignedByAnECDSACA() async throws {
        let key = try Fixtures.rsaKey()
        let ecPKI = ClusterPKI(configuration: .init(keyType: .ecdsaP256))
        let pem = try ecPKI.sign(csrPEM: try Fixtures.csrPEM(key: key), with: Fixtures.ecdsaSet.ca)
        let certificate = try Fixtures.certificate(pem)
        XCTAssertEqual(certificate.publicKey, key.publicKey)
        XCTAssertEqual(certificate.signatureAlgorithm, .ecdsaWithSHA256)
        let verified = try await ClusterPKI.isCertificate(pem, issuedBy: Fixtures.ecdsaSet.ca.certificatePEM)
        XCTAssertTrue(verified)
    }

    func testEachCAKindSignsAndOnlyItsOwnChainVerifies() async throws {
        let csr = try Fixtures.csrPEM()
        for kind in CAKind.allCases {
            let pem = try pki.sign(csrPEM: csr, with: Fixtures.rsaSet.ca(kind))
            for other in CAKind.allCases {
                let verified = try await ClusterPKI.isCertificate(pem, issuedBy: Fixtures.rsaSet.ca(other).certificatePEM)
                XCTAssertEqual(verified, kind == other, "signed by \(kind), checked against \(other)")
            }
        }
    }

    func testIssuerNameDoesNotBreakTheChain() async throws {
        // Upstream writes CN=<issuerName>; we always write the CA's own subject, so a stale name cannot orphan the certificate.
        let pem = try pki.sign(csrPEM: try Fixtures.csrPEM(), with: ca, issuerName: "renamed")
        XCTAssertEqual(try Fixtures.certificate(pem).issuer, try DistinguishedName { CommonName("k8s") })
        let verified = try await ClusterPKI.isCertificate(pem, issuedBy: ca.certificatePEM)
        XCTAssertTrue(verified)
    }

    // MARK: Invalid CSRs → 400 "Received invalid csr …"

    func testBadPEMIsInvalidCSRWithUpstreamMessage() {
        XCTAssertMagnumError(try pki.sign(csrPEM: "not a csr", with: ca, issuerName: "k8s"), .invalid, "Received invalid csr not a csr.")
        XCTAssertMagnumError(try pki.sign(csrPEM: "", with: ca, issuerName: "k8s"), .invalid, "Received invalid csr .")
    }

    func testGarbageBase64IsInvalidCSR() {
        let garbage = "-----BEGIN CERTIFICATE REQUEST-----\n!!!!not*base64%%%%\n-----END CERTIFICATE REQUEST-----"
        XCTAssertMagnumError(try pki.sign(csrPEM: garbage, with: ca), .invalid, "Received invalid csr \(garbage).")
        let notDER = "-----BEGIN CERTIFICATE REQUEST-----\n" + Data("hello world, not DER".utf8).base64EncodedString() + "\n-----END CERTIFICATE REQUEST-----"
        XCTAssertMagnumError(try pki.sign(csrPEM: notDER, with: ca), .invalid, "Received invalid csr \(notDER).")
    }

    func testACertificateInsteadOfACSRIsInvalid() {
        let certificate = Fixtures.rsaSet.magnumClient.certificatePEM
        XCTAssertMagnumError(try pki.sign(csrPEM: certificate, with: ca), .invalid, "Received invalid csr \(certificate).")
        // Certificate DER relabelled as a CSR: right label, wrong structure.
        let relabelled = certificate.replacingOccurrences(of: "CERTIFICATE", with: "CERTIFICATE REQUEST")
        XCTAssertMagnumError(try pki.sign(csrPEM: relabelled, with: ca), .invalid)
    }

    func testAPrivateKeySentAsCSRIsNeverEchoed() {
        let key = Fixtures.rsaSet.magnumClient.privateKeyPEM
        XCTAssertThrowsError(try pki.sign(csrPEM: key, with: ca)) { error in
            let message = (error as? MagnumError)?.message ?? ""
            XCTAssertEqual(message, "Received invalid csr <redacted: the input looks like a private key>.")
            XCTAssertFalse("\(error)".contains(key.split(separator: "\n")[1]))
        }
    }

    func testTamperedCSRSignatureIsInvalid() throws {
        let csrPEM = try Fixtures.csrPEM(commonName: "honest")
        let document = try PEMDocument(pemString: csrPEM)
        // Change the CN's last letter inside the signed bytes: still a well-formed CSR, signature now wrong.
        var der = document.derBytes
        let honest = Array("honest".utf8)
        let at = try XCTUnwrap((0...(der.count - honest.count)).first { Array(der[$0..<($0 + honest.count)]) == honest })
        der[at + honest.count - 1] = UInt8(ascii: "y")
        let tampered = PEMDocument(type: "CERTIFICATE REQUEST", derBytes: der).pemString
        XCTAssertNoThrow(try CertificateSigningRequest(pemEncoded: tampered), "structure still parses")
        XCTAssertMagnumError(try pki.sign(csrPEM: tampered, with: ca), .invalid, "Received invalid csr \(tampered).")

        // A CSR carrying another key's signature.
        let honestCSR = try CertificateSigningRequest(pemEncoded: csrPEM)
        let forged = try CertificateSigningRequest(
            version: .v1, subject: honestCSR.subject, publicKey: Fixtures.p256Key().publicKey,
            attributes: honestCSR.attributes, signatureAlgorithm: honestCSR.signatureAlgorithm, signature: honestCSR.signature
        )
        XCTAssertMagnumError(try pki.sign(csrPEM: try forged.serializeAsPEM().pemString, with: ca), .invalid)
    }

    // MARK: Extension rules

    func testDisallowedCriticalExtensionIs400WithItsName() throws {
        let nameConstraints = ext(.X509ExtensionID.nameConstraints, critical: true, [0x30, 0x00])
        XCTAssertMagnumError(try signed(try Fixtures.csrPEM(extensions: [nameConstraints])), .invalid, "Extension 'nameConstraints' not allowed")
        let custom = ext([1, 3, 6, 1, 4, 1, 99999, 1], critical: true, [0x05, 0x00])
        XCTAssertMagnumError(try signed(try Fixtures.csrPEM(extensions: [custom])), .invalid, "Extension '1.3.6.1.4.1.99999.1' not allowed")
        let aki = ext(.X509ExtensionID.authorityKeyIdentifier, critical: true, [0x30, 0x03, 0x80, 0x01, 0x01])
        XCTAssertMagnumError(try signed(try Fixtures.csrPEM(extensions: [aki])), .invalid, "Extension 'authorityKeyIdentifier' not allowed")
    }

    func testDisallowedNonCriticalExtensionsAreDropped() throws {
        let nsComment = ext([2, 16, 840, 1, 113_730, 1, 13], critical: false, [0x16, 0x02, 0x68, 0x69])
        let custom = ext([1, 3, 6, 1, 4, 1, 99999, 2], critical: false, [0x05, 0x00])
        let eku = try Certificate.Extension(try ExtendedKeyUsage([.serverAuth, .clientAuth]), critical: false)
        let certificate = try signed(try Fixtures.csrPEM(extensions: [nsComment, custom, eku]))
        XCTAssertNil(certificate.extensions[oid: [2, 16, 840, 1, 113_730, 1, 13]])
        XCTAssertNil(certificate.extensions[oid: [1, 3, 6, 1, 4, 1, 99999, 2]])
        XCTAssertEqual(try certificate.extensions.extendedKeyUsage, try ExtendedKeyUsage([.serverAuth, .clientAuth]), "allowed ones stay")
    }

    func testConfiguredExtensionsAllowByShortNameOrDottedOID() throws {
        var configuration = PKIConfiguration()
        configuration.allowedExtensions.insert("nameConstraints")
        configuration.allowedExtensions.insert("1.3.6.1.4.1.99999.1")
        let nameConstraints = ext(.X509ExtensionID.nameConstraints, critical: true, [0x30, 0x00])
        let custom = ext([1, 3, 6, 1, 4, 1, 99999, 1], critical: true, [0x05, 0x00])
        let certificate = try signed(try Fixtures.csrPEM(extensions: [nameConstraints, custom]), pki: ClusterPKI(configuration: configuration))
        XCTAssertEqual(certificate.extensions[oid: .X509ExtensionID.nameConstraints], nameConstraints)
        XCTAssertEqual(certificate.extensions[oid: [1, 3, 6, 1, 4, 1, 99999, 1]], custom)
    }

    func testKeyUsageBitsAreFilteredWhenNotCritical() throws {
        let requested = KeyUsage(digitalSignature: true, nonRepudiation: true, keyEncipherment: true, dataEncipherment: true, keyCertSign: true)
        let certificate = try signed(try Fixtures.csrPEM(extensions: [try Certificate.Extension(requested, critical: false)]))
        let usage = try XCTUnwrap(certificate.extensions[oid: .X509ExtensionID.keyUsage])
        XCTAssertFalse(usage.critical)
        XCTAssertEqual(try KeyUsage(usage), KeyUsage(digitalSignature: true, nonRepudiation: true, keyEncipherment: true))
    }

    func testKeyUsageWithOnlyDisallowedBitsIsDroppedWhenNotCritical() throws {
        let requested = KeyUsage(dataEncipherment: true)
        let certificate = try signed(try Fixtures.csrPEM(extensions: [try Certificate.Extension(requested, critical: false)]))
        XCTAssertNil(certificate.extensions[oid: .X509ExtensionID.keyUsage])
    }

    func testCriticalKeyUsageRequestingMoreIs400() throws {
        for requested in [KeyUsage(digitalSignature: true, keyAgreement: true), KeyUsage(keyCertSign: true), KeyUsage(digitalSignature: true, cRLSign: true)] {
            XCTAssertMagnumError(
                try signed(try Fixtures.csrPEM(extensions: [try Certificate.Extension(requested, critical: true)])),
                .invalid, "Extension 'keyUsage' not allowed"
            )
        }
        let allowed = KeyUsage(digitalSignature: true, keyEncipherment: true)
        let certificate = try signed(try Fixtures.csrPEM(extensions: [try Certificate.Extension(allowed, critical: true)]))
        let usage = try XCTUnwrap(certificate.extensions[oid: .X509ExtensionID.keyUsage])
        XCTAssertTrue(usage.critical)
        XCTAssertEqual(try KeyUsage(usage), allowed)
    }

    func testCertificateSignNeedsAllowCAEvenWhenListed() throws {
        var configuration = PKIConfiguration()
        configuration.allowedKeyUsage.insert("Certificate Sign")
        let request = try Fixtures.csrPEM(extensions: [try Certificate.Extension(KeyUsage(keyCertSign: true), critical: true)])
        XCTAssertMagnumError(try signed(request, pki: ClusterPKI(configuration: configuration)), .invalid, "Extension 'keyUsage' not allowed")
        configuration.allowCA = true
        let certificate = try signed(request, pki: ClusterPKI(configuration: configuration))
        XCTAssertEqual(try certificate.extensions.keyUsage, KeyUsage(keyCertSign: true))
    }

    func testCriticalCATrueIs400() throws {
        let bc = try Certificate.Extension(BasicConstraints.isCertificateAuthority(maxPathLength: nil), critical: true)
        XCTAssertMagnumError(try signed(try Fixtures.csrPEM(extensions: [bc])), .invalid, "Extension 'basicConstraints' not allowed")
    }

    func testNonCriticalCATrueBecomesCAFalse() throws {
        let bc = try Certificate.Extension(BasicConstraints.isCertificateAuthority(maxPathLength: 3), critical: false)
        let certificate = try signed(try Fixtures.csrPEM(extensions: [bc]))
        let basic = try XCTUnwrap(certificate.extensions[oid: .X509ExtensionID.basicConstraints])
        XCTAssertFalse(basic.critical)
        XCTAssertEqual(try BasicConstraints(basic), .notCertificateAuthority)
    }

    func testCAFalseIsKeptAsRequested() throws {
        let bc = try Certificate.Extension(BasicConstraints.notCertificateAuthority, critical: true)
        let certificate = try signed(try Fixtures.csrPEM(extensions: [bc]))
        XCTAssertEqual(certificate.extensions[oid: .X509ExtensionID.basicConstraints], bc)
    }

    func testAllowCAKeepsCATrue() async throws {
        let pki = ClusterPKI(configuration: .init(allowCA: true))
        let bc = try Certificate.Extension(BasicConstraints.isCertificateAuthority(maxPathLength: nil), critical: true)
        let pem = try pki.sign(csrPEM: try Fixtures.csrPEM(extensions: [bc]), with: ca)
        let certificate = try Fixtures.certificate(pem)
        XCTAssertEqual(certificate.extensions[oid: .X509ExtensionID.basicConstraints], bc)
    }

    func testSubjectAltNameIsKept() throws {
        let names = SubjectAlternativeNames([.dnsName("node-1.cluster.local"), .ipAddress(ASN1OctetString(contentBytes: [10, 0, 0, 5]))])
        let san = try Certificate.Extension(names, critical: false)
        let certificate = try signed(try Fixtures.csrPEM(extensions: [san]))
        XCTAssertEqual(try certificate.extensions.subjectAlternativeNames, names)
    }

    func testRequestedKeyIdentifiersAreReplacedByTheSigner() throws {
        let key = Fixtures.p256Key()
        let bogusSKI = try Certificate.Extension(SubjectKeyIdentifier(keyIdentifier: [1, 2, 3]), critical: false)
        let certificate = try signed(try Fixtures.csrPEM(key: key, extensions: [bogusSKI]))
        XCTAssertEqual(try certificate.extensions.subjectKeyIdentifier, SubjectKeyIdentifier(hash: key.publicKey))
        XCTAssertEqual(certificate.extensions.filter { $0.oid == .X509ExtensionID.subjectKeyIdentifier }.count, 1)
    }

    func testABrokenCAIsAServerFault() throws {
        let csr = try Fixtures.csrPEM()
        let mismatched = IssuedCertificate(certificatePEM: Fixtures.rsaSet.ca.certificatePEM, privateKeyPEM: Fixtures.rsaSet.etcdCA.privateKeyPEM)
        XCTAssertMagnumError(try pki.sign(csrPEM: csr, with: mismatched), .internal, "The CA private key does not match the CA certificate.")
        XCTAssertMagnumError(try pki.sign(csrPEM: csr, with: Fixtures.rsaSet.magnumClient), .internal, "The CA certificate is not a certificate authority.")
        let garbage = IssuedCertificate(certificatePEM: "x", privateKeyPEM: "y")
        XCTAssertMagnumError(try pki.sign(csrPEM: csr, with: garbage), .internal, "The CA certificate could not be loaded.")
    }

    // MARK: With the real openssl binary

    func testOpenSSLReqCSRsAreSignedAndVerify() throws {
        let openssl = try OpenSSL()
        defer { openssl.cleanUp() }
        let caPath = try openssl.write("ca.pem", ca.certificatePEM)
        for (name, keySpec) in [("rsa", ["-newkey", "rsa:2048"]), ("ec", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])] {
            let request = try openssl.run(["req", "-new"] + keySpec + [
                "-nodes", "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=kube-apiserver/O=magnum",
                "-addext", "subjectAltName=DNS:kubernetes.default,IP:10.254.0.1",
                "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
                "-addext", "extendedKeyUsage=serverAuth,clientAuth",
                "-addext", "basicConstraints=CA:FALSE",
                "-addext", "nsComment=dropped",
            ])
            XCTAssertEqual(request.status, 0, request.output)
            let pem = try pki.sign(csrPEM: try openssl.read("\(name).csr"), with: ca, issuerName: "k8s")
            XCTAssertFalse(pem.hasSuffix("\n"))
            let verified = try openssl.verify(pem, ca: ca.certificatePEM)
            XCTAssertTrue(verified.ok, "\(name): \(verified.output)")
            let wrongCA = try openssl.verify(pem, ca: Fixtures.rsaSet.etcdCA.certificatePEM)
            XCTAssertFalse(wrongCA.ok, wrongCA.output)
            let purpose = try openssl.run(["verify", "-purpose", "sslserver", "-CAfile", caPath, try openssl.write("\(name)-signed.pem", pem + "\n")])
            XCTAssertEqual(purpose.status, 0, purpose.output)

            let text = try openssl.text(pem)
            XCTAssertTrue(text.contains("Subject: CN = kube-apiserver, O = magnum"), text)
            XCTAssertTrue(text.contains("Issuer: CN = k8s"), text)
            XCTAssertTrue(text.contains("DNS:kubernetes.default, IP Address:10.254.0.1"), text)
            XCTAssertTrue(text.contains("X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment"), text)
            XCTAssertTrue(text.contains("TLS Web Server Authentication, TLS Web Client Authentication"), text)
            XCTAssertTrue(text.contains("CA:FALSE"), text)
            XCTAssertTrue(text.contains("X509v3 Subject Key Identifier"), text)
            XCTAssertTrue(text.contains("X509v3 Authority Key Identifier"), text)
            XCTAssertFalse(text.contains("Netscape Comment"), "nsComment is not allowed and not critical: dropped")
            XCTAssertTrue(text.contains("Signature Algorithm: sha256WithRSAEncryption"), text)

            let fromKey = try openssl.run(["pkey", "-in", "\(name).key", "-pubout"])
            let fromCertificate = try openssl.run(["x509", "-in", "\(name)-signed.pem", "-noout", "-pubkey"])
            XCTAssertEqual(fromKey.output, fromCertificate.output, "public key copied from the CSR")
        }
    }

    func testOpenSSLReqCSRWithCriticalCATrueIsRefused() throws {
        let openssl = try OpenSSL()
        defer { openssl.cleanUp() }
        let request = try openssl.run([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "k.key",
            "-out", "r.csr", "-subj", "/CN=wannabe-ca", "-addext", "basicConstraints=critical,CA:TRUE",
        ])
        XCTAssertEqual(request.status, 0, request.output)
        XCTAssertMagnumError(try pki.sign(csrPEM: try openssl.read("r.csr"), with: ca), .invalid, "Extension 'basicConstraints' not allowed")
    }

    func testOpenSSLReqCSRWithAWeakRSAKeyIsInvalid() throws {
        let openssl = try OpenSSL()
        defer { openssl.cleanUp() }
        let request = try openssl.run([
            "req", "-new", "-newkey", "rsa:1024", "-nodes", "-keyout", "weak.key", "-out", "weak.csr", "-subj", "/CN=weak",
        ])
        XCTAssertEqual(request.status, 0, request.output)
        let csr = try openssl.read("weak.csr")
        XCTAssertMagnumError(try pki.sign(csrPEM: csr, with: ca), .invalid, "Received invalid csr \(csr).")
    }

    func testOpenSSLVerifiesSwiftBuiltCSRsAfterSigning() throws {
        let openssl = try OpenSSL()
        defer { openssl.cleanUp() }
        let san = try Certificate.Extension(SubjectAltNameFixture.names, critical: false)
        for key in [Fixtures.p256Key(), try Fixtures.rsaKey()] {
            let csr = try Fixtures.csrPEM(key: key, extensions: [san])
            let csrCheck = try openssl.run(["req", "-in", try openssl.write("swift-\(UUID().uuidString).csr", csr), "-noout", "-verify"])
            XCTAssertEqual(csrCheck.status, 0, csrCheck.output)
            for kind in CAKind.allCases {
                let pem = try pki.sign(csrPEM: csr, with: Fixtures.rsaSet.ca(kind))
                let verified = try openssl.verify(pem, ca: Fixtures.rsaSet.ca(kind).certificatePEM)
                XCTAssertTrue(verified.ok, verified.output)
            }
        }
    }
}

enum SubjectAltNameFixture {
    static var names: SubjectAlternativeNames { SubjectAlternativeNames([.dnsName("node-2")]) }
}
