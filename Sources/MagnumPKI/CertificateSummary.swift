import Foundation
import MagnumCore
import SwiftASN1
@_spi(FixedExpiryValidationTime) import X509

/// The public facts of a certificate: what logs, the CLI and tests may print.
/// It is built from the certificate alone, so it can never contain key material.
public struct CertificateSummary: Sendable, Hashable, CustomStringConvertible {
    /// The subject, in RFC 4514 style as swift-certificates renders it.
    public var subject: String
    /// The subject's first common name, if any.
    public var commonName: String?
    /// The issuer, in the same style as ``subject``.
    public var issuer: String
    /// The serial number, colon-separated hexadecimal.
    public var serialNumber: String
    /// The start of the validity window.
    public var notValidBefore: Date
    /// The end of the validity window.
    public var notValidAfter: Date
    /// Whether basicConstraints says CA:TRUE.
    public var isCertificateAuthority: Bool

    /// Parses a PEM certificate. Throws `MagnumError(.invalid, …)` when it is not one.
    public init(certificatePEM: String) throws {
        let certificate = try ParsedPEM.certificate(certificatePEM)
        self.init(certificate)
    }

    init(_ certificate: Certificate) {
        subject = certificate.subject.description
        commonName = certificate.subject.commonName
        issuer = certificate.issuer.description
        serialNumber = certificate.serialNumber.description
        notValidBefore = certificate.notValidBefore
        notValidAfter = certificate.notValidAfter
        if case .isCertificateAuthority = try? certificate.extensions.basicConstraints {
            isCertificateAuthority = true
        } else {
            isCertificateAuthority = false
        }
    }

    /// "subject: …, issuer: …, serial: …".
    public var description: String {
        "subject: \(subject), issuer: \(issuer), serial: \(serialNumber)"
    }
}

extension ClusterPKI {
    /// The first common name of a PEM certificate's subject, or nil when the subject has none.
    /// Throws `MagnumError(.invalid, …)` when the PEM is not a certificate.
    public static func commonName(ofCertificatePEM pem: String) throws -> String? {
        try ParsedPEM.certificate(pem).subject.commonName
    }

    /// Whether `certificatePEM` chains to `caPEM` as its only trust root: the signature verifies
    /// with the CA's public key, the issuer names match, the CA is a CA, and both are within their
    /// validity at `time` (now when nil) — swift-certificates' `Verifier` with the RFC 5280 policy.
    /// Throws `MagnumError(.invalid, …)` when either PEM is not a certificate.
    public static func isCertificate(_ certificatePEM: String, issuedBy caPEM: String, at time: Date? = nil) async throws -> Bool {
        let leaf = try ParsedPEM.certificate(certificatePEM)
        let root = try ParsedPEM.certificate(caPEM)
        let policy = time.map { RFC5280Policy(fixedExpiryValidationTime: $0) } ?? RFC5280Policy()
        var verifier = Verifier(rootCertificates: CertificateStore([root])) { policy }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore())
        if case .validCertificate = result { return true }
        return false
    }
}

extension DistinguishedName {
    /// The value of the first CN attribute.
    var commonName: String? {
        for rdn in self {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                return String(attribute.value) ?? attribute.value.description
            }
        }
        return nil
    }
}

/// PEM parsing with Magnum's error messages.
enum ParsedPEM {
    /// A certificate from PEM; `MagnumError(.invalid, …)` otherwise.
    static func certificate(_ pem: String) throws -> Certificate {
        do {
            return try Certificate(pemEncoded: pem)
        } catch {
            throw MagnumError(.invalid, "The certificate is not a valid PEM-encoded X.509 certificate.")
        }
    }
}
