import Foundation
import Logging
import MagnumCore
import MagnumDrivers

/// The engines of a cluster's nodes, one per CA in use (normally one; two during a rotation).
struct NodeEngines: Sendable {
    let engines: [String: DockerEngine]

    func engine(for node: LocalNode) throws -> DockerEngine {
        guard let engine = engines[node.trust] else {
            throw MagnumError(.internal, "No credentials for node \(node.name) (CA \(node.trust)).")
        }
        return engine
    }
}

extension LocalSwarmDriver {
    /// Runs `body` with clients for every CA the cluster's nodes trust, shutting them down after.
    func withEngines<T: Sendable>(_ cluster: LocalCluster, extra: NodeCredentials? = nil,
                                  _ body: (NodeEngines) async throws -> T) async throws -> T {
        var engines: [String: DockerEngine] = [:]
        var trusts = Set(cluster.nodes.map(\.trust))
        if let extra { trusts.insert(extra.fingerprint) }
        for trust in trusts {
            let credentials = trust == extra?.fingerprint ? extra : NodeCredentials.read(from: state.credentialsDirectory(cluster, trust))
            if let credentials { engines[trust] = try DockerEngine(credentials: credentials) }
        }
        let set = NodeEngines(engines: engines)
        do {
            let result = try await body(set)
            for engine in engines.values { await engine.shutdown() }
            return result
        } catch {
            for engine in engines.values { await engine.shutdown() }
            throw error
        }
    }

    /// The cluster's current CA and Magnum's client certificate, as the conductor loaded them.
    func currentCredentials(_ spec: ClusterSpec) throws -> NodeCredentials {
        guard let ca = spec.certificate(.kubernetes), let client = spec.certificate(.magnumClient) else {
            throw MagnumError(.internal, "Cluster \(spec.cluster.uuid) has no certificates.")
        }
        let opened = try authority.open(client)
        return NodeCredentials(caPEM: ca.certificatePEM, certificatePEM: opened.certificatePEM, keyPEM: opened.privateKeyPEM)
    }

    /// Converges the cluster's nodes to the spec: every nodegroup gets `counts[uuid]` (else its
    /// recorded `node_count`; 0 while it is being deleted) running nodes, removing `remove`
    /// (node names or addresses) first and then the newest nodes; new nodes are
    /// started, joined, labelled and given the test image; nodes whose daemon died are started
    /// again — or, with `replaceFailed` (a repair), workers whose daemon died are replaced by new
    /// nodes; it returns when every node is Ready. Idempotent: a re-run after a crash finishes
    /// what the first began, including interrupted removals.
    func converge(_ spec: ClusterSpec, counts: [String: Int] = [:], remove: [String] = [], replaceFailed: Bool = false,
                  context: DriverContext) async throws {
        try checkPrerequisites()
        let log = context.logger
        let host = self.host
        var cluster = try state.claim(spec.cluster.uuid) { host.indexTaken($0) }
        if cluster.templateUUID == nil { cluster.templateUUID = spec.template.uuid }
        try await host.ensureBridge(cluster)
        let credentials = try currentCredentials(spec)
        let current = credentials.fingerprint
        if NodeCredentials.read(from: state.credentialsDirectory(cluster, current)) == nil {
            try credentials.write(to: state.credentialsDirectory(cluster, current))
        }

        // Decide which nodes go and which come, and persist that before touching anything.
        let nodegroups = Dictionary(spec.nodegroups.map { ($0.uuid, $0) }, uniquingKeysWith: { a, _ in a })
        for index in cluster.nodes.indices where nodegroups[cluster.nodes[index].nodegroupUUID] == nil {
            cluster.nodes[index].removing = true
        }
        if replaceFailed {
            // A worker whose daemon is gone is replaced (a master is restarted below: the
            // first one carries the swarm and the API address).
            for index in cluster.nodes.indices where cluster.nodes[index].role == .worker && !cluster.nodes[index].removing
                && !host.isDaemonRunning(directory: state.nodeDirectory(cluster, cluster.nodes[index]))
            {
                cluster.nodes[index].removing = true
                log.notice("replacing a failed node", metadata: ["node": .string(cluster.nodes[index].name)])
            }
        }
        for ng in spec.nodegroups {
            let desired = ng.status == .deleteInProgress ? 0 : max(0, counts[ng.uuid] ?? ng.nodeCount)
            let members = cluster.nodes(of: ng.uuid)
            if members.count > desired {
                let preferred = members.filter { remove.contains($0.name) || remove.contains($0.address) }
                let rest = members.filter { !preferred.contains($0) }.sorted { $0.address.lastOctet > $1.address.lastOctet }
                let leaving = Set((preferred + rest).prefix(members.count - desired).map(\.name))
                for index in cluster.nodes.indices where leaving.contains(cluster.nodes[index].name) {
                    cluster.nodes[index].removing = true
                }
            }
            for _ in members.count..<max(members.count, desired) {
                cluster.nodes.append(try cluster.newNode(for: ng, trust: current, flavor: spec.flavor(of: ng)?.name))
            }
        }
        try state.save(cluster)
        let snapshot = cluster
        log.info("local cluster converging", metadata: [
            "index": .stringConvertible(cluster.index),
            "nodes": .string(cluster.nodes.filter { !$0.removing }.map(\.name).joined(separator: ",")),
            "removing": .string(cluster.nodes.filter(\.removing).map(\.name).joined(separator: ",")),
        ])

        try await withEngines(snapshot) { engines in
            let active = snapshot.nodes.filter { !$0.removing }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for node in active {
                    group.addTask { try await self.ensureNode(snapshot, node, spec, engines) }
                }
                try await group.waitForAll()
            }
            guard let leader = snapshot.leader else {
                throw MagnumError(.invalid, "A local cluster needs at least one master.")
            }
            try await formSwarm(snapshot, leader: leader, members: active, engines: engines, spec: spec, log: log)
        }

        // Removals (drain, node rm, power off) in parallel; the nodes leave the persisted
        // layout once all are gone (a re-run redoes the idempotent removal of any left).
        let leaving = cluster.nodes.filter(\.removing)
        if !leaving.isEmpty {
            let current = cluster
            try await withEngines(current) { engines in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for node in leaving {
                        group.addTask { try await self.removeNode(current, node, engines: engines, log: log) }
                    }
                    try await group.waitForAll()
                }
            }
            cluster.nodes.removeAll(where: \.removing)
            try state.save(cluster)
        }
        let settled = cluster
        try await withEngines(settled) { engines in
            try await self.waitReady(settled, engines: engines)
        }
    }

    /// Makes one node run: its files, certificate, network, cgroup and daemon (started when its
    /// dockerd does not run), then waits until its Engine API answers.
    func ensureNode(_ cluster: LocalCluster, _ node: LocalNode, _ spec: ClusterSpec, _ engines: NodeEngines) async throws {
        let dir = state.nodeDirectory(cluster, node)
        let files = FileManager.default
        for sub in ["data", "run"] {
            try files.createDirectory(atPath: "\(dir)/\(sub)", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        if !files.fileExists(atPath: "\(dir)/daemon.json") {
            // Its own config file keeps the host's daemon.json out; its own key.json gives the
            // node its own engine ID (pitfall 5).
            try Data(#"{"deprecated-key-path": "\#(dir)/key.json"}"#.utf8).write(to: URL(fileURLWithPath: "\(dir)/daemon.json"))
        }
        if !files.fileExists(atPath: "\(dir)/server-cert.pem") {
            try writeServerCertificate(cluster, node, spec, directory: dir)
        }
        try await host.ensureNodeNetwork(cluster, node)
        let flavor = spec.nodegroup(node.nodegroupUUID).flatMap { spec.flavor(of: $0) }
        // A flavor's RAM bounds the node (at least 128 MiB: an idle node's daemons take ~50).
        try host.cgroups.create(cluster.cgroup(node), memoryMB: flavor.map { max($0.ramMB, 128) } ?? 0, vcpus: flavor?.vcpus ?? 0)
        if !host.isDaemonRunning(directory: dir) {
            // What is left of a dead daemon (containerd, shims, tasks) goes first.
            await host.killAll(cgroup: cluster.cgroup(node))
            try await host.startDaemon(cluster, node, directory: dir, dockerd: configuration.dockerd)
        }
        try await waitForEngine(cluster, node, engine: try engines.engine(for: node), directory: dir)
    }

    /// Issues the node's server certificate from the cluster CA (SAN: its address, 127.0.0.1,
    /// its name, localhost) and writes it with the CA it trusts into `directory`.
    func writeServerCertificate(_ cluster: LocalCluster, _ node: LocalNode, _ spec: ClusterSpec, directory: String) throws {
        guard let ca = spec.certificate(.kubernetes) else {
            throw MagnumError(.internal, "Cluster \(spec.cluster.uuid) has no CA.")
        }
        let issued = try authority.issueServerCertificate(signedBy: ca, commonName: node.name,
                                                          ipAddresses: [node.address, "127.0.0.1"], dnsNames: [node.name, "localhost"])
        for (name, text) in [("server-key.pem", issued.privateKeyPEM), ("ca.pem", ca.certificatePEM), ("server-cert.pem", issued.certificatePEM)] {
            let path = "\(directory)/\(name)"
            try? FileManager.default.removeItem(atPath: path)
            guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw MagnumError(.internal, "Could not write \(path).")
            }
        }
    }

    /// Polls the node's Engine API every 100 ms until it answers; a daemon that died (no process
    /// left after 3 s) is reported with the end of its log (pitfall 13).
    func waitForEngine(_ cluster: LocalCluster, _ node: LocalNode, engine: DockerEngine, directory: String) async throws {
        let clock = ContinuousClock()
        let start = clock.now
        while clock.now - start < configuration.readyTimeout {
            if await engine.version(node.address) != nil { return }
            if clock.now - start > .seconds(3) && !host.isRunning(cluster, node) {
                let log = (try? String(contentsOfFile: "\(directory)/dockerd.log", encoding: .utf8)) ?? ""
                let tail = log.split(separator: "\n").suffix(3).joined(separator: " | ")
                throw MagnumError(.unavailable, "The Docker daemon of node \(node.name) exited: \(tail)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw MagnumError(.unavailable, "The Docker daemon of node \(node.name) did not answer within \(configuration.readyTimeout).")
    }

    /// `swarm init` on the leader when it is not in a swarm yet, joins every other node that is
    /// not, loads the test image where it is missing and sets worker labels.
    func formSwarm(_ cluster: LocalCluster, leader: LocalNode, members: [LocalNode], engines: NodeEngines,
                   spec: ClusterSpec, log: Logger) async throws {
        let leaderEngine = try engines.engine(for: leader)
        if try await leaderEngine.swarmState(leader.address).localNodeState == "inactive" {
            try await leaderEngine.initSwarm(leader.address)
            log.info("swarm initialized", metadata: ["node": .string(leader.name)])
        }
        let tokens = try await leaderEngine.joinTokens(leader.address)
        let image = TestImage(directory: state.imageDirectory, busybox: configuration.busybox, host: host)
        let archive = try await image.ensure(on: leader.address, engine: leaderEngine)
        @Sendable func join(_ node: LocalNode) async throws {
            let engine = try engines.engine(for: node)
            var swarm = try await engine.swarmState(node.address)
            if swarm.localNodeState == "error" {
                try await engine.leave(node.address)
                swarm.localNodeState = "inactive"
            }
            if swarm.localNodeState == "inactive" {
                try await engine.join(node.address, manager: leader.address, token: node.role == .manager ? tokens.manager : tokens.worker)
            }
            if try await !engine.hasImage(node.address, TestImage.reference) {
                try await engine.loadImage(node.address, archive: archive)
            }
        }
        // Managers join one at a time (each changes the raft membership), workers all at once.
        for node in members where node.role == .manager && node.name != leader.name {
            try await join(node)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for node in members where node.role == .worker {
                group.addTask { try await join(node) }
            }
            try await group.waitForAll()
        }
        try await applyLabels(cluster, leader: leader, engine: leaderEngine, spec: spec)
    }

    /// The Swarm node labels of the cluster's nodes: their nodegroup's labels plus
    /// `magnum.nodegroup` and `magnum.role`.
    func applyLabels(_ cluster: LocalCluster, leader: LocalNode, engine: DockerEngine, spec: ClusterSpec) async throws {
        let byName = Dictionary(cluster.nodes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for swarmNode in try await engine.nodes(leader.address) {
            guard let node = byName[swarmNode.hostname], !node.removing, let ng = spec.nodegroup(node.nodegroupUUID) else { continue }
            var labels = ng.labels
            labels["magnum.nodegroup"] = ng.name ?? ng.uuid
            labels["magnum.role"] = ng.isMaster ? "master" : "worker"
            guard labels != swarmNode.labels else { continue }
            var nodeSpec = swarmNode.spec
            nodeSpec["Labels"] = labels
            try await engine.updateNode(leader.address, swarmNode, spec: nodeSpec)
        }
    }

    /// Removes one node: drain it (when its daemon runs) and wait (at most `drainTimeout`) for its tasks to stop,
    /// demote it if it manages, `node rm --force` (no `swarm leave`, pitfall 8), power it off.
    func removeNode(_ cluster: LocalCluster, _ node: LocalNode, engines: NodeEngines, log: Logger) async throws {
        if let leader = cluster.leader, leader.name != node.name, let engine = try? engines.engine(for: leader) {
            let matching = { (n: DockerEngine.SwarmNode) in n.hostname == node.name }
            // A node whose daemon is dead has nothing to drain (its tasks cannot stop gracefully).
            let alive = host.isDaemonRunning(directory: state.nodeDirectory(cluster, node))
            for swarmNode in try await engine.nodes(leader.address).filter(matching) {
                if alive && swarmNode.availability != "drain" && swarmNode.state == "ready" {
                    var spec = swarmNode.spec
                    spec["Availability"] = "drain"
                    try await engine.updateNode(leader.address, swarmNode, spec: spec)
                    let clock = ContinuousClock()
                    let start = clock.now
                    while clock.now - start < configuration.drainTimeout, try await engine.activeTasks(leader.address, nodeID: swarmNode.id) > 0 {
                        try await Task.sleep(for: .milliseconds(200))
                    }
                }
                if let current = try await engine.nodes(leader.address).first(where: { $0.id == swarmNode.id }), current.role == "manager" {
                    var spec = current.spec
                    spec["Role"] = "worker"
                    try await engine.updateNode(leader.address, current, spec: spec)
                }
                try await engine.removeNode(leader.address, id: swarmNode.id)
            }
        }
        try await host.powerOff(cluster, node, directory: state.nodeDirectory(cluster, node))
        log.info("node removed", metadata: ["node": .string(node.name)])
    }

    /// Waits until every node of the cluster is Ready in the swarm, then removes Swarm entries
    /// that are down and belong to no node (left by nodes that were replaced).
    func waitReady(_ cluster: LocalCluster, engines: NodeEngines) async throws {
        guard let leader = cluster.leader else { return }
        let engine = try engines.engine(for: leader)
        let wanted = Set(cluster.nodes.filter { !$0.removing }.map(\.name))
        let clock = ContinuousClock()
        let start = clock.now
        var missing = wanted
        while clock.now - start < configuration.readyTimeout {
            let nodes = (try? await engine.nodes(leader.address, timeout: .seconds(5))) ?? []
            missing = wanted.subtracting(nodes.filter { $0.state == "ready" }.map(\.hostname))
            if missing.isEmpty {
                let ready = Set(nodes.filter { $0.state == "ready" }.map(\.id))
                for stale in nodes where !ready.contains(stale.id) && stale.state == "down" {
                    try? await engine.removeNode(leader.address, id: stale.id)
                }
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw MagnumError(.unavailable, "Nodes \(missing.sorted().joined(separator: ", ")) were not Ready within \(configuration.readyTimeout).")
    }
}
