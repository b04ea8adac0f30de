import Crypto
import Foundation
import MagnumCore
import SwiftASN1
import X509
import _CryptoExtras

/// Issues a cluster's certificate authorities and Magnum's client certificate, and signs node
/// CSRs with one of those CAs (contract §8.6). Pure computation: no I/O, no logging.
public struct ClusterPKI: Sendable {
    /// The `[x509]` settings in force.
    public let configuration: PKIConfiguration
    /// The clock validity windows are computed from (tests pin it).
    let now: @Sendable () -> Date

    /// Creates a PKI with the given `[x509]` settings.
    public init(configuration: PKIConfiguration = .init()) {
        self.init(configuration: configuration, now: { Date() })
    }

    init(configuration: PKIConfiguration, now: @escaping @Sendable () -> Date) {
        self.configuration = configuration
        self.now = now
    }

    /// The common name of Magnum's client certificate.
    public static let clientCommonName = "admin"
    /// The organization of Magnum's client certificate (Kubernetes' superuser group).
    public static let clientOrganization = "system:masters"

    /// Issues the three CAs (CN = cluster name, or UUID if nameless) and Magnum's client certificate
    /// (CN=admin, O=system:masters, signed by the cluster CA), contract §8.6.
    ///
    /// Certificate PEMs end with a newline. Throws `MagnumError(.invalid, …)` for a configuration
    /// ``PKIConfiguration/validate()`` rejects, `MagnumError(.internal, …)` if key generation fails.
    public func issueCertificateSet(clusterName: String?, clusterUUID: String) throws -> ClusterCertificateSet {
        try configuration.validate()
        let name = Self.caCommonName(clusterName: clusterName, clusterUUID: clusterUUID)
        let ca = try issueCertificateAuthority(commonName: name)
        return ClusterCertificateSet(
            ca: ca,
            etcdCA: try issueCertificateAuthority(commonName: name),
            frontProxyCA: try issueCertificateAuthority(commonName: name),
            magnumClient: try issueClientCertificate(signedBy: ca)
        )
    }

    /// The CN of a cluster's CAs: its name, or its UUID when the name is nil or empty.
    public static func caCommonName(clusterName: String?, clusterUUID: String) -> String {
        if let clusterName, !clusterName.isEmpty { return clusterName }
        return clusterUUID
    }

    /// Issues one self-signed CA: basicConstraints CA:TRUE pathlen 0 (critical), keyUsage
    /// keyCertSign (critical), subjectKeyIdentifier.
    public func issueCertificateAuthority(commonName: String) throws -> IssuedCertificate {
        try configuration.validate()
        let key = try GeneratedKey(configuration.keyType)
        let subject = try DistinguishedName { CommonName(commonName) }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(keyCertSign: true))
            SubjectKeyIdentifier(hash: key.privateKey.publicKey)
        }
        let certificate = try makeCertificate(
            publicKey: key.privateKey.publicKey, subject: subject, issuer: subject,
            extensions: extensions, issuerKey: key.privateKey
        )
        return IssuedCertificate(certificatePEM: try Self.pem(certificate) + "\n", privateKeyPEM: key.pkcs8PEM)
    }

    /// Issues Magnum's client certificate (CN=admin, O=system:masters) under `ca`: keyUsage
    /// digitalSignature+keyEncipherment (critical), extendedKeyUsage clientAuth, basicConstraints
    /// CA:FALSE (critical), subjectKeyIdentifier, authorityKeyIdentifier.
    public func issueClientCertificate(signedBy ca: IssuedCertificate) throws -> IssuedCertificate {
        let subject = try DistinguishedName {
            CommonName(Self.clientCommonName)
            OrganizationName(Self.clientOrganization)
        }
        return try issueLeafCertificate(signedBy: ca, subject: subject, usage: .clientAuth)
    }

    /// Issues a node's server certificate under `ca` (a daemon's TLS endpoint): CN `commonName`,
    /// subjectAltName with `ipAddresses` and `dnsNames`, keyUsage digitalSignature+keyEncipherment
    /// (critical), extendedKeyUsage serverAuth, basicConstraints CA:FALSE (critical),
    /// subjectKeyIdentifier, authorityKeyIdentifier.
    public func issueServerCertificate(signedBy ca: IssuedCertificate, commonName: String,
                                       ipAddresses: [String], dnsNames: [String]) throws -> IssuedCertificate {
        var names: [GeneralName] = dnsNames.map { .dnsName($0) }
        for address in ipAddresses {
            guard let octets = Self.ipv4Octets(address) else {
                throw MagnumError(.internal, "\(address) is not an IPv4 address.")
            }
            names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(octets))))
        }
        return try issueLeafCertificate(signedBy: ca, subject: try DistinguishedName { CommonName(commonName) },
                                        usage: .serverAuth, alternativeNames: names)
    }

    /// An end-entity certificate under `ca` with a fresh key: keyUsage
    /// digitalSignature+keyEncipherment (critical), extendedKeyUsage `usage`, basicConstraints
    /// CA:FALSE (critical), the subject alternative names if any, subjectKeyIdentifier,
    /// authorityKeyIdentifier.
    func issueLeafCertificate(signedBy ca: IssuedCertificate, subject: DistinguishedName, usage: ExtendedKeyUsage.Usage,
                              alternativeNames: [GeneralName] = []) throws -> IssuedCertificate {
        try configuration.validate()
        let authority = try SigningAuthority(ca)
        let key = try GeneratedKey(configuration.keyType)
        let extensions = try Certificate.Extensions {
            Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
            try ExtendedKeyUsage([usage])
            Critical(BasicConstraints.notCertificateAuthority)
            if !alternativeNames.isEmpty { SubjectAlternativeNames(alternativeNames) }
            SubjectKeyIdentifier(hash: key.privateKey.publicKey)
            AuthorityKeyIdentifier(keyIdentifier: authority.keyIdentifier)
        }
        let certificate = try makeCertificate(
            publicKey: key.privateKey.publicKey, subject: subject, issuer: authority.certificate.subject,
            extensions: extensions, issuerKey: authority.privateKey
        )
        return IssuedCertificate(certificatePEM: try Self.pem(certificate) + "\n", privateKeyPEM: key.pkcs8PEM)
    }

    /// The four octets of a dotted IPv4 address, or nil.
    static func ipv4Octets(_ address: String) -> [UInt8]? {
        let parts = address.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        let octets = parts.compactMap { UInt8($0) }
        return octets.count == 4 ? octets : nil
    }

    /// A v3 certificate valid from now − 1 day to now + `validityDays`, with a random 128-bit
    /// serial, signed with SHA-256 by `issuerKey`.
    func makeCertificate(
        publicKey: Certificate.PublicKey, subject: DistinguishedName, issuer: DistinguishedName,
        extensions: Certificate.Extensions, issuerKey: Certificate.PrivateKey
    ) throws -> Certificate {
        let now = self.now()
        do {
            return try Certificate(
                version: .v3,
                serialNumber: Self.randomSerialNumber(),
                publicKey: publicKey,
                notValidBefore: now.addingTimeInterval(-86_400),
                notValidAfter: now.addingTimeInterval(Double(configuration.validityDays) * 86_400),
                issuer: issuer,
                subject: subject,
                signatureAlgorithm: try Self.signatureAlgorithm(for: issuerKey),
                extensions: extensions,
                issuerPrivateKey: issuerKey
            )
        } catch let error as MagnumError {
            throw error
        } catch {
            throw MagnumError(.internal, "Could not sign the certificate.")
        }
    }

    /// A random positive 128-bit serial number (upstream uses a UUID4 as an integer).
    static func randomSerialNumber() -> Certificate.SerialNumber {
        var generator = SystemRandomNumberGenerator()
        while true {
            let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if bytes.contains(where: { $0 != 0 }) { return Certificate.SerialNumber(bytes: bytes) }
        }
    }

    /// SHA-256 with the key's algorithm: RSA PKCS#1 v1.5 or ECDSA.
    static func signatureAlgorithm(for key: Certificate.PrivateKey) throws -> Certificate.SignatureAlgorithm {
        let supported = key.supportedSignatureAlgorithms
        if supported.contains(.sha256WithRSAEncryption) { return .sha256WithRSAEncryption }
        if supported.contains(.ecdsaWithSHA256) { return .ecdsaWithSHA256 }
        throw MagnumError(.internal, "The CA's key type cannot sign with SHA-256.")
    }

    /// PEM without a trailing newline.
    static func pem(_ certificate: Certificate) throws -> String {
        do {
            var text = try certificate.serializeAsPEM().pemString
            while text.hasSuffix("\n") { text.removeLast() }
            return text
        } catch {
            throw MagnumError(.internal, "Could not encode the certificate.")
        }
    }
}

/// A freshly generated private key and its PKCS#8 PEM.
struct GeneratedKey {
    let privateKey: Certificate.PrivateKey
    let pkcs8PEM: String

    init(_ type: PKIConfiguration.KeyType) throws {
        do {
            switch type {
            case .rsa(let bits):
                let key = try _RSA.Signing.PrivateKey(keySize: .init(bitCount: bits))
                privateKey = Certificate.PrivateKey(key)
                pkcs8PEM = Self.terminated(key.pkcs8PEMRepresentation)
            case .ecdsaP256:
                let key = P256.Signing.PrivateKey()
                privateKey = Certificate.PrivateKey(key)
                pkcs8PEM = Self.terminated(key.pemRepresentation)
            }
        } catch {
            throw MagnumError(.internal, "Could not generate a private key.")
        }
    }

    private static func terminated(_ pem: String) -> String {
        pem.hasSuffix("\n") ? pem : pem + "\n"
    }
}

/// A CA certificate with its private key, ready to sign.
struct SigningAuthority {
    let certificate: Certificate
    let privateKey: Certificate.PrivateKey
    /// The CA's subjectKeyIdentifier (or the RFC 5280 SHA-1 of its key when it has none):
    /// the authorityKeyIdentifier of everything it signs.
    let keyIdentifier: ArraySlice<UInt8>

    /// Loads `ca`; a stored CA that does not parse, whose key does not match, or that is not a CA
    /// is a server-side fault (`MagnumError(.internal, …)`), never the caller's.
    init(_ ca: IssuedCertificate) throws {
        guard let certificate = try? Certificate(pemEncoded: ca.certificatePEM) else {
            throw MagnumError(.internal, "The CA certificate could not be loaded.")
        }
        guard let privateKey = try? Certificate.PrivateKey(pemEncoded: ca.privateKeyPEM) else {
            throw MagnumError(.internal, "The CA private key could not be loaded.")
        }
        guard privateKey.publicKey == certificate.publicKey else {
            throw MagnumError(.internal, "The CA private key does not match the CA certificate.")
        }
        guard case .isCertificateAuthority = try? certificate.extensions.basicConstraints else {
            throw MagnumError(.internal, "The CA certificate is not a certificate authority.")
        }
        self.certificate = certificate
        self.privateKey = privateKey
        if let identifier = try? certificate.extensions.subjectKeyIdentifier {
            keyIdentifier = identifier.keyIdentifier
        } else {
            keyIdentifier = SubjectKeyIdentifier(hash: certificate.publicKey).keyIdentifier
        }
    }
}
