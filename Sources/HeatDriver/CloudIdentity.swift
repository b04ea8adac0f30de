import Foundation
import MagnumCore
import NIOHTTP1

/// A Keystone token with the service catalog it came with.
struct ScopedToken: Sendable {
    /// The token (`X-Subject-Token`).
    var token: String
    /// When it expires.
    var expiresAt: Date
    /// The project it is scoped to.
    var projectID: String?
    /// The token's catalog (`token.catalog`).
    var catalog: [JSON]

    /// The URL of the first `interface` endpoint of a service of `type` (in `region` when
    /// given), or nil when the catalog has none.
    func endpoint(type: String, interface: String, region: String?) -> String? {
        for service in catalog where service["type"]?.stringValue == type {
            let endpoints = service["endpoints"]?.arrayValue ?? []
            let match = endpoints.first { e in
                e["interface"]?.stringValue == interface
                    && (region == nil || e["region_id"]?.stringValue == region || e["region"]?.stringValue == region)
            }
            if let url = match?["url"]?.stringValue { return url.hasSuffix("/") ? String(url.dropLast()) : url }
        }
        return nil
    }
}

/// Magnum's dealings with Keystone for a cloud driver: its service token, one trustee user per
/// cluster with a trust from the cluster's owner, trust-scoped tokens for the conductor's later
/// work (cached until five minutes before they expire), and their removal.
actor CloudIdentity {
    /// Where Keystone is and who Magnum is there.
    struct Configuration: Sendable {
        /// Keystone v3 URL, e.g. `http://127.0.0.1:5000/v3`.
        var authURL: String
        /// Magnum's service user (domain `Default`).
        var serviceUser: String
        /// Its password.
        var servicePassword: String
        /// The project of the service token.
        var serviceProject: String
        /// The domain (name) trustee users are created in.
        var trusteeDomain: String
        /// The catalog region to use (nil: any).
        var region: String?
        /// The endpoint interface to use (`public`, `internal`).
        var interface: String
        /// Whether trusts allow redelegation (lets the trustee create stacks, whose own trust
        /// Heat derives from it).
        var allowRedelegation: Bool
    }

    let configuration: Configuration
    let http = CloudHTTP(service: "Keystone")
    private var serviceToken: ScopedToken?
    private var trustTokens: [String: ScopedToken] = [:]
    private var trusteeDomainID: String?

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Magnum's own project-scoped token.
    func service() async throws -> ScopedToken {
        if let t = serviceToken, t.expiresAt > Date() + 300 { return t }
        let c = configuration
        let t = try await authenticate([
            "identity": ["methods": ["password"], "password": ["user": [
                "name": .string(c.serviceUser), "domain": ["id": "default"], "password": .string(c.servicePassword),
            ]]],
            "scope": ["project": ["name": .string(c.serviceProject), "domain": ["id": "default"]]],
        ])
        serviceToken = t
        return t
    }

    /// A token of the trustee `userID` scoped to `trustID` (the owner's project and roles).
    func trustToken(userID: String, password: String, trustID: String) async throws -> ScopedToken {
        if let t = trustTokens[trustID], t.expiresAt > Date() + 300 { return t }
        let t = try await authenticate([
            "identity": ["methods": ["password"], "password": ["user": ["id": .string(userID), "password": .string(password)]]],
            "scope": ["OS-TRUST:trust": ["id": .string(trustID)]],
        ])
        trustTokens[trustID] = t
        return t
    }

    /// The trustee user for a cluster: created in the trustee domain with `password`, or — when
    /// an earlier attempt created it — found by name and given `password` again.
    func ensureTrustee(name: String, password: String) async throws -> String {
        let token = try await service().token
        let domain = try await trusteeDomain(token)
        let user: JSON = ["user": ["name": .string(name), "domain_id": .string(domain), "password": .string(password),
                                   "description": "Magnum cluster trustee"]]
        let answer = try await http.send(.POST, configuration.authURL + "/users", token: token, body: user)
        if answer.status == 201, let id = answer.json?["user"]?["id"]?.stringValue { return id }
        guard answer.status == 409 else { throw http.failure(answer, .POST, configuration.authURL + "/users") }
        let found = try await http.json(.GET, configuration.authURL + "/users?domain_id=\(domain)&name=\(CloudHTTP.escape(name))", token: token)
        guard let id = found["users"]?.arrayValue?.first?["id"]?.stringValue else {
            throw MagnumError(.conflict, "Keystone reports trustee user \(name) exists but does not list it.")
        }
        _ = try await http.json(.PATCH, configuration.authURL + "/users/\(id)", token: token, body: ["user": ["password": .string(password)]])
        return id
    }

    /// A trust from the caller (the cluster's owner) to the trustee on `projectID` with the
    /// caller's `roles`, impersonating the caller; made with the caller's own token.
    func createTrust(callerToken: String, trustorUserID: String, trusteeUserID: String, projectID: String, roles: [String]) async throws -> String {
        var trust: [String: JSON] = [
            "trustor_user_id": .string(trustorUserID), "trustee_user_id": .string(trusteeUserID),
            "project_id": .string(projectID), "impersonation": true,
            "roles": .array(roles.map { ["name": .string($0)] }),
        ]
        if configuration.allowRedelegation { trust["allow_redelegation"] = true }
        let answer = try await http.send(.POST, configuration.authURL + "/OS-TRUST/trusts", token: callerToken, body: ["trust": .object(trust)])
        if answer.status == 401 || answer.status == 404 {
            throw MagnumError(.forbidden, "The token of the user who asked for this cluster is no longer valid (it expired before the conductor used it); create the cluster again.")
        }
        guard answer.status == 201, let id = answer.json?["trust"]?["id"]?.stringValue else {
            throw http.failure(answer, .POST, configuration.authURL + "/OS-TRUST/trusts")
        }
        return id
    }

    /// Deletes a trust (gone already is fine).
    func deleteTrust(_ trustID: String) async throws {
        trustTokens[trustID] = nil
        let token = try await service().token
        let answer = try await http.send(.DELETE, configuration.authURL + "/OS-TRUST/trusts/\(trustID)", token: token)
        guard [204, 404].contains(answer.status) else { throw http.failure(answer, .DELETE, configuration.authURL + "/OS-TRUST/trusts") }
    }

    /// Deletes a user (gone already is fine); Keystone removes the user's trusts with it.
    func deleteUser(_ userID: String) async throws {
        let token = try await service().token
        let answer = try await http.send(.DELETE, configuration.authURL + "/users/\(userID)", token: token)
        guard [204, 404].contains(answer.status) else { throw http.failure(answer, .DELETE, configuration.authURL + "/users") }
    }

    /// The trustee domain's ID, looked up by name once.
    private func trusteeDomain(_ token: String) async throws -> String {
        if let trusteeDomainID { return trusteeDomainID }
        let name = configuration.trusteeDomain
        let found = try await http.json(.GET, configuration.authURL + "/domains?name=\(CloudHTTP.escape(name))", token: token)
        guard let id = found["domains"]?.arrayValue?.first?["id"]?.stringValue else {
            throw MagnumError(.invalid, "The trustee domain \(name) does not exist in Keystone (create it, e.g. with `magnum bootstrap`, or set --trustee-domain).")
        }
        trusteeDomainID = id
        return id
    }

    /// POST /auth/tokens.
    private func authenticate(_ auth: JSON) async throws -> ScopedToken {
        let url = configuration.authURL + "/auth/tokens"
        let answer = try await http.send(.POST, url, token: nil, body: ["auth": auth])
        guard answer.status == 201, let token = answer.headers.first(name: "X-Subject-Token"), let body = answer.json else {
            if answer.status == 401 { throw MagnumError(.forbidden, "Keystone refused Magnum's credentials: \(answer.errorMessage)") }
            throw http.failure(answer, .POST, url)
        }
        return try Self.scopedToken(token, body)
    }

    /// A token from Keystone's token body.
    static func scopedToken(_ token: String, _ body: JSON) throws -> ScopedToken {
        let t = body["token"]
        let expires = t?["expires_at"]?.stringValue.flatMap(parseDate) ?? Date() + 3600
        return ScopedToken(token: token, expiresAt: expires, projectID: t?["project"]?["id"]?.stringValue,
                           catalog: t?["catalog"]?.arrayValue ?? [])
    }

    /// Keystone's `2026-12-06T04:00:00.000000Z`.
    static func parseDate(_ s: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: s)
    }
}
