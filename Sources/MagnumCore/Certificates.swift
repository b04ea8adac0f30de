/// Which of a cluster's certificates a stored item is (contract §8.6): its three CAs and the
/// client certificate Magnum itself uses.
public enum CertificateKind: String, Sendable, Hashable, CaseIterable {
    /// The cluster CA (`ca_cert_type` kubernetes, the default).
    case kubernetes
    /// The etcd CA.
    case etcd
    /// The front-proxy CA.
    case frontProxy = "front-proxy"
    /// Magnum's own client certificate (CN=admin, O=system:masters), signed by the cluster CA.
    case magnumClient = "magnum-client"

    /// The CA a `ca_cert_type` query or body value selects: `etcd`, `front_proxy`/`front-proxy`,
    /// anything else (or nothing) the cluster CA — as upstream.
    public static func authority(forCACertType value: String?) -> CertificateKind {
        switch value {
        case "etcd": return .etcd
        case "front_proxy", "front-proxy": return .frontProxy
        default: return .kubernetes
        }
    }
}

/// One stored certificate of a cluster: the PEM certificate and its private key sealed under
/// the key-encryption key (never stored or shown in clear).
public struct ClusterCertificate: Sendable, Hashable {
    public var clusterUUID: String
    public var kind: CertificateKind
    public var certificatePEM: String
    /// The private key, sealed (AES-GCM) under the key-encryption key and bound to the cluster
    /// and kind.
    public var sealedPrivateKey: [UInt8]

    /// Creates a stored certificate.
    public init(clusterUUID: String, kind: CertificateKind, certificatePEM: String, sealedPrivateKey: [UInt8]) {
        self.clusterUUID = clusterUUID
        self.kind = kind
        self.certificatePEM = certificatePEM
        self.sealedPrivateKey = sealedPrivateKey
    }
}

extension ClusterCertificate: CustomStringConvertible {
    /// Names the certificate; the sealed key is never printed.
    public var description: String { "ClusterCertificate(\(clusterUUID), \(kind.rawValue))" }
}

/// Issues and uses clusters' certificates (the boundary the API and conductor see; the real
/// implementation is MagnumPKI's, with keys sealed by a key vault).
public protocol CertificateAuthority: Sendable {
    /// A fresh set for a cluster: the three CAs and Magnum's client certificate, keys sealed.
    func issueCertificateSet(clusterName: String?, clusterUUID: String) async throws -> [ClusterCertificate]

    /// Signs a PEM CSR with `authority` (one of the cluster's CAs) following Magnum's extension
    /// rules; returns the certificate PEM (no trailing newline). Bad input throws
    /// `MagnumError(.invalid, …)`.
    func sign(csrPEM: String, with authority: ClusterCertificate, issuerName: String) async throws -> String

    /// Seals a secret (e.g. a user's token recorded for the conductor) with the key that seals
    /// the clusters' private keys, bound to `context`; base64.
    func seal(secret: String, context: String) throws -> String
}
