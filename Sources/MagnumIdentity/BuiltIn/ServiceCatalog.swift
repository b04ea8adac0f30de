import Crypto
import Foundation
import MagnumCore

/// The service catalog of the all-in-one server: every service is this server under a path of
/// its public URL, in one region, with public, internal and admin endpoints.
public struct ServiceCatalog: Sendable, Hashable {
    /// One service of the catalog.
    public struct Service: Sendable, Hashable {
        /// Stable id (derived from the type).
        public var id: String
        /// `identity`, `container-infra`, `compute`, `image` or `network`.
        public var type: String
        /// `keystone`, `magnum`, `nova`, `glance` or `neutron`.
        public var name: String
        /// The endpoint URL (the same for every interface).
        public var url: String
    }

    /// The region every endpoint is in.
    public var region: String
    /// The services.
    public var services: [Service]

    /// Interfaces every service has an endpoint for.
    public static let interfaces = ["public", "internal", "admin"]

    /// The catalog of a server reachable at `publicURL` (`http://127.0.0.1:9511`).
    public init(publicURL: String, region: String = "RegionOne") {
        var base = publicURL
        while base.hasSuffix("/") { base.removeLast() }
        self.region = region
        let entries: [(String, String, String)] = [
            ("identity", "keystone", "\(base)/identity/v3"),
            ("container-infra", "magnum", "\(base)/v1"),
            ("compute", "nova", "\(base)/compute/v2.1"),
            ("image", "glance", "\(base)/image"),
            ("network", "neutron", "\(base)/network"),
        ]
        services = entries.map { Service(id: Self.stableID("service", $0.0), type: $0.0, name: $0.1, url: $0.2) }
    }

    /// The id of an endpoint of a service.
    public static func endpointID(_ service: Service, _ interface: String) -> String {
        stableID("endpoint", service.type + "/" + interface)
    }

    /// A Keystone-looking id (32 hex digits) that is the same on every start.
    static func stableID(_ kind: String, _ key: String) -> String {
        SHA256.hash(data: Array("magnum-catalog/\(kind)/\(key)".utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    /// The `catalog` of a token (and of `GET /v3/auth/catalog`).
    public var tokenCatalog: JSON {
        .array(services.map { s in
            ["id": .string(s.id), "type": .string(s.type), "name": .string(s.name),
             "endpoints": .array(Self.interfaces.map { i in
                 ["id": .string(Self.endpointID(s, i)), "interface": .string(i), "region": .string(region),
                  "region_id": .string(region), "url": .string(s.url)]
             })]
        })
    }

    /// `GET /v3/services` entries.
    public func serviceViews(_ v3: String) -> [JSON] {
        services.map { s in
            ["id": .string(s.id), "type": .string(s.type), "name": .string(s.name), "enabled": true, "description": .string("\(s.name) (built in)"),
             "links": ["self": .string("\(v3)/services/\(s.id)")]]
        }
    }

    /// `GET /v3/endpoints` entries.
    public func endpointViews(_ v3: String) -> [JSON] {
        services.flatMap { s in
            Self.interfaces.map { i -> JSON in
                let id = Self.endpointID(s, i)
                return ["id": .string(id), "interface": .string(i), "region": .string(region), "region_id": .string(region),
                        "service_id": .string(s.id), "url": .string(s.url), "enabled": true,
                        "links": ["self": .string("\(v3)/endpoints/\(id)")]]
            }
        }
    }

    /// `GET /v3/regions` entries.
    public func regionViews(_ v3: String) -> [JSON] {
        [["id": .string(region), "description": "", "parent_region_id": nil, "links": ["self": .string("\(v3)/regions/\(region)")]]]
    }
}
