import AsyncHTTPClient
import MagnumCore
import NIOCore
import NIOSSL

/// What Magnum presents to a cluster's own API (the Kubernetes API server, a node's Docker
/// Engine) as the cluster's administrator: the cluster CA it trusts, and Magnum's client
/// certificate and key, as `coe cluster config` gives a user.
public struct AdminCredentials: Sendable, Equatable {
    /// The cluster CA (PEM): the only root the client trusts.
    public var caPEM: String
    /// Magnum's client certificate (PEM, CN=admin, O=system:masters).
    public var certificatePEM: String
    /// Its private key (PEM, in clear: keep it in memory only, or in a 0600 file).
    public var keyPEM: String

    /// Creates credentials from PEM texts.
    public init(caPEM: String, certificatePEM: String, keyPEM: String) {
        self.caPEM = caPEM
        self.certificatePEM = certificatePEM
        self.keyPEM = keyPEM
    }

    /// An HTTPS client that trusts only the cluster CA and presents Magnum's client certificate;
    /// `shutdown()` it when done. `verifyHostname: false` accepts any certificate the cluster CA
    /// signed whatever address it names (a cluster reached through a floating IP or a load
    /// balancer its certificates may not list). `retryConnecting: false` fails a request at once
    /// when its connection is refused, instead of retrying until `connectTimeout`.
    public func httpClient(connectTimeout: TimeAmount, readTimeout: TimeAmount, verifyHostname: Bool = true,
                           retryConnecting: Bool = true) throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem))
        } catch {
            throw MagnumError(.internal, "The cluster's credentials could not be loaded: \(error)")
        }
        if !verifyHostname { tls.certificateVerification = .noHostnameVerification }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: connectTimeout, read: readTimeout)
        configuration.connectionPool = .init(idleTimeout: .seconds(5))
        configuration.connectionPool.retryConnectionEstablishment = retryConnecting
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }
}
