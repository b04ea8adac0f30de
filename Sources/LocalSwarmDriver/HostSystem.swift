import Foundation
import MagnumCore
import Subprocess

/// The host-level steps of the local driver: programs run as subprocesses (`ip`, `iptables`,
/// `setsid`/`nsenter`/`unshare`, `tar`) and cgroup files. Every step is idempotent: it checks
/// what exists before creating and ignores what is already gone when removing.
struct HostSystem: Sendable {
    /// The cgroup hierarchy of the host.
    let cgroups = NodeCgroups()

    /// What a program printed and whether it succeeded.
    struct Outcome {
        var succeeded: Bool
        var output: String
        var error: String
    }

    /// Runs `program` (looked up on PATH) with `arguments`; when `check`, a failure throws with
    /// the program's error output.
    @discardableResult
    func run(_ program: String, _ arguments: [String], check: Bool = true) async throws -> Outcome {
        let result: ExecutionResult<Void, StringOutput<Unicode.UTF8>, StringOutput<Unicode.UTF8>>
        do {
            result = try await Subprocess.run(.name(program), arguments: Arguments(arguments),
                                              output: .string(limit: 1 << 20), error: .string(limit: 1 << 16))
        } catch {
            throw MagnumError(.internal, "Could not run \(program): \(error)")
        }
        let outcome = Outcome(succeeded: result.terminationStatus.isSuccess, output: result.standardOutput,
                              error: result.standardError.trimmingCharacters(in: .whitespacesAndNewlines))
        if check && !outcome.succeeded {
            throw MagnumError(.internal, "\(program) \(arguments.joined(separator: " ")) failed: \(outcome.error)")
        }
        return outcome
    }

    /// Starts `script` under `/bin/sh` in a new session (`setsid -f`): it outlives this process
    /// and its process group. The script must redirect its own output.
    func spawnDetached(_ script: String) async throws {
        let result = try await Subprocess.run(.name("setsid"), arguments: ["-f", "/bin/sh", "-c", script],
                                              output: .discarded, error: .string(limit: 1 << 16))
        guard result.terminationStatus.isSuccess else {
            throw MagnumError(.internal, "Could not start a node daemon: \result.standardError")
        }
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    // MARK: - Cluster network

    /// True when index `k` is in use on the host by something else than a cluster of ours
    /// with that index: a link named like its bridge, or a route to its subnet.
    func indexTaken(_ k: Int) -> Bool {
        if Self.exists("/sys/class/net/msw\(k)") { return true }
        guard let routes = try? String(contentsOfFile: "/proc/net/route", encoding: .utf8) else { return false }
        // /proc/net/route: destination as little-endian hex; 198.18.K.0 → 00 K 12 C6.
        let destination = String(format: "00%02X12C6", k)
        return routes.split(separator: "\n").dropFirst().contains { $0.split(separator: "\t").dropFirst().first.map(String.init) == destination }
    }

    /// The cluster's bridge with the host's address on it, and the FORWARD exception that lets
    /// bridged node-to-node traffic through the host's iptables (pitfall 2).
    func ensureBridge(_ cluster: LocalCluster) async throws {
        if !Self.exists("/sys/class/net/\(cluster.bridge)") {
            let added = try await run("ip", ["link", "add", cluster.bridge, "type", "bridge"], check: false)
            if !added.succeeded && !Self.exists("/sys/class/net/\(cluster.bridge)") {
                throw MagnumError(.internal, "Could not create the bridge \(cluster.bridge): \(added.error)")
            }
        }
        try await run("ip", ["addr", "replace", "\(cluster.gateway)/24", "dev", cluster.bridge])
        try await run("ip", ["link", "set", cluster.bridge, "up"])
        let rule = ["FORWARD", "-i", cluster.bridge, "-o", cluster.bridge, "-j", "ACCEPT"]
        if try await !run("iptables", ["-C"] + rule, check: false).succeeded {
            try await run("iptables", ["-I"] + rule)
        }
    }

    /// Removes the cluster's bridge and FORWARD exception.
    func removeBridge(index: Int) async throws {
        let bridge = "msw\(index)"
        let rule = ["FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"]
        while try await run("iptables", ["-D"] + rule, check: false).succeeded {}
        if Self.exists("/sys/class/net/\(bridge)") { try await run("ip", ["link", "del", bridge], check: false) }
    }

    /// The node's network namespace and its veth on the bridge, with the node's address and a MAC
    /// derived from it (a re-used address keeps its MAC, so no stale ARP entry, pitfall 3). No
    /// default route: nothing in the node reaches beyond the bridge.
    func ensureNodeNetwork(_ cluster: LocalCluster, _ node: LocalNode) async throws {
        let ns = cluster.namespace(node), veth = cluster.veth(node)
        if !Self.exists("/run/netns/\(ns)") { try await run("ip", ["netns", "add", ns]) }
        if !Self.exists("/sys/class/net/\(veth)") {
            let octets = node.address.split(separator: ".").compactMap { Int($0) }
            let mac = "02:42:" + octets.map { String(format: "%02x", $0) }.joined(separator: ":")
            try await run("ip", ["link", "add", veth, "type", "veth", "peer", "name", "eth0", "address", mac, "netns", ns])
        }
        try await run("ip", ["link", "set", veth, "master", cluster.bridge, "up"])
        try await run("ip", ["-n", ns, "addr", "replace", "\(node.address)/24", "dev", "eth0"])
        try await run("ip", ["-n", ns, "link", "set", "eth0", "up"])
        try await run("ip", ["-n", ns, "link", "set", "lo", "up"])
    }

    // MARK: - Node daemons

    /// Starts the node's `dockerd` in its namespaces and cgroup, detached: moved into the cgroup
    /// first (children inherit it), network namespace by `nsenter --net` (never `ip netns exec`,
    /// which remounts /sys and hides the cgroups, pitfall 1), its own UTS namespace (hostname)
    /// and private mount namespace with the node's own `/run` and `/var/lib/docker` (pitfall 6).
    /// Its `/run` starts empty, as after a reboot: a killed daemon's pid file and sockets would
    /// stop the new one.
    func startDaemon(_ cluster: LocalCluster, _ node: LocalNode, directory d: String, dockerd: String) async throws {
        try? FileManager.default.removeItem(atPath: "\(d)/run")
        try FileManager.default.createDirectory(atPath: "\(d)/run", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let cgroup = cluster.cgroup(node)
        let enter = cgroups.procsFiles(cgroup).map { "echo $$ > \($0)" }.joined(separator: " && ")
        let daemon = [
            dockerd, "--config-file", "\(d)/daemon.json", "--pidfile", "/run/docker.pid",
            "-H", "unix:///run/docker.sock", "-H", "tcp://\(node.address):2376",
            "--tlsverify", "--tlscacert", "\(d)/ca.pem", "--tlscert", "\(d)/server-cert.pem", "--tlskey", "\(d)/server-key.pem",
            "--cgroup-parent", "/\(cgroup)/ctr", "--storage-driver", "overlay2", "--log-level", "warn",
        ].joined(separator: " ")
        let inner = "hostname \(node.name) && mount --bind \(d)/run /run && mount --bind \(d)/data /var/lib/docker && exec \(daemon)"
        let script = """
            exec >>\(d)/dockerd.log 2>&1 </dev/null
            \(enter) || exit 1
            export DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1
            exec nsenter --net=/run/netns/\(cluster.namespace(node)) unshare --uts --mount --propagation private /bin/sh -c '\(inner)'
            """
        try await spawnDetached(script)
    }

    /// True when some process runs in the node's cgroup.
    func isRunning(_ cluster: LocalCluster, _ node: LocalNode) -> Bool { !cgroups.processes(cluster.cgroup(node)).isEmpty }

    /// True when the node's `dockerd` runs: the process of its pid file (in the node's own
    /// `/run`) is alive and is a dockerd. A node whose daemon died may still hold containerd,
    /// shims and tasks in its cgroup; this is what tells such a node from a healthy one.
    func isDaemonRunning(directory d: String) -> Bool {
        guard let text = try? String(contentsOfFile: "\(d)/run/docker.pid", encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
              let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        return String(decoding: command, as: UTF8.self).contains("dockerd")
    }

    /// Powers a node off like pulling a VM's plug: SIGKILL to every process of its cgroup
    /// (dockerd, containerd, shims, tasks), then its veth, namespace, cgroups and files. The
    /// node's mounts vanish with its mount namespace.
    func powerOff(_ cluster: LocalCluster, _ node: LocalNode, directory: String) async throws {
        await killAll(cgroup: cluster.cgroup(node))
        if Self.exists("/sys/class/net/\(cluster.veth(node))") { try await run("ip", ["link", "del", cluster.veth(node)], check: false) }
        if Self.exists("/run/netns/\(cluster.namespace(node))") { try await run("ip", ["netns", "del", cluster.namespace(node)], check: false) }
        cgroups.remove(cluster.cgroup(node))
        if Self.exists(directory) { try FileManager.default.removeItem(atPath: directory) }
    }

    /// SIGKILLs every process of a cgroup tree until none is left (at most about 5 s).
    func killAll(cgroup: String) async {
        for _ in 0..<50 {
            let pids = cgroups.processes(cgroup)
            if pids.isEmpty { return }
            for pid in pids { kill(pid, SIGKILL) }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Removes what a crashed driver may have left of cluster index `k` by name: namespaces,
    /// veths and cgroups (with their processes).
    func sweep(index k: Int) async throws {
        let prefix = "msw\(k)-"
        for ns in (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? [] where ns.hasPrefix(prefix) {
            try await run("ip", ["netns", "del", ns], check: false)
        }
        for link in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net")) ?? [] where link.hasPrefix("msw\(k)n") {
            try await run("ip", ["link", "del", link], check: false)
        }
        for cgroup in cgroups.children(prefix: prefix) {
            await killAll(cgroup: cgroup)
            cgroups.remove(cgroup)
        }
        cgroups.removeParentIfEmpty()
    }
}

/// The node cgroups: `magnum-local-swarm/<node>` in the v1 memory, pids, cpu and cpuacct
/// hierarchies (or the v2 unified one, daemon in `<node>/daemon`), sized by the flavor.
struct NodeCgroups: Sendable {
    static let parent = "magnum-local-swarm"
    let root = "/sys/fs/cgroup"
    let unified = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")
    let v1Controllers = ["memory", "pids", "cpu", "cpuacct"]

    /// Creates the node's cgroup with a memory limit and a CPU quota (0: unlimited).
    func create(_ cgroup: String, memoryMB: Int, vcpus: Int) throws {
        let files = FileManager.default
        if unified {
            for dir in ["\(root)/\(Self.parent)", "\(root)/\(cgroup)"] {
                try files.createDirectory(atPath: dir, withIntermediateDirectories: true)
                try? "+memory +pids +cpu".write(toFile: "\(dir)/cgroup.subtree_control", atomically: false, encoding: .utf8)
            }
            try files.createDirectory(atPath: "\(root)/\(cgroup)/daemon", withIntermediateDirectories: true)
            if memoryMB > 0 { try? "\(memoryMB << 20)".write(toFile: "\(root)/\(cgroup)/memory.max", atomically: false, encoding: .utf8) }
            if vcpus > 0 { try? "\(vcpus * 100_000) 100000".write(toFile: "\(root)/\(cgroup)/cpu.max", atomically: false, encoding: .utf8) }
            return
        }
        for controller in v1Controllers {
            try files.createDirectory(atPath: "\(root)/\(controller)/\(cgroup)", withIntermediateDirectories: true)
        }
        if memoryMB > 0 {
            try? "\(memoryMB << 20)".write(toFile: "\(root)/memory/\(cgroup)/memory.limit_in_bytes", atomically: false, encoding: .utf8)
        }
        if vcpus > 0 {
            try? "100000".write(toFile: "\(root)/cpu/\(cgroup)/cpu.cfs_period_us", atomically: false, encoding: .utf8)
            try? "\(vcpus * 100_000)".write(toFile: "\(root)/cpu/\(cgroup)/cpu.cfs_quota_us", atomically: false, encoding: .utf8)
        }
    }

    /// The `cgroup.procs` files a process writes itself into to join the node's cgroup.
    func procsFiles(_ cgroup: String) -> [String] {
        unified ? ["\(root)/\(cgroup)/daemon/cgroup.procs"] : v1Controllers.map { "\(root)/\($0)/\(cgroup)/cgroup.procs" }
    }

    /// Every process in the node's cgroup tree.
    func processes(_ cgroup: String) -> [pid_t] {
        let base = unified ? "\(root)/\(cgroup)" : "\(root)/pids/\(cgroup)"
        guard let walker = FileManager.default.enumerator(atPath: base) else { return [] }
        var pids: [pid_t] = []
        var files = ["cgroup.procs"]
        while let entry = walker.nextObject() as? String {
            if entry.hasSuffix("/cgroup.procs") { files.append(entry) }
        }
        for file in files {
            guard let text = try? String(contentsOfFile: "\(base)/\(file)", encoding: .utf8) else { continue }
            pids += text.split(separator: "\n").compactMap { pid_t($0) }
        }
        return pids
    }

    /// Removes the node's cgroup depth-first in every hierarchy: dockerd creates its
    /// `--cgroup-parent` in all of them, not only those the driver made (pitfall 7).
    func remove(_ cgroup: String) {
        let hierarchies = unified ? [root] : ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).map { "\(root)/\($0)" }
        for hierarchy in hierarchies {
            let dir = "\(hierarchy)/\(cgroup)"
            guard FileManager.default.fileExists(atPath: dir) else { continue }
            var dirs = [dir]
            if let walker = FileManager.default.enumerator(atPath: dir) {
                while let entry = walker.nextObject() as? String {
                    if walker.fileAttributes?[.type] as? FileAttributeType == .typeDirectory { dirs.append("\(dir)/\(entry)") }
                }
            }
            for d in dirs.sorted(by: { $0.count > $1.count }) { rmdir(d) }
        }
    }

    /// The node cgroups whose names start with `prefix`.
    func children(prefix: String) -> [String] {
        let base = unified ? "\(root)/\(Self.parent)" : "\(root)/pids/\(Self.parent)"
        return ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).filter { $0.hasPrefix(prefix) }.map { "\(Self.parent)/\($0)" }
    }

    /// Removes the shared parent when no cluster's node is left in it.
    func removeParentIfEmpty() {
        let hierarchies = unified ? [root] : ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).map { "\(root)/\($0)" }
        for hierarchy in hierarchies { rmdir("\(hierarchy)/\(Self.parent)") }
    }
}
