import Foundation
import MagnumCore

/// The real `CertificateAuthority`: `ClusterPKI` issues and signs, and every private key is
/// sealed by the `KeyVault` before it leaves this type (bound to its cluster and kind, so a
/// sealed key copied onto another cluster's row does not open).
public struct SealedCertificateAuthority: CertificateAuthority {
    let pki: ClusterPKI
    let vault: KeyVault

    /// Creates the authority.
    public init(pki: ClusterPKI, vault: KeyVault) {
        self.pki = pki
        self.vault = vault
    }

    /// The associated data a key of `kind` of `clusterUUID` is sealed with.
    static func context(_ clusterUUID: String, _ kind: CertificateKind) -> String {
        "cluster:\(clusterUUID):\(kind.rawValue)"
    }

    public func issueCertificateSet(clusterName: String?, clusterUUID: String) async throws -> [ClusterCertificate] {
        let set = try pki.issueCertificateSet(clusterName: clusterName, clusterUUID: clusterUUID)
        let items: [(CertificateKind, IssuedCertificate)] = [
            (.kubernetes, set.ca), (.etcd, set.etcdCA), (.frontProxy, set.frontProxyCA), (.magnumClient, set.magnumClient),
        ]
        return try items.map { kind, issued in
            ClusterCertificate(clusterUUID: clusterUUID, kind: kind, certificatePEM: issued.certificatePEM,
                               sealedPrivateKey: try vault.seal(issued.privateKeyPEM, context: Self.context(clusterUUID, kind)))
        }
    }

    public func sign(csrPEM: String, with authority: ClusterCertificate, issuerName: String) async throws -> String {
        let key = try vault.open(authority.sealedPrivateKey, context: Self.context(authority.clusterUUID, authority.kind))
        return try pki.sign(csrPEM: csrPEM, with: IssuedCertificate(certificatePEM: authority.certificatePEM, privateKeyPEM: key),
                            issuerName: issuerName)
    }

    /// The clear certificate and key of one stored item, for the parts of Magnum that present
    /// it (drivers talking to a cluster as its admin).
    public func open(_ stored: ClusterCertificate) throws -> IssuedCertificate {
        IssuedCertificate(certificatePEM: stored.certificatePEM,
                          privateKeyPEM: try vault.open(stored.sealedPrivateKey, context: Self.context(stored.clusterUUID, stored.kind)))
    }

    /// A server certificate for a node of the cluster, signed by the stored CA `authority`;
    /// returned in clear for the node that presents it. Its key is ECDSA P-256 whatever the
    /// CAs' key type: nodes' keys stay on the host that runs them, and are made on every node
    /// start (an RSA key costs tens to hundreds of milliseconds each).
    public func issueServerCertificate(signedBy authority: ClusterCertificate, commonName: String,
                                       ipAddresses: [String], dnsNames: [String]) throws -> IssuedCertificate {
        var configuration = pki.configuration
        configuration.keyType = .ecdsaP256
        return try ClusterPKI(configuration: configuration).issueServerCertificate(
            signedBy: open(authority), commonName: commonName, ipAddresses: ipAddresses, dnsNames: dnsNames)
    }

    public func seal(secret: String, context: String) throws -> String {
        Data(try vault.seal(secret, context: context)).base64EncodedString()
    }

    /// Opens a secret sealed by ``seal(secret:context:)`` with the same `context`.
    public func open(secret: String, context: String) throws -> String {
        guard let sealed = Data(base64Encoded: secret) else {
            throw MagnumError(.internal, "Could not decrypt the stored secret for \(context).")
        }
        return try vault.open([UInt8](sealed), context: context)
    }
}
