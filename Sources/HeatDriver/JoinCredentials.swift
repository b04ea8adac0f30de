import AsyncHTTPClient
import Foundation
import MagnumCore
import MagnumDrivers
import NIOCore

/// The short-lived credentials one rendering of user data gives the nodes it starts: the
/// cluster trust's Keystone token (to have their CSRs signed by Magnum) and, for Kubernetes,
/// one kubeadm bootstrap token and certificate key shared by the masters and workers of that
/// rendering, valid for two hours.
struct JoinCredentials: Sendable {
    /// The trust's Keystone token (`BOOTSTRAP_TOKEN`).
    var keystoneToken: String
    /// The kubeadm bootstrap token (`<id>.<secret>`).
    var kubeadmToken: String
    /// kubeadm's certificate key, for masters joining the control plane.
    var certificateKey: String
    /// When the kubeadm token expires.
    var kubeadmExpiry: Date

    /// How long a kubeadm token lives: the first master's `kubeadm init` gives it this TTL, and a
    /// token registered for a resize expires after as long.
    static let kubeadmLifetime: TimeInterval = 2 * 3600

    /// Fresh kubeadm secrets with the trust's token.
    static func fresh(keystoneToken: String, now: Date = Date()) -> JoinCredentials {
        JoinCredentials(keystoneToken: keystoneToken, kubeadmToken: NodeBootstrap.kubeadmToken(),
                        certificateKey: NodeBootstrap.randomHex(bytes: 32), kubeadmExpiry: now + kubeadmLifetime)
    }

    /// The bootstrap-token Secret that makes `kubeadmToken` valid in a running cluster (what
    /// `kubeadm token create` writes): authentication and signing usages, kubeadm's node group.
    var bootstrapTokenSecret: JSON {
        let parts = kubeadmToken.split(separator: ".", maxSplits: 1).map(String.init)
        let id = parts.first ?? "", secret = parts.count > 1 ? parts[1] : ""
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return .object([
            "apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": .object(["name": .string("bootstrap-token-" + id), "namespace": "kube-system"]),
            "stringData": .object([
                "token-id": .string(id), "token-secret": .string(secret),
                "expiration": .string(formatter.string(from: kubeadmExpiry)),
                "usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true",
                "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token",
                "description": "Magnum: joins the nodes of one resize or nodegroup",
            ]),
        ])
    }
}

extension HeatDriver {
    /// Credentials for nodes added to a running cluster. For Kubernetes the new kubeadm token is
    /// registered through the cluster's API first (the one `kubeadm init` made has expired or
    /// will); the API not answering is a transient failure, retried by the conductor.
    func joinCredentials(_ spec: ClusterSpec, trust: ScopedToken, apiAddress: String?) async throws -> JoinCredentials {
        let credentials = JoinCredentials.fresh(keystoneToken: trust.token)
        guard try Self.coe(spec) == "kubernetes" else { return credentials }
        guard let api = apiAddress, !api.isEmpty else {
            throw MagnumError(.unavailable, "The cluster has no Kubernetes API address yet; new nodes cannot be given a join token.")
        }
        guard let http = try adminClient(spec) else {
            throw MagnumError(.internal, "Cluster \(spec.cluster.uuid) has no certificates to reach its Kubernetes API with.")
        }
        let base = api.hasSuffix("/") ? String(api.dropLast()) : api
        let answer: Result<(Int, String), any Error>
        do {
            answer = .success(try await ClusterAPI(client: http).send(.POST, base + "/api/v1/namespaces/kube-system/secrets",
                                                                      json: credentials.bootstrapTokenSecret))
        } catch {
            let message = (error as? MagnumError)?.message ?? String(describing: error)
            answer = .failure(MagnumError(.unavailable, "A join token could not be registered with the cluster's Kubernetes API: \(message)"))
        }
        try? await http.shutdown()
        let (status, body) = try answer.get()
        switch status {
        case 200, 201, 409: return credentials
        case 500...: throw MagnumError(.unavailable, "The cluster's Kubernetes API answered \(status) to a join token: \(body.prefix(200))")
        default: throw MagnumError(.internal, "The cluster's Kubernetes API refused a join token (\(status)): \(body.prefix(200))")
        }
    }

    /// An HTTPS client that talks to the cluster's API as Magnum's administrator (any
    /// certificate of the cluster CA is accepted whatever address it names); nil when the cluster
    /// has no certificates. The caller shuts it down.
    func adminClient(_ spec: ClusterSpec) throws -> HTTPClient? {
        guard let ca = spec.certificate(.kubernetes), let stored = spec.certificate(.magnumClient) else { return nil }
        let client = try authority.open(stored)
        return try AdminCredentials(caPEM: ca.certificatePEM, certificatePEM: client.certificatePEM, keyPEM: client.privateKeyPEM)
            .httpClient(connectTimeout: .seconds(5), readTimeout: .seconds(15), verifyHostname: false, retryConnecting: false)
    }
}
