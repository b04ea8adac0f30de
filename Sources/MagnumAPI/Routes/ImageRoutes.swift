import MagnumCore
import MagnumStore

/// Glance's image read paths over the local catalog (`/image/v2/images`).
struct ImageRoutes: Sendable {
    let store: any Store

    func route(_ method: String, _ s: [String], query: [(String, String)]) async throws -> APIResponse {
        guard s[0] == "images", s.count <= 2 else { throw CatalogError.glance(404, "The resource could not be found.") }
        guard method == "GET" else { throw CatalogError.glance(405, "The method specified is not allowed for this resource.") }
        let all = try await store.read { try await $0.images() }
        if s.count == 2 {
            guard let image = all.first(where: { $0.id == s[1] }) else {
                throw CatalogError.glance(404, "No image found with ID \(s[1])")
            }
            return .ok(Self.view(image))
        }
        var images = all
        for (key, value) in query {
            switch key {
            case "name": images = images.filter { $0.name == value }
            case "id": images = images.filter { $0.id == value }
            case "os_distro": images = images.filter { $0.osDistro == value }
            case "status": images = images.filter { _ in value == "active" }
            case "visibility": images = images.filter { _ in value == "public" || value == "all" }
            default: break
            }
        }
        return .ok(["images": .array(images.map(Self.view)), "schema": "/v2/schemas/images", "first": "/v2/images"])
    }

    /// One image as Glance v2 shows it (properties flattened into the object).
    static func view(_ i: Image) -> JSON {
        var o: [String: JSON] = [
            "id": .string(i.id), "name": .string(i.name), "status": "active", "visibility": "public",
            "protected": false, "os_hidden": false, "container_format": "bare", "disk_format": "qcow2",
            "min_disk": 0, "min_ram": 0, "size": nil, "virtual_size": nil, "checksum": nil, "tags": [],
            "owner": nil, "created_at": "1970-01-01T00:00:00Z", "updated_at": "1970-01-01T00:00:00Z",
            "self": .string("/v2/images/\(i.id)"), "file": .string("/v2/images/\(i.id)/file"), "schema": "/v2/schemas/image",
        ]
        if let d = i.osDistro { o["os_distro"] = .string(d) }
        if let d = i.magnumDriver { o["magnum_driver"] = .string(d) }
        return .object(o)
    }
}
