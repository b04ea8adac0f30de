import Foundation
import MagnumCore

/// How a Magnum resource is named in a path or a body: by UUID, by name, or by database id.
public enum Ident: Sendable, Hashable {
    case uuid(String)
    case name(String)
    case id(Int64)
}

/// Which rows a caller may see.
public struct Visibility: Sendable, Hashable {
    /// The caller's project (nil for a token without a project).
    public var projectID: String?
    /// The caller's user, used when the token has no project.
    public var userID: String?
    /// Admin "all tenants" mode: no filter.
    public var allProjects: Bool
    /// For cluster templates: also show public, non-hidden templates of other projects.
    public var includePublicTemplates: Bool

    /// Creates a visibility scope.
    public init(projectID: String?, userID: String?, allProjects: Bool, includePublicTemplates: Bool = true) {
        self.projectID = projectID
        self.userID = userID
        self.allProjects = allProjects
        self.includePublicTemplates = includePublicTemplates
    }

    /// No filtering at all (conductor, admin all-tenants).
    public static let everything = Visibility(projectID: nil, userID: nil, allProjects: true)
}

/// Sort order of a list query: a database column and a direction; `id` is always the second key.
public struct SortOrder: Sendable, Hashable {
    /// A column of the resource's table (validated by the store).
    public var key: String
    /// Ascending when true.
    public var ascending: Bool

    /// Creates a sort order.
    public init(key: String = "id", ascending: Bool = true) {
        self.key = key
        self.ascending = ascending
    }
}

/// The persistence boundary. `read` runs a body against a consistent session; `write` runs it in
/// one transaction that commits when the body returns and rolls back when it throws. A write
/// that a request starts (a resource row and its operation row) always happens in one `write`.
public protocol Store: Sendable {
    /// Runs `body` with a session for reads.
    func read<T: Sendable>(_ body: @Sendable (any StoreSession) async throws -> T) async throws -> T
    /// Runs `body` inside one transaction.
    func write<T: Sendable>(_ body: @Sendable (any StoreSession) async throws -> T) async throws -> T
    /// Brings the schema to the newest version; returns the versions applied.
    @discardableResult
    func migrate() async throws -> [Int]
    /// Closes connections.
    func shutdown() async throws
}

/// What one session (or transaction) can do. Lookups by `Ident` return every match so callers
/// can answer 409 on ambiguous names; `insert` fills in ids and timestamps.
public protocol StoreSession: Sendable {
    /// The columns a list of this table may be sorted by (`cluster_template`, `cluster`, …).
    func sortableColumns(_ table: StoreTable) -> Set<String>

    // MARK: Cluster templates
    func clusterTemplates(_ visibility: Visibility, sort: SortOrder) async throws -> [ClusterTemplate]
    func clusterTemplates(matching ident: Ident, _ visibility: Visibility) async throws -> [ClusterTemplate]
    func insert(_ template: ClusterTemplate) async throws -> ClusterTemplate
    func update(_ template: ClusterTemplate) async throws -> ClusterTemplate
    func deleteClusterTemplate(uuid: String) async throws
    /// How many clusters (of any project) use the template.
    func clusterCount(templateUUID: String) async throws -> Int

    // MARK: Clusters
    func clusters(_ visibility: Visibility, sort: SortOrder) async throws -> [Cluster]
    func clusters(matching ident: Ident, _ visibility: Visibility) async throws -> [Cluster]
    func insert(_ cluster: Cluster) async throws -> Cluster
    func update(_ cluster: Cluster) async throws -> Cluster
    /// Deletes the cluster, its nodegroups and all of its certificates and keys.
    func deleteCluster(uuid: String) async throws
    /// Number of clusters owned by a project.
    func clusterCount(projectID: String) async throws -> Int
    /// Serializes concurrent writers of one project until the transaction ends (quota checks).
    func lockProject(_ projectID: String) async throws

    // MARK: Cluster certificates
    /// The cluster's stored certificates (its CAs and Magnum's client certificate).
    func certificates(clusterUUID: String) async throws -> [ClusterCertificate]
    /// Replaces every stored certificate of the cluster with `certificates` (create, rotation).
    func replaceCertificates(clusterUUID: String, with certificates: [ClusterCertificate]) async throws

    // MARK: Cluster driver state
    /// What the cluster's driver recorded about it, by key.
    func driverState(clusterUUID: String) async throws -> [String: String]
    /// Records (or, for nil, forgets) one value of the cluster's driver state.
    func setDriverState(clusterUUID: String, key: String, value: String?) async throws

    // MARK: Nodegroups
    func nodegroups(clusterUUID: String, role: String?, sort: SortOrder) async throws -> [NodeGroup]
    /// Nodegroups of many clusters at once (list views derive counts and addresses from them).
    func nodegroups(clusterUUIDs: [String]) async throws -> [NodeGroup]
    func nodegroups(clusterUUID: String, matching ident: Ident) async throws -> [NodeGroup]
    func insert(_ nodegroup: NodeGroup) async throws -> NodeGroup
    func update(_ nodegroup: NodeGroup) async throws -> NodeGroup
    func deleteNodegroup(uuid: String) async throws
    /// Clusters and node totals for stats; `projectID` nil means every project.
    func stats(projectID: String?) async throws -> (clusters: Int, nodes: Int)

    // MARK: Quotas
    func quotas(projectID: String?, sort: SortOrder) async throws -> [Quota]
    func quota(projectID: String, resource: String) async throws -> Quota?
    func insert(_ quota: Quota) async throws -> Quota
    func update(_ quota: Quota) async throws -> Quota
    func deleteQuota(id: Int64) async throws

    // MARK: Services
    func services() async throws -> [MService]
    /// Creates the (host, binary) record if missing, then increments `report_count` and sets
    /// `last_seen_up`.
    func reportService(host: String?, binary: String) async throws -> MService

    // MARK: Federations
    func federations(_ visibility: Visibility, sort: SortOrder) async throws -> [Federation]
    func federations(matching ident: Ident, _ visibility: Visibility) async throws -> [Federation]
    func insert(_ federation: Federation) async throws -> Federation
    func update(_ federation: Federation) async throws -> Federation
    func deleteFederation(uuid: String) async throws

    // MARK: Operations
    func insert(_ operation: ClusterOperation) async throws -> ClusterOperation
    func operations(resourceUUID: String) async throws -> [ClusterOperation]
    func update(_ operation: ClusterOperation) async throws -> ClusterOperation
    /// The operation with `uuid`, if any.
    func operation(uuid: String) async throws -> ClusterOperation?

    // MARK: Operation leases
    /// Leases the oldest runnable operation to `owner` until `until` and returns it (state
    /// `running`, `attempts` incremented), or nil when there is none.
    ///
    /// Runnable: `pending` (and `not_before` passed), or `running` with a lease expired at `now`
    /// (its conductor died); no older unfinished operation of the same cluster (operations of
    /// one cluster run one at a time, in order); no other operation of the cluster actively
    /// leased; and the cluster's template is run by one of `drivers` — its `driver` names one, or
    /// it has none and one provides its (server type, distro, COE). Operations of other drivers
    /// stay untouched. On PostgreSQL concurrent callers never lease the same row
    /// (`FOR UPDATE SKIP LOCKED`); on SQLite the single writer serializes them.
    func leaseOperation(owner: String, until: Date, now: Date, drivers: [DriverDescriptor]) async throws -> ClusterOperation?
    /// Extends `owner`'s lease of a running operation; false when the lease was lost (taken
    /// over, or the operation finished).
    func renewLease(operationUUID: String, owner: String, until: Date) async throws -> Bool
    /// Hands a running operation leased by `owner` back as pending, not to be leased before
    /// `notBefore`, recording `error`; false when the lease was lost.
    func retryOperation(uuid: String, owner: String, notBefore: Date, error: String?) async throws -> Bool
    /// Finishes a running operation leased by `owner` with `state` (`succeeded` or `failed`)
    /// and `error`; false when the lease was lost.
    func completeOperation(uuid: String, owner: String, state: ClusterOperation.State, error: String?) async throws -> Bool
    /// Fails every unfinished operation of a cluster (after the cluster was deleted).
    func abandonOperations(resourceUUID: String, error: String) async throws

    // MARK: Cluster events
    /// Appends an event to its cluster's history in this transaction and returns it with its
    /// sequence number and `created_at`. On PostgreSQL the event writers of one cluster are
    /// serialized until their transactions end, so a cluster's events commit in `id` order and
    /// a cursor (`id > since`) never skips one.
    func append(_ event: ClusterEvent) async throws -> ClusterEvent
    /// The cluster's events with `id > after`, ascending, at most `limit`.
    func events(clusterUUID: String, after: Int64, limit: Int) async throws -> [ClusterEvent]
    /// Deletes every event created before `cutoff`; returns how many.
    @discardableResult
    func purgeEvents(before cutoff: Date) async throws -> Int
    // MARK: Idempotency keys
    /// Claims an `Idempotency-Key` for a request with `fingerprint`, held by `owner` until
    /// completed or released and remembered until `expiresAt`. Keys expired at `now` are
    /// purged first (an expired key is a new key). Another request's in-progress claim of the
    /// same fingerprint that changed nothing and was claimed before `staleBefore` is taken over.
    /// Exactly one of any number of concurrent claimers (in any process) gets `.claimed`.
    func claimIdempotencyKey(_ scope: IdempotencyScope, fingerprint: String, owner: String, now: Date, expiresAt: Date,
                             staleBefore: Date) async throws -> IdempotencyClaimResult
    /// Stores the answer of the claim's request; false when the claim was lost.
    func completeIdempotencyKey(_ claim: IdempotencyClaim, response: IdempotentResponse) async throws -> Bool
    /// Gives up a claim after its request failed: the key is forgotten (a retry runs anew)
    /// unless the request had committed a change, in which case it is marked `interrupted`.
    func releaseIdempotencyKey(_ claim: IdempotencyClaim) async throws
    /// The stored state of a key, if any.
    func idempotencyRecord(_ scope: IdempotencyScope) async throws -> IdempotencyRecord?
    /// Deletes every key expired at `now`; returns how many.
    func purgeIdempotencyKeys(expiredAt now: Date) async throws -> Int

    // MARK: Local catalog
    func flavors() async throws -> [Flavor]
    func images() async throws -> [Image]
    func networks() async throws -> [Network]
    func subnets() async throws -> [Subnet]
    func keypairs(userID: String) async throws -> [Keypair]
    func insert(_ flavor: Flavor) async throws
    func insert(_ image: Image) async throws
    func insert(_ network: Network) async throws
    func insert(_ subnet: Subnet) async throws
    func insert(_ keypair: Keypair) async throws
    func deleteKeypair(name: String, userID: String) async throws
}

/// The tables a list can be sorted on.
public enum StoreTable: String, Sendable {
    case clusterTemplate = "cluster_template"
    case cluster
    case nodegroup
    case quotas
    case federation
}

extension StoreTable {
    /// The columns a list of this table may be sorted by (`sort_key`).
    public var sortableColumns: Set<String> { TableColumns.sets[self] ?? [] }
}
