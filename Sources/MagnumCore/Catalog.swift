/// The infrastructure a template or cluster refers to (images, flavors, networks, keypairs).
/// Lookups accept a name or an id and throw the contract's errors (§3.2): unknown image,
/// flavor or network → 400, ambiguous name → 409, unknown keypair → 404.
public protocol Catalog: Sendable {
    /// The image named or identified by `ident`.
    func image(_ ident: String, _ context: RequestContext) async throws -> Image
    /// The flavor named or identified by `ident`.
    func flavor(_ ident: String, _ context: RequestContext) async throws -> Flavor
    /// The external (`router:external`) network named or identified by `ident`.
    func externalNetwork(_ ident: String, _ context: RequestContext) async throws -> Network
    /// The network named or identified by `ident`.
    func fixedNetwork(_ ident: String, _ context: RequestContext) async throws -> Network
    /// The subnet named or identified by `ident`.
    func fixedSubnet(_ ident: String, _ context: RequestContext) async throws -> Subnet
    /// The caller's keypair named `name`.
    func keypair(_ name: String, _ context: RequestContext) async throws -> Keypair
    /// True when the project exists (quota creation checks it).
    func projectExists(_ projectID: String, _ context: RequestContext) async throws -> Bool
}

/// Name-or-ID resolution shared by the catalogs: an exact ID wins; else exactly one item of
/// that name; several → 409 "Multiple <kind> exist with same name …"; none → `notFound`.
public enum CatalogLookup {
    /// Picks `ident` among `items`.
    public static func pick<T>(_ items: [T], _ ident: String, id: (T) -> String, name: (T) -> String,
                               notFound: MagnumError, kind: String, idWord: String) throws -> T
    {
        if let byID = items.first(where: { id($0) == ident }) { return byID }
        let named = items.filter { name($0) == ident }
        if named.count > 1 {
            throw MagnumError(.conflict, "Multiple \(kind) exist with same name '\(ident)'. Please use the \(idWord) instead.")
        }
        guard let one = named.first else { throw notFound }
        return one
    }
}
