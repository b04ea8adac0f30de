import AsyncHTTPClient
import Foundation
import MagnumCore
import NIOCore
import NIOHTTP1

/// The cloud's own images, flavors, keypairs, networks and subnets, read from the services the
/// caller's token catalog lists (Glance `image`, Nova `compute`, Neutron `network`) with the
/// caller's token — what Magnum validates templates and clusters against when it runs with a
/// real Keystone. A service the catalog does not list, or a resource the cloud does not know,
/// is answered by `fallback` (the local catalog, where the local driver's images and flavors
/// live). Errors are the contract's (§3.2): unknown image, flavor or network → 400, a name
/// several resources share → 409, unknown keypair → 404; a service that cannot be reached or
/// answers 5xx → 503.
public struct CloudCatalog: Catalog {
    let fallback: any Catalog
    let timeout: TimeAmount

    /// Creates the catalog; `fallback` answers for services the token's catalog lacks.
    public init(fallback: any Catalog, timeout: TimeAmount = .seconds(30)) {
        self.fallback = fallback
        self.timeout = timeout
    }

    public func image(_ ident: String, _ context: RequestContext) async throws -> Image {
        try await cloudFirst("image", context, { try await cloudImage(ident, $0, context) }, orLocal: { try await fallback.image(ident, context) })
    }

    func cloudImage(_ ident: String, _ endpoint: String, _ context: RequestContext) async throws -> Image {
        let glance = endpoint
        let notFound = MagnumError(.invalid, "Image \(ident) could not be found.")
        let candidates = try await candidates("Glance", context, byID: glance + "/v2/images/" + Self.escape(ident), key: nil,
                                              list: glance + "/v2/images?name=" + Self.escape(ident), listKey: "images")
        let images = candidates.compactMap { i -> Image? in
            guard let id = i["id"]?.stringValue else { return nil }
            return Image(id: id, name: i["name"]?.stringValue ?? "", osDistro: i["os_distro"]?.stringValue,
                         magnumDriver: i["magnum_driver"]?.stringValue)
        }
        return try CatalogLookup.pick(images, ident, id: \.id, name: \.name, notFound: notFound, kind: "images", idWord: "image ID")
    }

    public func flavor(_ ident: String, _ context: RequestContext) async throws -> Flavor {
        try await cloudFirst("compute", context, { try await cloudFlavor(ident, $0, context) }, orLocal: { try await fallback.flavor(ident, context) })
    }

    func cloudFlavor(_ ident: String, _ endpoint: String, _ context: RequestContext) async throws -> Flavor {
        let nova = endpoint
        let notFound = MagnumError(.invalid, "Unable to find flavor \(ident).")
        let candidates = try await candidates("Nova", context, byID: nova + "/flavors/" + Self.escape(ident), key: "flavor",
                                              list: nova + "/flavors/detail?is_public=None", listKey: "flavors")
        let flavors = candidates.compactMap { f -> Flavor? in
            guard let id = f["id"]?.stringValue else { return nil }
            return Flavor(id: id, name: f["name"]?.stringValue ?? "", vcpus: f["vcpus"]?.intValue ?? 0,
                          ramMB: f["ram"]?.intValue ?? 0, diskGB: f["disk"]?.intValue ?? 0)
        }
        return try CatalogLookup.pick(flavors, ident, id: \.id, name: \.name, notFound: notFound, kind: "flavors", idWord: "flavor ID")
    }

    public func externalNetwork(_ ident: String, _ context: RequestContext) async throws -> Network {
        try await cloudFirst("network", context, { try await cloudExternalNetwork(ident, $0, context) }, orLocal: { try await fallback.externalNetwork(ident, context) })
    }

    func cloudExternalNetwork(_ ident: String, _ endpoint: String, _ context: RequestContext) async throws -> Network {
        let all = try await networks(ident, endpoint, context).filter(\.isExternal)
        return try CatalogLookup.pick(all, ident, id: \.id, name: \.name, notFound: MagnumError(.invalid, "Unable to find external network \(ident)."),
                                      kind: "external networks", idWord: "external network ID")
    }

    public func fixedNetwork(_ ident: String, _ context: RequestContext) async throws -> Network {
        try await cloudFirst("network", context, { try await cloudFixedNetwork(ident, $0, context) }, orLocal: { try await fallback.fixedNetwork(ident, context) })
    }

    func cloudFixedNetwork(_ ident: String, _ endpoint: String, _ context: RequestContext) async throws -> Network {
        return try CatalogLookup.pick(try await networks(ident, endpoint, context), ident, id: \.id, name: \.name,
                                      notFound: MagnumError(.invalid, "Unable to find fixed network \(ident)."),
                                      kind: "fixed networks", idWord: "fixed network ID")
    }

    public func fixedSubnet(_ ident: String, _ context: RequestContext) async throws -> Subnet {
        try await cloudFirst("network", context, { try await cloudFixedSubnet(ident, $0, context) }, orLocal: { try await fallback.fixedSubnet(ident, context) })
    }

    func cloudFixedSubnet(_ ident: String, _ endpoint: String, _ context: RequestContext) async throws -> Subnet {
        let neutron = endpoint
        let candidates = try await candidates("Neutron", context, byID: neutron + "/v2.0/subnets/" + Self.escape(ident), key: "subnet",
                                              list: neutron + "/v2.0/subnets?name=" + Self.escape(ident), listKey: "subnets")
        let subnets = candidates.compactMap { s -> Subnet? in
            guard let id = s["id"]?.stringValue else { return nil }
            return Subnet(id: id, name: s["name"]?.stringValue ?? "", networkID: s["network_id"]?.stringValue ?? "", cidr: s["cidr"]?.stringValue ?? "")
        }
        return try CatalogLookup.pick(subnets, ident, id: \.id, name: \.name, notFound: MagnumError(.invalid, "Unable to find fixed subnet \(ident)."),
                                      kind: "subnets", idWord: "subnet ID")
    }

    public func keypair(_ name: String, _ context: RequestContext) async throws -> Keypair {
        try await cloudFirst("compute", context, { try await cloudKeypair(name, $0, context) }, orLocal: { try await fallback.keypair(name, context) })
    }

    func cloudKeypair(_ name: String, _ endpoint: String, _ context: RequestContext) async throws -> Keypair {
        let nova = endpoint
        guard let k = try await get("Nova", nova + "/os-keypairs/" + Self.escape(name), context, missing: [404])?["keypair"] else {
            throw MagnumError(.notFound, "Unable to find keypair \(name).")
        }
        return Keypair(name: k["name"]?.stringValue ?? name, userID: k["user_id"]?.stringValue ?? context.userID ?? "",
                       publicKey: k["public_key"]?.stringValue ?? "", fingerprint: k["fingerprint"]?.stringValue ?? "")
    }

    /// The answer of the cloud's service of `type` (its endpoint from the token's catalog);
    /// the local catalog's when the token lists no such service, or when the cloud does not know
    /// the resource (400/404) and the local catalog does (the local driver's images and flavors
    /// live there), else the cloud's error.
    func cloudFirst<T: Sendable>(_ type: String, _ context: RequestContext, _ cloud: (String) async throws -> T,
                                 orLocal local: () async throws -> T) async throws -> T {
        guard let endpoint = context.serviceEndpoints[type] else { return try await local() }
        do {
            return try await cloud(endpoint)
        } catch let error as MagnumError where error.code == .invalid || error.code == .notFound {
            guard let found = try? await local() else { throw error }
            return found
        }
    }

    public func projectExists(_ projectID: String, _ context: RequestContext) async throws -> Bool {
        try await fallback.projectExists(projectID, context)
    }

    /// Networks by ID, else by name.
    func networks(_ ident: String, _ neutron: String, _ context: RequestContext) async throws -> [Network] {
        let candidates = try await candidates("Neutron", context, byID: neutron + "/v2.0/networks/" + Self.escape(ident), key: "network",
                                              list: neutron + "/v2.0/networks?name=" + Self.escape(ident), listKey: "networks")
        return candidates.compactMap { n in
            guard let id = n["id"]?.stringValue else { return nil }
            return Network(id: id, name: n["name"]?.stringValue ?? "", isExternal: n["router:external"]?.boolValue ?? false)
        }
    }

    /// The resource `byID` answers (its body's `key`, or the body itself), else the list `list`
    /// answers under `listKey` (by name); the caller picks among them.
    func candidates(_ service: String, _ context: RequestContext, byID: String, key: String?, list: String, listKey: String) async throws -> [JSON] {
        if let one = try await get(service, byID, context, missing: [404]) {
            if let key { if let item = one[key] { return [item] } } else { return [one] }
        }
        return try await get(service, list, context)?[listKey]?.arrayValue ?? []
    }

    /// GET with the caller's token: the JSON body on 200, nil on a status in `missing`;
    /// unreachable or 5xx → 503, refused → 403, anything else → 400 with the service's words.
    func get(_ service: String, _ url: String, _ context: RequestContext, missing: Set<Int> = []) async throws -> JSON? {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        if let token = context.authToken { request.headers.add(name: "X-Auth-Token", value: token) }
        if !context.requestID.isEmpty { request.headers.add(name: "X-OpenStack-Request-ID", value: context.requestID) }
        let status: Int
        let body: String
        do {
            let response = try await HTTPClient.cloud.execute(request, timeout: timeout)
            status = Int(response.status.code)
            body = String(buffer: try await response.body.collect(upTo: 16 << 20))
        } catch {
            throw MagnumError(.unavailable, "The \(service) service at \(url) could not be reached: \(error)")
        }
        if status == 200 {
            guard let json = try? JSON.parse(string: body) else { throw MagnumError(.unavailable, "The \(service) service answered an unreadable body to GET \(url).") }
            return json
        }
        if missing.contains(status) { return nil }
        switch status {
        case 500...: throw MagnumError(.unavailable, "The \(service) service answered \(status) to GET \(url).")
        case 401, 403: throw MagnumError(.forbidden, "The \(service) service refused the request for \(url) (\(status)).")
        default: throw MagnumError(.invalid, "The \(service) service answered \(status) to GET \(url).")
        }
    }

    /// `s` escaped for a path segment or a query value.
    static func escape(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")) ?? s
    }
}
