import Foundation
import HTTPTypes
import Hummingbird
import MagnumCore
import MagnumStore

/// An error of an OpenStack-compatible catalog route, already in its service's body shape.
struct CatalogError: Error, Sendable {
    var status: Int
    var body: JSON

    /// Nova's `{"<kind>": {"code", "message"}}`.
    static func nova(_ status: Int, _ message: String) -> CatalogError {
        let kind: String
        switch status {
        case 400: kind = "badRequest"
        case 403: kind = "forbidden"
        case 404: kind = "itemNotFound"
        case 405: kind = "badMethod"
        case 409: kind = "conflictingRequest"
        default: kind = "computeFault"
        }
        return CatalogError(status: status, body: [kind: ["code": .int(status), "message": .string(message)]])
    }

    /// Neutron's `{"NeutronError": {"type", "message", "detail"}}`.
    static func neutron(_ status: Int, _ type: String, _ message: String) -> CatalogError {
        CatalogError(status: status, body: ["NeutronError": ["type": .string(type), "message": .string(message), "detail": ""]])
    }

    /// Glance's webob body `{"code", "title", "message"}`.
    static func glance(_ status: Int, _ message: String) -> CatalogError {
        let title = status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed" : "Bad Request"
        return CatalogError(status: status, body: ["code": .int(status), "title": .string(title), "message": .string(message)])
    }
}

/// The local catalog served through the OpenStack read paths clients and tempest call:
/// `/compute/v2.1` (Nova), `/image/v2` (Glance) and `/network/v2.0` (Neutron).
struct CatalogRoutes: Sendable {
    /// The first path segments these routes own.
    static let services: Set<String> = ["compute", "image", "network"]

    let compute: ComputeRoutes
    let image: ImageRoutes
    let network: NetworkRoutes

    init(env: APIEnvironment) {
        compute = ComputeRoutes(store: env.store, keypairs: KeypairService(store: env.store))
        image = ImageRoutes(store: env.store)
        network = NetworkRoutes(store: env.store)
    }

    /// The unauthenticated version documents (`/compute`, `/compute/v2.1`, `/image`,
    /// `/network`), nil for every other path.
    static func versionDocument(_ s: [String], base: String) -> JSON? {
        switch s {
        case ["compute"]:
            return ["versions": [ComputeRoutes.version(base)]]
        case ["compute", "v2.1"]:
            return ["version": ComputeRoutes.version(base)]
        case ["image"], ["image", "versions"]:
            return ["versions": [["id": "v2.0", "status": "CURRENT",
                                  "links": [["href": .string("\(base)/image/v2/"), "rel": "self"]]]]]
        case ["network"]:
            return ["versions": [["id": "v2.0", "status": "CURRENT",
                                  "links": [["href": .string("\(base)/network/v2.0/"), "rel": "self"]]]]]
        default:
            return nil
        }
    }

    /// Answers one authenticated request; `segments` start with the service name.
    func respond(_ request: Request, segments s: [String], query: [(String, String)], context: MagnumCore.RequestContext,
                 baseURL: String) async throws -> APIResponse
    {
        let method = request.method.rawValue
        do {
            var body: JSON? = nil
            if method == "POST" || method == "PUT" {
                guard var buffer = try? await request.body.collect(upTo: MagnumResponder.maxBody) else {
                    throw CatalogError.nova(400, "Request body is too large or unreadable")
                }
                if let bytes = buffer.readBytes(length: buffer.readableBytes),
                   !bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 })
                {
                    guard let parsed = try? JSON.parse(bytes) else {
                        throw CatalogError.nova(400, "Malformed request body")
                    }
                    body = parsed
                }
            }
            let headers = request.headers
            let computeVersion = ComputeRoutes.requestedVersion(
                headers[HTTPField.Name("OpenStack-API-Version")!], headers[HTTPField.Name("X-OpenStack-Nova-API-Version")!])
            switch s[0] {
            case "compute":
                guard s.count >= 3, s[1] == "v2.1" || s[1] == "v2" else { throw CatalogError.nova(404, "The resource could not be found.") }
                return try await compute.route(method, Array(s.dropFirst(2)), query: query, body: body, context: context,
                                               version: computeVersion, base: "\(baseURL)/compute")
            case "image":
                guard s.count >= 3, s[1] == "v2" else { throw CatalogError.glance(404, "The resource could not be found.") }
                return try await image.route(method, Array(s.dropFirst(2)), query: query)
            default:
                guard s.count >= 3, s[1] == "v2.0" else { throw CatalogError.neutron(404, "HTTPNotFound", "The resource could not be found.") }
                return try await network.route(method, Array(s.dropFirst(2)), query: query, context: context)
            }
        } catch let e as CatalogError {
            return APIResponse(e.status, e.body)
        }
    }
}

/// Nova's flavor and key-pair paths over the local catalog.
struct ComputeRoutes: Sendable {
    let store: any Store
    let keypairs: KeypairService

    /// Nova's version object: 2.1 is the only (and maximum) version served.
    static func version(_ base: String) -> JSON {
        ["id": "v2.1", "status": "CURRENT", "version": "2.1", "min_version": "2.1", "updated": "2013-07-23T11:33:21Z",
         "links": [["href": .string("\(base)/compute/v2.1/"), "rel": "self"]]]
    }

    /// The compute microversion a client asked for as (major, minor); 2.1 when none.
    /// `type` of key pairs and 201/204 codes follow Nova from 2.2 on.
    static func requestedVersion(_ openstack: String?, _ legacy: String?) -> (Int, Int) {
        var raw: String? = nil
        if let openstack {
            let parts = openstack.split(separator: " ")
            if parts.count == 2, parts[0].lowercased() == "compute" { raw = String(parts[1]) }
        }
        if raw == nil { raw = legacy?.trimmingCharacters(in: .whitespaces) }
        guard let raw else { return (2, 1) }
        if raw.lowercased() == "latest" { return (2, 2) }
        let mm = raw.split(separator: ".")
        guard mm.count == 2, let a = Int(mm[0]), let b = Int(mm[1]) else { return (2, 1) }
        return (a, b)
    }

    func route(_ method: String, _ s: [String], query: [(String, String)], body: JSON?, context: MagnumCore.RequestContext,
               version: (Int, Int), base: String) async throws -> APIResponse
    {
        let withType = version >= (2, 2)
        switch (s[0], s.count, method) {
        case ("flavors", 1, "GET"), ("flavors", 2, "GET") where s.count == 1 || s[1] == "detail":
            var all = try await store.read { try await $0.flavors() }
            if let v = query.first(where: { $0.0 == "minRam" }), let n = Int(v.1) { all = all.filter { $0.ramMB >= n } }
            if let v = query.first(where: { $0.0 == "minDisk" }), let n = Int(v.1) { all = all.filter { $0.diskGB >= n } }
            let detail = s.count == 2
            return .ok(["flavors": .array(all.map { detail ? Self.flavorDetail($0, base) : Self.flavorSummary($0, base) })])
        case ("flavors", 2, "GET"):
            guard let f = try await store.read({ try await $0.flavors() }).first(where: { $0.id == s[1] }) else {
                throw CatalogError.nova(404, "Flavor \(s[1]) could not be found.")
            }
            return .ok(["flavor": Self.flavorDetail(f, base)])
        case ("os-keypairs", 1, "GET"):
            let all = try await keypairs.list(context)
            return .ok(["keypairs": .array(all.map { k -> JSON in
                var o: [String: JSON] = ["name": .string(k.name), "public_key": .string(k.publicKey), "fingerprint": .string(k.fingerprint)]
                if withType { o["type"] = "ssh" }
                return ["keypair": .object(o)]
            })])
        case ("os-keypairs", 1, "POST"):
            return try await create(body, context, withType: withType)
        case ("os-keypairs", 2, "GET"):
            let k = try await keypairs.show(s[1], context)
            var o: [String: JSON] = [
                "name": .string(k.name), "public_key": .string(k.publicKey), "fingerprint": .string(k.fingerprint),
                "user_id": .string(k.userID), "created_at": .string(Self.novaTime(k.createdAt)), "updated_at": nil,
                "deleted_at": nil, "deleted": false, "id": .int(Self.numericID(k)),
            ]
            if withType { o["type"] = "ssh" }
            return .ok(["keypair": .object(o)])
        case ("os-keypairs", 2, "DELETE"):
            try await keypairs.delete(s[1], context)
            return APIResponse(withType ? 204 : 202)
        case ("flavors", 1...2, _), ("os-keypairs", 1...2, _):
            throw CatalogError.nova(405, "The method specified is not allowed for this resource.")
        default:
            throw CatalogError.nova(404, "The resource could not be found.")
        }
    }

    func create(_ body: JSON?, _ context: MagnumCore.RequestContext, withType: Bool) async throws -> APIResponse {
        guard let kp = body?["keypair"]?.objectValue else {
            throw CatalogError.nova(400, "Invalid input for field/attribute keypair. Value: None. 'keypair' is a required property")
        }
        if let extra = kp.keys.sorted().first(where: { !["name", "public_key", "type", "user_id"].contains($0) }) {
            throw CatalogError.nova(400, "Invalid input for field/attribute keypair. Additional properties are not allowed ('\(extra)' was unexpected)")
        }
        guard let name = kp["name"]?.stringValue else {
            throw CatalogError.nova(400, "Invalid input for field/attribute keypair. 'name' is a required property")
        }
        if let t = kp["type"], t != "ssh" {
            throw CatalogError.nova(400, "Keypair data is invalid: only ssh key pairs are supported")
        }
        var publicKey: String? = nil
        if let pk = kp["public_key"], !pk.isNull {
            guard let str = pk.stringValue else {
                throw CatalogError.nova(400, "Invalid input for field/attribute public_key. Value: \(pk.pythonDescription). \(pk.pythonDescription) is not of type 'string'")
            }
            publicKey = str
        }
        let (k, privateKey) = try await keypairs.create(name: name, publicKey: publicKey, context)
        var o: [String: JSON] = ["name": .string(k.name), "public_key": .string(k.publicKey), "fingerprint": .string(k.fingerprint),
                                 "user_id": .string(k.userID)]
        if let privateKey { o["private_key"] = .string(privateKey) }
        if withType { o["type"] = "ssh" }
        return APIResponse(withType ? 201 : 200, ["keypair": .object(o)])
    }

    static func flavorLinks(_ f: Flavor, _ base: String) -> JSON {
        [["href": .string("\(base)/v2.1/flavors/\(f.id)"), "rel": "self"], ["href": .string("\(base)/flavors/\(f.id)"), "rel": "bookmark"]]
    }

    static func flavorSummary(_ f: Flavor, _ base: String) -> JSON {
        ["id": .string(f.id), "name": .string(f.name), "links": flavorLinks(f, base)]
    }

    static func flavorDetail(_ f: Flavor, _ base: String) -> JSON {
        ["id": .string(f.id), "name": .string(f.name), "ram": .int(f.ramMB), "vcpus": .int(f.vcpus), "disk": .int(f.diskGB),
         "OS-FLV-EXT-DATA:ephemeral": 0, "OS-FLV-DISABLED:disabled": false, "swap": "", "rxtx_factor": 1.0,
         "os-flavor-access:is_public": true, "links": flavorLinks(f, base)]
    }

    /// Nova's timestamp: `YYYY-MM-DDTHH:MM:SS.000000`.
    static func novaTime(_ d: Date?) -> String {
        let s = Timestamps.format(d ?? Date(timeIntervalSince1970: 0)) ?? ""
        return s.replacingOccurrences(of: "+00:00", with: ".000000")
    }

    /// A stable positive integer standing in for Nova's database id of a key pair.
    static func numericID(_ k: Keypair) -> Int {
        var h: UInt32 = 2_166_136_261
        for b in (k.userID + "\u{0}" + k.name).utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        return Int(h & 0x7FFF_FFFF)
    }
}
