import Foundation
import MagnumCore
import SwiftASN1
import X509

extension ClusterPKI {
    /// Signs a CSR with `ca` following contract §8.6's rules; returns the PEM without trailing newline.
    ///
    /// - Subject and public key come from the CSR, whose own signature must verify (RSA ≥ 2048 or
    ///   ECDSA P-256/P-384/P-521); the issuer is the CA certificate's subject; SHA-256 with the CA's key.
    /// - Only `allowedExtensions` are kept: a disallowed critical one → 400 "Extension '<name>' not
    ///   allowed"; a disallowed non-critical one is dropped.
    /// - keyUsage bits are limited to `allowedKeyUsage` (minus Certificate Sign / CRL Sign unless
    ///   `allowCA`): extra bits in a critical keyUsage → 400, in a non-critical one they are dropped.
    /// - Unless `allowCA`, basicConstraints CA:TRUE → 400 when critical, rewritten to CA:FALSE when not.
    /// - subjectKeyIdentifier (of the CSR's key) and authorityKeyIdentifier (the CA's) are always set.
    ///
    /// A CSR that is not PEM, not a CSR, or whose signature does not verify → 400 "Received invalid
    /// csr <csr>." A broken CA → 500.
    ///
    /// `issuerName` is what upstream writes as the issuer CN (the cluster's name or UUID). This
    /// implementation always writes the CA certificate's own subject instead — the two are equal
    /// for CAs issued by ``issueCertificateSet(clusterName:clusterUUID:)`` — so the result always
    /// chains to `ca`; the parameter is kept for the call shape the API layer uses.
    public func sign(csrPEM: String, with ca: IssuedCertificate, issuerName: String) throws -> String {
        try sign(csrPEM: csrPEM, with: ca)
    }

    /// Signs a CSR with `ca`; see ``sign(csrPEM:with:issuerName:)``.
    public func sign(csrPEM: String, with ca: IssuedCertificate) throws -> String {
        try configuration.validate()
        let request = try Self.parseCSR(csrPEM)
        let authority = try SigningAuthority(ca)

        var extensions = Certificate.Extensions()
        for requested in try filteredExtensions(request, csrPEM: csrPEM) {
            try extensions.append(requested)
        }
        try extensions.append(SubjectKeyIdentifier(hash: request.publicKey).makeCertificateExtension())
        try extensions.append(
            AuthorityKeyIdentifier(keyIdentifier: authority.keyIdentifier).makeCertificateExtension()
        )

        let certificate = try makeCertificate(
            publicKey: request.publicKey, subject: request.subject, issuer: authority.certificate.subject,
            extensions: extensions, issuerKey: authority.privateKey
        )
        return try Self.pem(certificate)
    }

    /// The CSR's requested extensions after Magnum's rules, in request order, without any
    /// subjectKeyIdentifier / authorityKeyIdentifier (the signer sets those).
    func filteredExtensions(_ request: CertificateSigningRequest, csrPEM: String) throws -> [Certificate.Extension] {
        let requested: Certificate.Extensions
        do {
            requested = try request.attributes.extensionRequest?.extensions ?? Certificate.Extensions()
        } catch {
            throw Self.invalidCSR(csrPEM)
        }

        var allowedUsage = configuration.allowedKeyUsage
        if !configuration.allowCA { allowedUsage.subtract(KeyUsageName.caOnly) }

        var kept: [Certificate.Extension] = []
        for ext in requested {
            let name = ExtensionName.of(ext.oid)
            guard configuration.allowedExtensions.contains(name) else {
                if ext.critical { throw Self.notAllowed(name) }
                continue
            }
            switch ext.oid {
            case .X509ExtensionID.subjectKeyIdentifier, .X509ExtensionID.authorityKeyIdentifier:
                continue
            case .X509ExtensionID.keyUsage:
                guard var usage = try? KeyUsage(ext) else { throw Self.invalidCSR(csrPEM) }
                for bit in KeyUsageName.allCases where bit.isSet(in: usage) && !allowedUsage.contains(bit.rawValue) {
                    if ext.critical { throw Self.notAllowed(name) }
                    bit.clear(in: &usage)
                }
                // RFC 5280 §4.2.1.3: a keyUsage extension asserts at least one bit; drop an emptied one.
                if usage == KeyUsage() { continue }
                kept.append(try Certificate.Extension(usage, critical: ext.critical))
            case .X509ExtensionID.basicConstraints:
                guard let constraints = try? BasicConstraints(ext) else { throw Self.invalidCSR(csrPEM) }
                if case .isCertificateAuthority = constraints, !configuration.allowCA {
                    if ext.critical { throw Self.notAllowed(name) }
                    kept.append(try Certificate.Extension(BasicConstraints.notCertificateAuthority, critical: false))
                } else {
                    kept.append(ext)
                }
            default:
                kept.append(ext)
            }
        }
        return kept
    }

    /// Parses a PEM CSR and checks its self-signature.
    static func parseCSR(_ csrPEM: String) throws -> CertificateSigningRequest {
        let request: CertificateSigningRequest
        do {
            request = try CertificateSigningRequest(pemEncoded: csrPEM)
        } catch {
            throw invalidCSR(csrPEM)
        }
        guard request.publicKey.isValidSignature(request.signature, for: request) else {
            throw invalidCSR(csrPEM)
        }
        return request
    }

    /// 400 "Extension '<name>' not allowed" (upstream's `CertificateValidationError`).
    static func notAllowed(_ name: String) -> MagnumError {
        MagnumError(.invalid, "Extension '\(name)' not allowed")
    }

    /// 400 "Received invalid csr <csr>." (upstream's `InvalidCsr`), echoing the caller's own input
    /// as upstream does — except input that looks like a private key, which is never echoed, and
    /// input longer than 4 KiB, which is cut.
    static func invalidCSR(_ csrPEM: String) -> MagnumError {
        let shown: String
        if csrPEM.contains("PRIVATE KEY") {
            shown = "<redacted: the input looks like a private key>"
        } else if csrPEM.utf8.count > 4096 {
            shown = String(csrPEM.prefix(4096)) + "…"
        } else {
            shown = csrPEM
        }
        return MagnumError(.invalid, "Received invalid csr \(shown).")
    }
}
