import Foundation
import MagnumCore

/// One node of a local cluster, as the driver persisted it.
struct LocalNode: Codable, Sendable, Hashable {
    /// Manager (master) or worker.
    enum Role: String, Codable, Sendable { case manager, worker }

    /// The node's name: its hostname and Swarm node name (`master-0`, `node-3`, `<nodegroup>-5`).
    var name: String
    /// The node's address on the cluster bridge.
    var address: String
    var role: Role
    /// The nodegroup the node belongs to.
    var nodegroupUUID: String
    /// The fingerprint of the CA the node's daemon trusts (and whose client certificate the driver
    /// presents to it), see `NodeCredentials`.
    var trust: String
    /// The flavor the node was sized with, for upgrades.
    var flavor: String?
    /// Set when the node is being removed; a removal interrupted by a crash is finished first.
    var removing: Bool = false
}

/// What the driver built for one cluster: its index, the credentials in use and its nodes.
struct LocalCluster: Codable, Sendable, Hashable {
    var clusterUUID: String
    /// K: the subnet 198.18.K.0/24, the bridge `mswK`.
    var index: Int
    var nodes: [LocalNode] = []
    /// The template the cluster was built (or last upgraded) with.
    var templateUUID: String?

    /// The bridge of the cluster.
    var bridge: String { "msw\(index)" }
    /// The first three octets of the cluster's subnet.
    var subnet: String { "198.18.\(index)" }
    /// The host's address on the bridge.
    var gateway: String { "\(subnet).1" }
    /// The handle reported as the cluster's `stack_id`.
    var handle: String { bridge }

    /// The network namespace of `node`.
    func namespace(_ node: LocalNode) -> String { "\(bridge)-\(node.name)" }
    /// The host end of `node`'s veth (≤ 15 characters).
    func veth(_ node: LocalNode) -> String { "\(bridge)n\(node.address.split(separator: ".").last ?? "0")" }
    /// The cgroup of `node`, relative to a hierarchy's root.
    func cgroup(_ node: LocalNode) -> String { "magnum-local-swarm/\(bridge)-\(node.name)" }

    /// The nodes of a nodegroup that are not being removed.
    func nodes(of nodegroupUUID: String) -> [LocalNode] { nodes.filter { $0.nodegroupUUID == nodegroupUUID && !$0.removing } }

    /// The first manager that is not being removed: the swarm's initial leader and the API address.
    var leader: LocalNode? { nodes.filter { $0.role == .manager && !$0.removing }.min { $0.address.lastOctet < $1.address.lastOctet } }

    /// A new node for `nodegroup`: masters take .10…19 (`master-i`), workers .20…254
    /// (`node-i` in the default nodegroup, `<nodegroup name>-i` in others), the lowest free.
    func newNode(for nodegroup: NodeGroup, trust: String, flavor: String?) throws -> LocalNode {
        let used = Set(nodes.map(\.address.lastOctet))
        let range = nodegroup.isMaster ? 10...19 : 20...254
        guard let octet = range.first(where: { !used.contains($0) }) else {
            throw MagnumError(.invalid, "The local_swarm driver runs at most \(range.count) \(nodegroup.isMaster ? "masters" : "workers") per cluster.")
        }
        let name: String
        if nodegroup.isMaster {
            name = "master-\(octet - 10)"
        } else if nodegroup.isDefault {
            name = "node-\(octet - 20)"
        } else {
            name = "\(Self.hostnamePrefix(nodegroup.name ?? "ng"))-\(octet - 20)"
        }
        return LocalNode(name: name, address: "\(subnet).\(octet)", role: nodegroup.isMaster ? .manager : .worker,
                         nodegroupUUID: nodegroup.uuid, trust: trust, flavor: flavor)
    }

    /// A nodegroup name made into a hostname label prefix: lowercase letters, digits and
    /// dashes, at most 40 characters.
    static func hostnamePrefix(_ name: String) -> String {
        var out = String(name.lowercased().map { $0.isLetter && $0.isASCII || $0.isNumber && $0.isASCII ? $0 : "-" }.prefix(40))
        while out.hasPrefix("-") { out.removeFirst() }
        while out.hasSuffix("-") { out.removeLast() }
        return out.isEmpty ? "ng" : out
    }
}

extension String {
    /// The last octet of a dotted IPv4 address (0 when it is not one).
    var lastOctet: Int { Int(split(separator: ".").last ?? "") ?? 0 }
}

/// The driver's persisted state: one directory per cluster index, `c<K>`, claimed atomically
/// by creating it, holding `cluster.json`, the credentials (`pki/<fingerprint>/`) and each
/// node's files (`nodes/<name>/`). Images shared by every cluster are in `images/`.
struct LocalClusterState: Sendable {
    let root: String
    let indexes: ClosedRange<Int>

    func directory(_ index: Int) -> String { "\(root)/c\(index)" }
    func directory(_ cluster: LocalCluster) -> String { directory(cluster.index) }
    func nodeDirectory(_ cluster: LocalCluster, _ node: LocalNode) -> String { "\(directory(cluster))/nodes/\(node.name)" }
    func credentialsDirectory(_ cluster: LocalCluster, _ trust: String) -> String { "\(directory(cluster))/pki/\(trust)" }
    var imageDirectory: String { "\(root)/images" }

    /// The cluster `uuid` built, if any.
    func find(_ uuid: String) throws -> LocalCluster? {
        for index in indexes {
            let file = "\(directory(index))/cluster.json"
            guard let data = FileManager.default.contents(atPath: file),
                  let cluster = try? JSONDecoder().decode(LocalCluster.self, from: data) else { continue }
            if cluster.clusterUUID == uuid { return cluster }
        }
        return nil
    }

    /// The cluster `uuid` built, or a new one with the lowest free index: one whose directory
    /// does not exist and whose bridge and subnet are not on the host (`taken`).
    func claim(_ uuid: String, taken: (Int) -> Bool) throws -> LocalCluster {
        if let existing = try find(uuid) { return existing }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for index in indexes where !FileManager.default.fileExists(atPath: directory(index)) && !taken(index) {
            // mkdir is the claim: of two drivers racing for an index, one gets EEXIST.
            guard mkdir(directory(index), 0o700) == 0 else { continue }
            let cluster = LocalCluster(clusterUUID: uuid, index: index)
            try save(cluster)
            return cluster
        }
        throw MagnumError(.unavailable, "The local_swarm driver has no free cluster subnet in 198.18.\(indexes.lowerBound)-\(indexes.upperBound).0/24.")
    }

    /// Persists `cluster` atomically.
    func save(_ cluster: LocalCluster) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(cluster).write(to: URL(fileURLWithPath: "\(directory(cluster))/cluster.json"), options: .atomic)
    }

    /// Removes everything persisted of cluster index `index`, the claim last.
    func remove(_ index: Int) throws {
        let dir = directory(index)
        guard FileManager.default.fileExists(atPath: dir) else { return }
        try? FileManager.default.removeItem(atPath: "\(dir)/nodes")
        try FileManager.default.removeItem(atPath: dir)
    }
}
