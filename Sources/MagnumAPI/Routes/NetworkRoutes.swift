import MagnumCore
import MagnumStore

/// Neutron's network and subnet read paths over the local catalog (`/network/v2.0`).
struct NetworkRoutes: Sendable {
    let store: any Store

    func route(_ method: String, _ s: [String], query: [(String, String)], context: RequestContext) async throws -> APIResponse {
        guard ["networks", "subnets"].contains(s[0]), s.count <= 2 else {
            throw CatalogError.neutron(404, "HTTPNotFound", "The resource could not be found.")
        }
        guard method == "GET" else {
            throw CatalogError.neutron(405, "HTTPMethodNotAllowed", "The method specified is not allowed for this resource.")
        }
        if s[0] == "networks" {
            let (networks, subnets) = try await store.read { session in (try await session.networks(), try await session.subnets()) }
            let view = { (n: Network) in Self.view(n, subnets: subnets.filter { $0.networkID == n.id }.map(\.id)) }
            if s.count == 2 {
                guard let n = networks.first(where: { $0.id == s[1] }) else {
                    throw CatalogError.neutron(404, "NetworkNotFound", "Network \(s[1]) could not be found.")
                }
                return .ok(["network": view(n)])
            }
            var out = networks
            for (key, value) in query {
                switch key {
                case "name": out = out.filter { $0.name == value }
                case "id": out = out.filter { $0.id == value }
                case "router:external":
                    guard let b = Self.bool(value) else {
                        throw CatalogError.neutron(400, "InvalidInput", "Invalid input for operation: '\(value)' cannot be converted to boolean.")
                    }
                    out = out.filter { $0.isExternal == b }
                case "status": out = out.filter { _ in value == "ACTIVE" }
                default: break
                }
            }
            return .ok(["networks": .array(out.map(view))])
        }
        let subnets = try await store.read { try await $0.subnets() }
        if s.count == 2 {
            guard let sn = subnets.first(where: { $0.id == s[1] }) else {
                throw CatalogError.neutron(404, "SubnetNotFound", "Subnet \(s[1]) could not be found.")
            }
            return .ok(["subnet": Self.view(sn)])
        }
        var out = subnets
        for (key, value) in query {
            switch key {
            case "name": out = out.filter { $0.name == value }
            case "id": out = out.filter { $0.id == value }
            case "network_id": out = out.filter { $0.networkID == value }
            case "cidr": out = out.filter { $0.cidr == value }
            case "ip_version": out = out.filter { _ in value == "4" }
            default: break
            }
        }
        return .ok(["subnets": .array(out.map(Self.view))])
    }

    static func bool(_ v: String) -> Bool? {
        switch v.lowercased() {
        case "true", "1", "t", "yes", "y", "on": return true
        case "false", "0", "f", "no", "n", "off": return false
        default: return nil
        }
    }

    /// A network as Neutron shows it.
    static func view(_ n: Network, subnets: [String]) -> JSON {
        ["id": .string(n.id), "name": .string(n.name), "router:external": .bool(n.isExternal), "status": "ACTIVE",
         "admin_state_up": true, "shared": false, "subnets": JSON(subnets), "mtu": 1500, "description": "",
         "tenant_id": "", "project_id": "", "availability_zones": ["nova"], "tags": [], "port_security_enabled": true]
    }

    /// A subnet as Neutron shows it; the gateway is the first address of its CIDR.
    static func view(_ s: Subnet) -> JSON {
        var gateway: JSON = nil
        var pools: JSON = []
        let parts = s.cidr.split(separator: "/")
        let octets = parts.first?.split(separator: ".").compactMap { UInt32($0) } ?? []
        if parts.count == 2, let bits = UInt32(parts[1]), bits <= 30, octets.count == 4, octets.allSatisfy({ $0 < 256 }) {
            let addr = octets.reduce(0) { $0 << 8 | $1 }
            let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << (32 - bits)
            let net = addr & mask
            let last = net | ~mask
            func dotted(_ a: UInt32) -> String { "\(a >> 24 & 255).\(a >> 16 & 255).\(a >> 8 & 255).\(a & 255)" }
            gateway = .string(dotted(net + 1))
            pools = [["start": .string(dotted(net + 2)), "end": .string(dotted(last - 1))]]
        }
        return ["id": .string(s.id), "name": .string(s.name), "network_id": .string(s.networkID), "cidr": .string(s.cidr),
                "ip_version": 4, "gateway_ip": gateway, "allocation_pools": pools, "enable_dhcp": true,
                "dns_nameservers": [], "host_routes": [], "description": "", "tenant_id": "", "project_id": "",
                "subnetpool_id": nil, "tags": []]
    }
}
