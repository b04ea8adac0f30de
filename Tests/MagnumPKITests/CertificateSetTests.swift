import Crypto
import Foundation
import MagnumCore
import SwiftASN1
import X509
import XCTest
import _CryptoExtras

@testable import MagnumPKI

/// The certificates a cluster gets at create time and at CA rotation (contract §8.6).
final class CertificateSetTests: XCTestCase {
    // MARK: Subjects, extensions and chains (swift-certificates)

    func testCAsAreSelfSignedWithClusterNameAndCAExtensions() async throws {
        let set = Fixtures.rsaSet
        for kind in CAKind.allCases {
            let ca = try Fixtures.certificate(set.ca(kind).certificatePEM)
            XCTAssertEqual(ca.subject, try DistinguishedName { CommonName("k8s") }, "\(kind)")
            XCTAssertEqual(ca.issuer, ca.subject, "\(kind)")
            XCTAssertTrue(ca.publicKey.isValidSignature(ca.signature, for: ca), "\(kind) self-signature")
            XCTAssertEqual(ca.signatureAlgorithm, .sha256WithRSAEncryption)
            XCTAssertEqual(ca.version, .v3)

            let basic = try XCTUnwrap(ca.extensions[oid: .X509ExtensionID.basicConstraints])
            XCTAssertTrue(basic.critical)
            XCTAssertEqual(try BasicConstraints(basic), .isCertificateAuthority(maxPathLength: 0))
            let usage = try XCTUnwrap(ca.extensions[oid: .X509ExtensionID.keyUsage])
            XCTAssertTrue(usage.critical)
            XCTAssertEqual(try KeyUsage(usage), KeyUsage(keyCertSign: true))
            XCTAssertEqual(try ca.extensions.subjectKeyIdentifier, SubjectKeyIdentifier(hash: ca.publicKey))
            XCTAssertEqual(ca.extensions.count, 3, "only basicConstraints, keyUsage, subjectKeyIdentifier")

            let selfVerified = try await ClusterPKI.isCertificate(set.ca(kind).certificatePEM, issuedBy: set.ca(kind).certificatePEM)
            XCTAssertTrue(selfVerified)
        }
    }

    func testTheThreeCAsAreDistinct() throws {
        let set = Fixtures.rsaSet
        let keys = Set([set.ca.privateKeyPEM, set.etcdCA.privateKeyPEM, set.frontProxyCA.privateKeyPEM, set.magnumClient.privateKeyPEM])
        XCTAssertEqual(keys.count, 4)
        XCTAssertEqual(set.ca(.kubernetes), set.ca)
        XCTAssertEqual(set.ca(.etcd), set.etcdCA)
        XCTAssertEqual(set.ca(.frontProxy), set.frontProxyCA)
    }

    func testClientCertificateIsAdminInSystemMastersSignedByTheClusterCA() async throws {
        let set = Fixtures.rsaSet
        let client = try Fixtures.certificate(set.magnumClient.certificatePEM)
        let ca = try Fixtures.certificate(set.ca.certificatePEM)
        XCTAssertEqual(client.subject, try DistinguishedName {
            CommonName("admin")
            OrganizationName("system:masters")
        })
        XCTAssertEqual(client.issuer, ca.subject)
        XCTAssertTrue(ca.publicKey.isValidSignature(client.signature, for: client))

        let usage = try XCTUnwrap(client.extensions[oid: .X509ExtensionID.keyUsage])
        XCTAssertTrue(usage.critical)
        XCTAssertEqual(try KeyUsage(usage), KeyUsage(digitalSignature: true, keyEncipherment: true))
        XCTAssertEqual(try client.extensions.extendedKeyUsage, try ExtendedKeyUsage([.clientAuth]))
        let basic = try XCTUnwrap(client.extensions[oid: .X509ExtensionID.basicConstraints])
        XCTAssertTrue(basic.critical)
        XCTAssertEqual(try BasicConstraints(basic), .notCertificateAuthority)
        XCTAssertEqual(try client.extensions.subjectKeyIdentifier, SubjectKeyIdentifier(hash: client.publicKey))
        XCTAssertEqual(
            try client.extensions.authorityKeyIdentifier?.keyIdentifier,
            try ca.extensions.subjectKeyIdentifier?.keyIdentifier
        )

        let verifiesWithClusterCA = try await ClusterPKI.isCertificate(set.magnumClient.certificatePEM, issuedBy: set.ca.certificatePEM)
        let verifiesWithEtcdCA = try await ClusterPKI.isCertificate(set.magnumClient.certificatePEM, issuedBy: set.etcdCA.certificatePEM)
        let verifiesWithFrontProxyCA = try await ClusterPKI.isCertificate(set.magnumClient.certificatePEM, issuedBy: set.frontProxyCA.certificatePEM)
        XCTAssertTrue(verifiesWithClusterCA)
        XCTAssertFalse(verifiesWithEtcdCA, "same subject CN=k8s, different key: must not verify")
        XCTAssertFalse(verifiesWithFrontProxyCA)
    }

    func testNodeServerCertificateNamesItsAddressesAndServesTLS() async throws {
        let set = Fixtures.ecdsaSet
        let issued = try ClusterPKI(configuration: .init(keyType: .ecdsaP256)).issueServerCertificate(
            signedBy: set.ca, commonName: "master-0", ipAddresses: ["198.18.7.10", "127.0.0.1"], dnsNames: ["master-0", "localhost"])
        let server = try Fixtures.certificate(issued.certificatePEM)
        let ca = try Fixtures.certificate(set.ca.certificatePEM)
        XCTAssertEqual(server.subject, try DistinguishedName { CommonName("master-0") })
        XCTAssertEqual(server.issuer, ca.subject)
        XCTAssertEqual(try server.extensions.extendedKeyUsage, try ExtendedKeyUsage([.serverAuth]))
        XCTAssertEqual(try server.extensions[oid: .X509ExtensionID.basicConstraints].map(BasicConstraints.init), .notCertificateAuthority)
        let names = try XCTUnwrap(try server.extensions.subjectAlternativeNames)
        XCTAssertEqual(Array(names), [
            .dnsName("master-0"), .dnsName("localhost"),
            .ipAddress(ASN1OctetString(contentBytes: [198, 18, 7, 10])), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
        ])
        let key = try Certificate.PrivateKey(pemEncoded: issued.privateKeyPEM)
        XCTAssertEqual(key.publicKey, server.publicKey)
        let verifies = try await ClusterPKI.isCertificate(issued.certificatePEM, issuedBy: set.ca.certificatePEM)
        XCTAssertTrue(verifies)
        let verifiesWithEtcd = try await ClusterPKI.isCertificate(issued.certificatePEM, issuedBy: set.etcdCA.certificatePEM)
        XCTAssertFalse(verifiesWithEtcd)

        XCTAssertThrowsError(try ClusterPKI().issueServerCertificate(signedBy: set.ca, commonName: "x", ipAddresses: ["198.18.7"], dnsNames: [])) {
            XCTAssertEqual(($0 as? MagnumError)?.code, .internal)
        }
    }

    func testVerificationRespectsTheValidityWindow() async throws {
        let set = Fixtures.ecdsaSet
        let client = try Fixtures.certificate(set.magnumClient.certificatePEM)
        let inside = try await ClusterPKI.isCertificate(set.magnumClient.certificatePEM, issuedBy: set.ca.certificatePEM, at: client.notValidBefore.addingTimeInterval(60))
        let before = try await ClusterPKI.isCertificate(set.magnumClient.certificatePEM, issuedBy: set.ca.certificatePEM, at: client.notValidBefore.addingTimeInterval(-60))
        let after = try await ClusterPKI.isCertificate(set.magnumClient.certificatePEM, issuedBy: set.ca.certificatePEM, at: client.notValidAfter.addingTimeInterval(60))
        XCTAssertTrue(inside)
        XCTAssertFalse(before)
        XCTAssertFalse(after)
    }

    func testNamelessClusterUsesItsUUIDAsCommonName() throws {
        let uuid = "5d12f6fd-a196-4bf0-ae4c-1f639a523a52"
        for kind in CAKind.allCases {
            XCTAssertEqual(try ClusterPKI.commonName(ofCertificatePEM: Fixtures.ecdsaSet.ca(kind).certificatePEM), uuid)
        }
        XCTAssertEqual(ClusterPKI.caCommonName(clusterName: "", clusterUUID: uuid), uuid)
        XCTAssertEqual(ClusterPKI.caCommonName(clusterName: "k8s", clusterUUID: uuid), "k8s")
        XCTAssertEqual(try ClusterPKI.commonName(ofCertificatePEM: Fixtures.ecdsaSet.magnumClient.certificatePEM), "admin")
        XCTAssertEqual(try ClusterPKI.commonName(ofCertificatePEM: Fixtures.rsaSet.ca.certificatePEM), "k8s")
    }

    func testCommonNameOfSomethingElseIsInvalid() {
        XCTAssertMagnumError(try ClusterPKI.commonName(ofCertificatePEM: "not a pem"), .invalid)
        XCTAssertMagnumError(try ClusterPKI.commonName(ofCertificatePEM: Fixtures.rsaSet.ca.privateKeyPEM), .invalid)
    }

    // MARK: Validity, serials, keys

    func testValidityIsNowMinusOneDayToNowPlusTermOfValidity() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)  // a whole second: X.509 times have second precision
        for days in [1825, 30] {
            let pki = ClusterPKI(configuration: .init(keyType: .ecdsaP256, validityDays: days), now: { now })
            let set = try pki.issueCertificateSet(clusterName: "c", clusterUUID: "u")
            for issued in [set.ca, set.etcdCA, set.frontProxyCA, set.magnumClient] {
                let certificate = try Fixtures.certificate(issued.certificatePEM)
                XCTAssertEqual(certificate.notValidBefore, now.addingTimeInterval(-86_400))
                XCTAssertEqual(certificate.notValidAfter, now.addingTimeInterval(Double(days) * 86_400))
            }
            let signed = try Fixtures.certificate(pki.sign(csrPEM: try Fixtures.csrPEM(), with: set.ca))
            XCTAssertEqual(signed.notValidBefore, now.addingTimeInterval(-86_400))
            XCTAssertEqual(signed.notValidAfter, now.addingTimeInterval(Double(days) * 86_400))
        }
    }

    func testDefaultValidityAroundTheRealClock() throws {
        let before = Date()
        let certificate = try Fixtures.certificate(Fixtures.rsaSet.ca.certificatePEM)
        XCTAssertLessThan(certificate.notValidBefore, Date().addingTimeInterval(-86_400 + 1))
        XCTAssertGreaterThan(certificate.notValidAfter, before.addingTimeInterval(1824 * 86_400))
        XCTAssertLessThan(certificate.notValidAfter, Date().addingTimeInterval(1826 * 86_400))
    }

    func testSerialsAreRandomPositive128BitAndUnique() throws {
        let pki = ClusterPKI(configuration: .init(keyType: .ecdsaP256))
        let set = Fixtures.ecdsaSet
        var serials: Set<ArraySlice<UInt8>> = []
        var certificates = [set.ca, set.etcdCA, set.frontProxyCA, set.magnumClient].map(\.certificatePEM)
        let csr = try Fixtures.csrPEM()
        for _ in 0..<200 { certificates.append(try pki.sign(csrPEM: csr, with: set.ca)) }
        var longest = 0
        for pem in certificates {
            let bytes = try Fixtures.certificate(pem).serialNumber.bytes  // the magnitude
            XCTAssertTrue(bytes.contains { $0 != 0 }, "non-zero")
            XCTAssertLessThanOrEqual(bytes.count, 16, "at most 128 bits")
            longest = max(longest, bytes.count)
            serials.insert(bytes)
            let encoded = try Self.encodedSerial(pem)
            XCTAssertLessThan(encoded.first!, 0x80, "the DER INTEGER is positive")
            XCTAssertEqual(encoded.drop { $0 == 0 }, bytes)
        }
        XCTAssertEqual(serials.count, certificates.count, "every serial is unique")
        XCTAssertEqual(longest, 16, "204 random serials: at least one uses the full 16 bytes")
    }

    struct UnexpectedDER: Error {}

    /// The content octets of the serialNumber INTEGER, read straight from the DER.
    static func encodedSerial(_ pem: String) throws -> ArraySlice<UInt8> {
        let root = try DER.parse(try PEMDocument(pemString: pem).derBytes)
        guard case .constructed(let certificate) = root.content,
              let tbs = certificate.first(where: { _ in true }),
              case .constructed(let fields) = tbs.content
        else { throw UnexpectedDER() }
        var iterator = fields.makeIterator()
        _ = iterator.next()  // [0] version
        guard let serial = iterator.next(), serial.identifier == .integer, case .primitive(let bytes) = serial.content else {
            throw UnexpectedDER()
        }
        return bytes
    }

    func testDefaultKeysAreRSA2048AndECDSAIsP256WhenConfigured() throws {
        for issued in [Fixtures.rsaSet.ca, Fixtures.rsaSet.etcdCA, Fixtures.rsaSet.frontProxyCA, Fixtures.rsaSet.magnumClient] {
            let certificate = try Fixtures.certificate(issued.certificatePEM)
            XCTAssertEqual(_RSA.Signing.PublicKey(certificate.publicKey)?.keySizeInBits, 2048)
            XCTAssertEqual(certificate.signatureAlgorithm, .sha256WithRSAEncryption)
            XCTAssertTrue(issued.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
            XCTAssertTrue(issued.privateKeyPEM.hasSuffix("-----END PRIVATE KEY-----\n"))
            XCTAssertEqual(try Certificate.PrivateKey(pemEncoded: issued.privateKeyPEM).publicKey, certificate.publicKey)
        }
        for issued in [Fixtures.ecdsaSet.ca, Fixtures.ecdsaSet.magnumClient] {
            let certificate = try Fixtures.certificate(issued.certificatePEM)
            XCTAssertNotNil(P256.Signing.PublicKey(certificate.publicKey))
            XCTAssertEqual(certificate.signatureAlgorithm, .ecdsaWithSHA256)
            XCTAssertTrue(issued.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
            XCTAssertEqual(try Certificate.PrivateKey(pemEncoded: issued.privateKeyPEM).publicKey, certificate.publicKey)
        }
    }

    func testConfigurationIsValidated() {
        for bits in [1024, 2047, 2049, 32768] {
            XCTAssertMagnumError(
                try ClusterPKI(configuration: .init(keyType: .rsa(bits: bits))).issueCertificateSet(clusterName: "c", clusterUUID: "u"),
                .invalid
            )
        }
        XCTAssertMagnumError(try PKIConfiguration(validityDays: 0).validate(), .invalid)
        XCTAssertMagnumError(try PKIConfiguration(allowedKeyUsage: ["Digital Signature", "Launch Missiles"]).validate(), .invalid,
                             "[x509] allowed_key_usage has unknown key usages: Launch Missiles.")
        XCTAssertNoThrow(try PKIConfiguration().validate())
        let defaults = PKIConfiguration()
        XCTAssertEqual(defaults.keyType, .rsa(bits: 2048))
        XCTAssertEqual(defaults.validityDays, 1825)
        XCTAssertFalse(defaults.allowCA)
        XCTAssertEqual(defaults.allowedExtensions, ["keyUsage", "extendedKeyUsage", "subjectAltName", "basicConstraints", "subjectKeyIdentifier"])
        XCTAssertEqual(defaults.allowedKeyUsage, ["Digital Signature", "Key Encipherment", "Non Repudiation"])
    }

    func testCAKindFromCACertType() {
        XCTAssertEqual(CAKind(caCertType: nil), .kubernetes)
        XCTAssertEqual(CAKind(caCertType: "kubernetes"), .kubernetes)
        XCTAssertEqual(CAKind(caCertType: "whatever"), .kubernetes)
        XCTAssertEqual(CAKind(caCertType: "etcd"), .etcd)
        XCTAssertEqual(CAKind(caCertType: "front_proxy"), .frontProxy)
        XCTAssertEqual(CAKind(caCertType: "front-proxy"), .frontProxy)
        XCTAssertEqual(CAKind.frontProxy.rawValue, "front-proxy")
    }

    // MARK: No key material in descriptions

    func testDescriptionsNeverShowPrivateKeys() throws {
        let set = Fixtures.ecdsaSet
        let keyBody = set.ca.privateKeyPEM.split(separator: "\n")[1]
        var dumped = ""
        dump(set, to: &dumped)
        var dumpedCertificate = ""
        dump(set.magnumClient, to: &dumpedCertificate)
        for text in [
            "\(set.ca)", String(reflecting: set.ca), "\(set)", String(reflecting: set), dumped, dumpedCertificate,
            "\(Mirror(reflecting: set.ca).children.map { "\($0.value)" })",
        ] {
            XCTAssertFalse(text.contains("PRIVATE KEY"), text)
            XCTAssertFalse(text.contains(keyBody), text)
            XCTAssertFalse(text.contains(set.magnumClient.privateKeyPEM.split(separator: "\n")[1]), text)
        }
        XCTAssertTrue("\(set.magnumClient)".contains("CN=admin"), "\(set.magnumClient)")
        XCTAssertTrue("\(set.magnumClient)".contains("<redacted>"))
        let summary = try XCTUnwrap(set.magnumClient.summary)
        XCTAssertEqual(summary.commonName, "admin")
        XCTAssertFalse(summary.isCertificateAuthority)
        XCTAssertTrue(try XCTUnwrap(set.ca.summary).isCertificateAuthority)
    }

    // MARK: The real openssl binary

    func testOpenSSLVerifiesTheChainsAndShowsTheExtensions() throws {
        let openssl = try OpenSSL()
        defer { openssl.cleanUp() }
        let set = Fixtures.rsaSet
        for kind in CAKind.allCases {
            let ca = set.ca(kind).certificatePEM
            XCTAssertTrue(try openssl.verify(ca, ca: ca).ok, "\(kind) CA is self-signed and valid")
            let text = try openssl.text(ca)
            XCTAssertTrue(text.contains("Subject: CN = k8s"), text)
            XCTAssertTrue(text.contains("Issuer: CN = k8s"), text)
            XCTAssertTrue(text.contains("X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:0"), text)
            XCTAssertTrue(text.contains("X509v3 Key Usage: critical\n                Certificate Sign"), text)
            XCTAssertTrue(text.contains("X509v3 Subject Key Identifier"), text)
            XCTAssertTrue(text.contains("Signature Algorithm: sha256WithRSAEncryption"), text)
            XCTAssertTrue(text.contains("Public-Key: (2048 bit)"), text)
        }
        let client = set.magnumClient.certificatePEM
        let verified = try openssl.verify(client, ca: set.ca.certificatePEM)
        XCTAssertTrue(verified.ok, verified.output)
        let againstEtcd = try openssl.verify(client, ca: set.etcdCA.certificatePEM)
        XCTAssertFalse(againstEtcd.ok, againstEtcd.output)
        XCTAssertFalse(try openssl.verify(client, ca: set.frontProxyCA.certificatePEM).ok)
        let purpose = try openssl.run(["verify", "-purpose", "sslclient", "-CAfile", try openssl.write("ca.pem", set.ca.certificatePEM), try openssl.write("client.pem", client)])
        XCTAssertEqual(purpose.status, 0, purpose.output)

        let text = try openssl.text(client)
        XCTAssertTrue(text.contains("Subject: CN = admin, O = system:masters"), text)
        XCTAssertTrue(text.contains("Issuer: CN = k8s"), text)
        XCTAssertTrue(text.contains("X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment"), text)
        XCTAssertTrue(text.contains("X509v3 Extended Key Usage: \n                TLS Web Client Authentication"), text)
        XCTAssertTrue(text.contains("X509v3 Basic Constraints: critical\n                CA:FALSE"), text)
        XCTAssertTrue(text.contains("X509v3 Subject Key Identifier"), text)
        XCTAssertTrue(text.contains("X509v3 Authority Key Identifier"), text)
    }

    func testOpenSSLReadsThePKCS8KeysAndTheyMatchTheCertificates() throws {
        let openssl = try OpenSSL()
        defer { openssl.cleanUp() }
        for (name, issued) in [("rsa-ca", Fixtures.rsaSet.ca), ("rsa-client", Fixtures.rsaSet.magnumClient), ("ec-ca", Fixtures.ecdsaSet.ca), ("ec-client", Fixtures.ecdsaSet.magnumClient)] {
            let keyPath = try openssl.write("\(name).key", issued.privateKeyPEM)
            let certificatePath = try openssl.write("\(name).pem", issued.certificatePEM)
            let check = try openssl.run(["pkey", "-in", keyPath, "-noout", "-check"])
            XCTAssertEqual(check.status, 0, "\(name): \(check.output)")
            let fromKey = try openssl.run(["pkey", "-in", keyPath, "-pubout"])
            let fromCertificate = try openssl.run(["x509", "-in", certificatePath, "-noout", "-pubkey"])
            XCTAssertEqual(fromKey.status, 0, fromKey.output)
            XCTAssertEqual(fromCertificate.status, 0, fromCertificate.output)
            XCTAssertEqual(fromKey.output, fromCertificate.output, name)
        }
        let ecText = try openssl.text(Fixtures.ecdsaSet.ca.certificatePEM)
        XCTAssertTrue(ecText.contains("NIST CURVE: P-256") || ecText.contains("ASN1 OID: prime256v1"), ecText)
        XCTAssertTrue(ecText.contains("Signature Algorithm: ecdsa-with-SHA256"), ecText)
        XCTAssertTrue(try openssl.verify(Fixtures.ecdsaSet.magnumClient.certificatePEM, ca: Fixtures.ecdsaSet.ca.certificatePEM).ok)
    }
}
