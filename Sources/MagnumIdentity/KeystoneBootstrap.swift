import AsyncHTTPClient
import Foundation
import Logging
import MagnumCore
import NIOCore
import NIOHTTP1

/// Registers Magnum in a real Keystone, the way an operator does with `openstack service create`
/// and `openstack endpoint create`: the `container-infra` service and, because Magnum serves its
/// local catalog over Nova/Glance/Neutron-compatible paths, `compute`, `image` and `network` —
/// each with public, internal and admin endpoints in one region. Optionally it also makes sure
/// the service user Magnum validates tokens with exists (with `admin` and `service` on the service
/// project). Every step looks before it writes, so running it twice changes nothing.
public struct KeystoneBootstrap: Sendable {
    /// Who to act as, and what to register.
    public struct Configuration: Sendable {
        /// Keystone v3 URL.
        public var authURL: String
        /// An admin user (domain Default).
        public var adminUser: String
        /// Its password.
        public var adminPassword: String
        /// The project its token is scoped to (domain Default).
        public var adminProject: String
        /// Magnum's public base URL, e.g. `http://127.0.0.1:9511`.
        public var publicURL: String
        /// Region of the endpoints.
        public var region: String
        /// Service user to ensure, with its password (nil: leave users alone).
        public var serviceUser: (name: String, password: String, project: String)?
        /// Domain (name) of the clusters' trustee users to ensure (nil: leave domains alone).
        public var trusteeDomain: String?

        /// Creates a configuration.
        public init(authURL: String, adminUser: String, adminPassword: String, adminProject: String,
                    publicURL: String, region: String = "RegionOne",
                    serviceUser: (name: String, password: String, project: String)? = nil, trusteeDomain: String? = nil)
        {
            self.trusteeDomain = trusteeDomain
            self.authURL = Self.trimmed(authURL)
            self.adminUser = adminUser
            self.adminPassword = adminPassword
            self.adminProject = adminProject
            self.publicURL = Self.trimmed(publicURL)
            self.region = region
            self.serviceUser = serviceUser
        }

        static func trimmed(_ url: String) -> String {
            var u = url
            while u.hasSuffix("/") { u.removeLast() }
            return u
        }
    }

    /// One catalog entry Magnum serves: service type, name and the URL under Magnum's base.
    public struct Registration: Sendable, Equatable {
        public var type: String
        public var name: String
        public var url: String
    }

    /// What `bootstrap` registers for `publicURL`.
    public static func registrations(publicURL: String) -> [Registration] {
        [
            .init(type: "container-infra", name: "magnum", url: publicURL + "/v1"),
            .init(type: "compute", name: "nova", url: publicURL + "/compute/v2.1"),
            .init(type: "image", name: "glance", url: publicURL + "/image"),
            .init(type: "network", name: "neutron", url: publicURL + "/network"),
        ]
    }

    /// The configuration.
    public let configuration: Configuration
    let logger: Logger

    /// Creates the bootstrapper.
    public init(configuration: Configuration, logger: Logger = Logger(label: "magnum.bootstrap")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Registers everything; returns one line per change made (empty when all was in place).
    public func run() async throws -> [String] {
        var http = HTTPClient.Configuration()
        // A refused connection is retried until the connect timeout: fail an unreachable
        // Keystone within seconds.
        http.timeout = .init(connect: .seconds(3), read: .seconds(30))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
        do {
            var session = Session(client: client, configuration: configuration)
            let changes = try await session.run()
            try await client.shutdown()
            return changes
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// One authenticated conversation with Keystone.
    struct Session {
        let client: HTTPClient
        let configuration: Configuration
        var token = ""
        var changes: [String] = []

        init(client: HTTPClient, configuration: Configuration) {
            self.client = client
            self.configuration = configuration
        }

        mutating func run() async throws -> [String] {
            token = try await authenticate()
            for registration in KeystoneBootstrap.registrations(publicURL: configuration.publicURL) {
                try await ensure(registration)
            }
            if let user = configuration.serviceUser {
                try await ensureServiceUser(name: user.name, password: user.password, projectName: user.project)
            }
            if let domain = configuration.trusteeDomain {
                _ = try await ensureNamed("domains", domain, ["domain": [
                    "name": .string(domain), "description": "Trustee users of Magnum's clusters (Heat driver)",
                ]])
            }
            return changes
        }

        func authenticate() async throws -> String {
            let c = configuration
            let body: JSON = ["auth": [
                "identity": ["methods": ["password"], "password": ["user": [
                    "name": .string(c.adminUser), "domain": ["id": "default"], "password": .string(c.adminPassword),
                ]]],
                "scope": ["project": ["name": .string(c.adminProject), "domain": ["id": "default"]]],
            ]]
            let (status, headers, _) = try await call(.POST, "/auth/tokens", body: body, authenticated: false)
            guard status == 201, let token = headers.first(name: "X-Subject-Token") else {
                throw MagnumError(.unauthorized, "Keystone refused the admin credentials of \(c.adminUser) (HTTP \(status))")
            }
            return token
        }

        mutating func ensure(_ r: Registration) async throws {
            let services = try await get("/services?type=\(r.type)")["services"]?.arrayValue ?? []
            let serviceID: String
            if let existing = services.first(where: { $0["name"]?.stringValue == r.name }) ?? services.first,
               let id = existing["id"]?.stringValue
            {
                serviceID = id
            } else {
                let created = try await send(.POST, "/services", ["service": ["type": .string(r.type), "name": .string(r.name), "enabled": true]])
                guard let id = created["service"]?["id"]?.stringValue else { throw unreadable("POST /services") }
                serviceID = id
                changes.append("created service \(r.name) (\(r.type))")
            }
            let endpoints = try await get("/endpoints?service_id=\(serviceID)")["endpoints"]?.arrayValue ?? []
            for interface in ["public", "internal", "admin"] {
                let mine = endpoints.filter {
                    $0["interface"]?.stringValue == interface
                        && ($0["region_id"]?.stringValue ?? $0["region"]?.stringValue) == configuration.region
                }
                if let e = mine.first, let id = e["id"]?.stringValue {
                    if e["url"]?.stringValue != r.url {
                        _ = try await send(.PATCH, "/endpoints/\(id)", ["endpoint": ["url": .string(r.url)]])
                        changes.append("updated \(interface) endpoint of \(r.type) to \(r.url)")
                    }
                } else {
                    _ = try await send(.POST, "/endpoints", ["endpoint": [
                        "service_id": .string(serviceID), "interface": .string(interface),
                        "region_id": .string(configuration.region), "url": .string(r.url), "enabled": true,
                    ]])
                    changes.append("created \(interface) endpoint of \(r.type) at \(r.url)")
                }
            }
        }

        mutating func ensureServiceUser(name: String, password: String, projectName: String) async throws {
            let project = try await ensureNamed("projects", projectName, ["project": ["name": .string(projectName), "domain_id": "default"]])
            let user = try await ensureNamed("users", name, ["user": [
                "name": .string(name), "domain_id": "default", "password": .string(password), "default_project_id": .string(project),
            ]])
            for role in ["admin", "service"] {
                let roleID = try await ensureNamed("roles", role, ["role": ["name": .string(role)]])
                _ = try await send(.PUT, "/projects/\(project)/users/\(user)/roles/\(roleID)", nil)
            }
        }

        /// The id of the named entity of a collection, created from `body` when missing.
        mutating func ensureNamed(_ collection: String, _ name: String, _ body: JSON) async throws -> String {
            let query = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? name
            if let id = try await get("/\(collection)?name=\(query)")[collection]?.arrayValue?.first?["id"]?.stringValue {
                return id
            }
            let created = try await send(.POST, "/\(collection)", body)
            guard let id = created[String(collection.dropLast())]?["id"]?.stringValue else { throw unreadable("POST /\(collection)") }
            changes.append("created \(collection.dropLast()) \(name)")
            return id
        }

        func get(_ path: String) async throws -> JSON {
            try await send(.GET, path, nil)
        }

        func send(_ method: HTTPMethod, _ path: String, _ body: JSON?) async throws -> JSON {
            let (status, _, data) = try await call(method, path, body: body, authenticated: true)
            guard (200..<300).contains(status) else {
                let text = String(decoding: data.prefix(300), as: UTF8.self)
                throw MagnumError(.invalid, "Keystone answered \(method.rawValue) \(path) with HTTP \(status): \(text)")
            }
            if data.isEmpty { return .object([:]) }
            return try JSON.parse(Array(data))
        }

        func call(_ method: HTTPMethod, _ path: String, body: JSON?, authenticated: Bool) async throws -> (Int, HTTPHeaders, Data) {
            var request = HTTPClientRequest(url: configuration.authURL + path)
            request.method = method
            request.headers.add(name: "Accept", value: "application/json")
            if authenticated { request.headers.add(name: "X-Auth-Token", value: token) }
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: body.serialized()))
            }
            do {
                let response = try await client.execute(request, timeout: .seconds(30))
                let buffer = try await response.body.collect(upTo: 8 << 20)
                return (Int(response.status.code), response.headers, Data(buffer.readableBytesView))
            } catch {
                throw MagnumError(.unavailable, "Keystone at \(configuration.authURL) is unreachable: \(error)")
            }
        }

        func unreadable(_ what: String) -> MagnumError {
            MagnumError(.invalid, "Keystone's answer to \(what) is unreadable")
        }
    }
}
