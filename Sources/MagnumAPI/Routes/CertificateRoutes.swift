import MagnumCore

/// `/v1/certificates` (contract §4.5).
struct CertificateRoutes: Sendable {
    let service: CertificateService

    func route(_ method: String, _ s: [String]) -> Handler? {
        switch (method, s.count) {
        case ("GET", 2): return { req in
            try req.allowQuery(["ca_cert_type"])
            let (cluster, pem) = try await service.authority(s[1], caCertType: req.query("ca_cert_type"), req.context)
            return .ok(["cluster_uuid": .string(cluster), "pem": .string(pem), "links": Links.make(req.baseURL, "certificates/\(cluster)")])
        }
        case ("POST", 1): return { req in
            try req.allowQuery([])
            let signed = try await service.sign(req.body, req.context)
            var body: [String: JSON] = [
                "cluster_uuid": .string(signed.cluster), "csr": .string(signed.csr), "pem": .string(signed.pem),
                "links": Links.make(req.baseURL, "certificates/\(signed.cluster)"),
            ]
            if let t = signed.caCertType { body["ca_cert_type"] = .string(t) }
            return APIResponse(201, .object(body))
        }
        case ("PATCH", 2): return { req in
            try req.allowQuery([])
            return .accepted(uuid: try await service.rotate(s[1], req.context))
        }
        default: return nil
        }
    }
}
