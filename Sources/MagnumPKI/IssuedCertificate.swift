import MagnumCore

/// One certificate with its private key, both PEM. The key PEM is PKCS#8 ("PRIVATE KEY").
///
/// `description`, `debugDescription` and reflection (`dump`, `Mirror`) show the certificate's
/// subject, issuer and serial only: the private key never reaches a log line by accident.
public struct IssuedCertificate: Sendable, Hashable {
    /// The certificate, PEM ("CERTIFICATE").
    public var certificatePEM: String
    /// The unencrypted PKCS#8 private key, PEM ("PRIVATE KEY"). Seal it with ``KeyVault`` before storing it.
    public var privateKeyPEM: String

    /// Pairs a certificate with its private key.
    public init(certificatePEM: String, privateKeyPEM: String) {
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
    }

    /// What the certificate says about itself, or nil when the PEM does not parse.
    public var summary: CertificateSummary? {
        try? CertificateSummary(certificatePEM: certificatePEM)
    }
}

extension IssuedCertificate: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The subject, issuer and serial of the certificate; the private key is shown as `<redacted>`.
    public var description: String {
        let certificate = summary.map { "\($0)" } ?? "<unparseable certificate>"
        return "IssuedCertificate(\(certificate), privateKey: <redacted>)"
    }

    /// Same as ``description``.
    public var debugDescription: String { description }

    /// A mirror without the private key, so `dump` and string interpolation stay secret-free.
    public var customMirror: Mirror {
        Mirror(self, children: ["certificate": summary.map { "\($0)" } ?? "<unparseable>", "privateKey": "<redacted>"])
    }
}

/// The three certificate authorities every cluster has (`ca_cert_type` in `/v1/certificates`).
public enum CAKind: String, Sendable, CaseIterable {
    /// The cluster CA (`ca_cert_ref`): signs the API server, kubelet and Magnum's client certificate.
    case kubernetes
    /// The etcd CA (`etcd_ca_cert_ref`).
    case etcd
    /// The front-proxy (aggregation layer) CA (`front_proxy_ca_cert_ref`).
    case frontProxy = "front-proxy"

    /// The CA a `ca_cert_type` value selects (Core's one rule: `etcd`, `front_proxy` or
    /// `front-proxy`, anything else the cluster CA).
    public init(caCertType: String?) {
        switch CertificateKind.authority(forCACertType: caCertType) {
        case .etcd: self = .etcd
        case .frontProxy: self = .frontProxy
        case .kubernetes, .magnumClient: self = .kubernetes
        }
    }
}

/// Everything a cluster gets at create time and at CA rotation.
public struct ClusterCertificateSet: Sendable, Hashable {
    /// The cluster (kubernetes) CA.
    public var ca: IssuedCertificate
    /// The etcd CA.
    public var etcdCA: IssuedCertificate
    /// The front-proxy CA.
    public var frontProxyCA: IssuedCertificate
    /// Magnum's own client certificate (CN=admin, O=system:masters), signed by ``ca``.
    public var magnumClient: IssuedCertificate

    /// Groups the four certificates.
    public init(ca: IssuedCertificate, etcdCA: IssuedCertificate, frontProxyCA: IssuedCertificate, magnumClient: IssuedCertificate) {
        self.ca = ca
        self.etcdCA = etcdCA
        self.frontProxyCA = frontProxyCA
        self.magnumClient = magnumClient
    }

    /// The CA of the given kind.
    public func ca(_ kind: CAKind) -> IssuedCertificate {
        switch kind {
        case .kubernetes: return ca
        case .etcd: return etcdCA
        case .frontProxy: return frontProxyCA
        }
    }
}

extension ClusterCertificateSet: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The four certificates' summaries; no private key.
    public var description: String {
        "ClusterCertificateSet(ca: \(ca), etcdCA: \(etcdCA), frontProxyCA: \(frontProxyCA), magnumClient: \(magnumClient))"
    }

    /// Same as ``description``.
    public var debugDescription: String { description }

    /// A mirror whose children are the redacting ``IssuedCertificate`` descriptions.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "ca": ca.description, "etcdCA": etcdCA.description,
            "frontProxyCA": frontProxyCA.description, "magnumClient": magnumClient.description,
        ])
    }
}
