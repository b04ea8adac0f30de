import MagnumCore
import MagnumStore

/// Certificate use cases (contract §4.5, §8.6): a cluster's CA certificates, CSR signing and
/// CA rotation. Admins reach only their own project's clusters here, as upstream.
struct CertificateService {
    let env: APIEnvironment

    /// The PEM of one of the cluster's CAs, and the cluster's UUID.
    func authority(_ ident: String, caCertType: String?, _ ctx: RequestContext) async throws -> (cluster: String, pem: String) {
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: nil)
        let (c, stored) = try await env.store.read { session in
            let c = try await Lookup.cluster(session, ident, vis)
            return (c, try await session.certificates(clusterUUID: c.uuid))
        }
        try env.policy.enforce("certificate:get", ctx, target: PolicyTarget(projectID: c.projectID, userID: c.userID))
        let kind = CertificateKind.authority(forCACertType: caCertType)
        guard let ca = stored.first(where: { $0.kind == kind }) else { throw Self.missing(kind, c) }
        return (c.uuid, ca.certificatePEM)
    }

    static let signSchema = ResourceSchema(argument: "certificate", fields: [
        FieldSpec("cluster_uuid", .string(min: 1, max: 255), mandatory: true),
        FieldSpec("csr", .string(min: 1, max: 65536), mandatory: true),
        FieldSpec("ca_cert_type", .string(min: 1, max: 255)),
        FieldSpec("pem", .string(min: 0, max: 65536)),
    ])

    /// `POST /v1/certificates`: the CSR signed by the chosen CA of the cluster.
    func sign(_ body: JSON?, _ ctx: RequestContext) async throws -> (cluster: String, csr: String, pem: String, caCertType: String?) {
        let fields = try Self.signSchema.decode(body)
        let ident = fields["cluster_uuid"]?.stringValue ?? ""
        let csr = fields["csr"]?.stringValue ?? ""
        let caCertType = fields["ca_cert_type"]?.stringValue
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: nil)
        let (c, stored): (Cluster, [ClusterCertificate])
        do {
            (c, stored) = try await env.store.read { session in
                let c = try await Lookup.cluster(session, ident, vis)
                return (c, try await session.certificates(clusterUUID: c.uuid))
            }
        } catch let e as MagnumError where e.code == .notFound {
            // Upstream answers an unknown cluster in the body with 400, not 404.
            throw MagnumError(.invalid, e.message)
        }
        try env.policy.enforce("certificate:create", ctx, target: PolicyTarget(projectID: c.projectID, userID: c.userID))
        let kind = CertificateKind.authority(forCACertType: caCertType)
        guard let ca = stored.first(where: { $0.kind == kind }) else { throw Self.missing(kind, c) }
        let pem = try await env.certificates.sign(csrPEM: csr, with: ca, issuerName: c.name ?? c.uuid)
        env.logger.info("certificate signed", metadata: ["cluster_id": .string(c.uuid), "ca": .string(kind.rawValue), "request_id": .string(ctx.requestID)])
        return (c.uuid, csr, pem, caCertType)
    }

    /// `PATCH /v1/certificates/{c}`: new CAs and client certificate now, and a CA-rotation
    /// operation the driver completes (the cluster is UPDATE_IN_PROGRESS meanwhile).
    func rotate(_ ident: String, _ ctx: RequestContext) async throws -> String {
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: nil)
        let (c, template) = try await env.store.read { session in
            let c = try await Lookup.cluster(session, ident, vis)
            return (c, try await session.clusterTemplates(matching: .uuid(c.clusterTemplateID), .everything).first)
        }
        try env.policy.enforce("certificate:rotate_ca", ctx, target: PolicyTarget(projectID: c.projectID, userID: c.userID))
        if template?.tlsDisabled == true {
            throw MagnumError(.notSupported, "Rotating the CA certificate on a non-TLS cluster is not supported")
        }
        try ClusterRules.checkState(c, allowed: OperationGate.rotateCA, verb: "Rotating the CA certificate of")
        if let template { try OperationStart.requireDriverSupport(.rotateCA, template: template, env) }
        // Key generation is slow: done before the transaction, which re-checks the state.
        let fresh = try await env.certificates.issueCertificateSet(clusterName: c.name, clusterUUID: c.uuid)
        try await env.store.write { session in
            let current = try await Lookup.cluster(session, c.uuid, vis)
            try ClusterRules.checkState(current, allowed: OperationGate.rotateCA, verb: "Rotating the CA certificate of")
            try await session.replaceCertificates(clusterUUID: c.uuid, with: fresh)
            try await OperationStart.record(session, env, cluster: current, kind: .caRotate, ctx)
        }
        env.logger.info("CA rotation accepted", metadata: ["cluster_id": .string(c.uuid), "request_id": .string(ctx.requestID)])
        return c.uuid
    }

    /// A cluster without the requested certificate (created before certificates existed).
    static func missing(_ kind: CertificateKind, _ c: Cluster) -> MagnumError {
        MagnumError(.notFound, "The \(kind.rawValue) CA certificate of cluster \(c.uuid) could not be found.")
    }
}
