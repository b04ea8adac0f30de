import MagnumCore

/// The local catalog: flavors, images, networks, subnets and keypairs kept in Magnum's own
/// database, for the all-in-one and the local driver. Lookups answer the contract's errors.
public struct LocalCatalog: Catalog {
    let store: any Store
    let projects: (any IdentityRecords)?

    /// Creates the catalog over a store. `projects` is the built-in identity's records when it
    /// is the identity in use: project ids are then checked against them.
    public init(store: any Store, projects: (any IdentityRecords)? = nil) {
        self.store = store
        self.projects = projects
    }

    public func image(_ ident: String, _ context: RequestContext) async throws -> Image {
        let all = try await store.read { try await $0.images() }
        return try Self.pick(all, ident, id: \.id, name: \.name, notFound: MagnumError(.invalid, "Image \(ident) could not be found."),
                             kind: "images", idWord: "image ID")
    }

    public func flavor(_ ident: String, _ context: RequestContext) async throws -> Flavor {
        let all = try await store.read { try await $0.flavors() }
        return try Self.pick(all, ident, id: \.id, name: \.name, notFound: MagnumError(.invalid, "Unable to find flavor \(ident)."),
                             kind: "flavors", idWord: "flavor ID")
    }

    public func externalNetwork(_ ident: String, _ context: RequestContext) async throws -> Network {
        let all = try await store.read { try await $0.networks() }.filter(\.isExternal)
        return try Self.pick(all, ident, id: \.id, name: \.name, notFound: MagnumError(.invalid, "Unable to find external network \(ident)."),
                             kind: "external networks", idWord: "external network ID")
    }

    public func fixedNetwork(_ ident: String, _ context: RequestContext) async throws -> Network {
        let all = try await store.read { try await $0.networks() }
        return try Self.pick(all, ident, id: \.id, name: \.name, notFound: MagnumError(.invalid, "Unable to find fixed network \(ident)."),
                             kind: "fixed networks", idWord: "fixed network ID")
    }

    public func fixedSubnet(_ ident: String, _ context: RequestContext) async throws -> Subnet {
        let all = try await store.read { try await $0.subnets() }
        return try Self.pick(all, ident, id: \.id, name: \.name, notFound: MagnumError(.invalid, "Unable to find fixed subnet \(ident)."),
                             kind: "subnets", idWord: "subnet ID")
    }

    public func keypair(_ name: String, _ context: RequestContext) async throws -> Keypair {
        let user = context.userID ?? ""
        guard let k = try await store.read({ try await $0.keypairs(userID: user) }).first(where: { $0.name == name }) else {
            throw MagnumError(.notFound, "Unable to find keypair \(name).")
        }
        return k
    }

    /// With the built-in identity, whether it has the project; otherwise (a real Keystone,
    /// a token table) every non-empty project id is accepted.
    public func projectExists(_ projectID: String, _ context: RequestContext) async throws -> Bool {
        guard !projectID.isEmpty else { return false }
        guard let projects else { return true }
        return try await projects.readIdentity { try await $0.project(id: projectID) } != nil
    }

    /// Seeds the default local catalog into an empty database: flavors sized for local nodes
    /// and the common OpenStack names, the images of the built-in drivers, a `public` external
    /// network and a `private` network with its subnet.
    public static func seedIfEmpty(_ store: any Store) async throws {
        try await store.write { session in
            guard try await session.flavors().isEmpty else { return }
            let flavors = [
                Flavor(id: "1", name: "m1.tiny", vcpus: 1, ramMB: 512, diskGB: 1),
                Flavor(id: "2", name: "m1.small", vcpus: 1, ramMB: 2048, diskGB: 20),
                Flavor(id: "3", name: "m1.medium", vcpus: 2, ramMB: 4096, diskGB: 40),
                Flavor(id: "4", name: "m1.large", vcpus: 4, ramMB: 8192, diskGB: 80),
                Flavor(id: "5", name: "ds2G", vcpus: 2, ramMB: 2048, diskGB: 10),
                Flavor(id: "6", name: "local.small", vcpus: 1, ramMB: 256, diskGB: 1),
            ]
            for f in flavors { try await session.insert(f) }
            try await session.insert(Image(id: "b5a7c3f0-6f1e-4e4c-9a9e-0c5d3f1b2a01", name: "local-swarm", osDistro: "local-swarm"))
            try await session.insert(Image(id: "8e1c7a52-3b6d-4f0e-8c2a-5d9f4b7e6c02", name: "fedora-coreos-latest", osDistro: "fedora-coreos"))
            try await session.insert(Network(id: "3c2e1d4b-7a6f-4e58-9b0c-1d2e3f4a5b03", name: "public", isExternal: true))
            try await session.insert(Network(id: "6f5e4d3c-2b1a-4098-8a7b-6c5d4e3f2a04", name: "private", isExternal: false))
            try await session.insert(Subnet(id: "9a8b7c6d-5e4f-4321-9fed-cba987654305", name: "private-subnet",
                                            networkID: "6f5e4d3c-2b1a-4098-8a7b-6c5d4e3f2a04", cidr: "198.18.0.0/16"))
        }
    }
}

extension LocalCatalog {
    static func pick<T>(_ items: [T], _ ident: String, id: (T) -> String, name: (T) -> String,
                        notFound: MagnumError, kind: String, idWord: String) throws -> T
    {
        try CatalogLookup.pick(items, ident, id: id, name: name, notFound: notFound, kind: kind, idWord: idWord)
    }
}
