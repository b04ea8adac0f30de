import Foundation
import MagnumCore

/// The user data of a node: an Ignition (v3.3) config for Fedora CoreOS that writes the COE's
/// bootstrap script, the cluster's settings and CA certificates (never a CA key), a oneshot
/// unit that runs the script once the network is up, and the node's agent (`agent.sh` as
/// `magnum-agent`, every 30 s once the node is bootstrapped), which runs the Heat software
/// deployments of the node's server (a CA rotation) with the credentials Heat adds to the
/// config (`user_data_format: SOFTWARE_CONFIG`).
///
/// The settings carry only short-lived credentials: a Keystone token scoped to the cluster's
/// trust (nodes use it to have their own keys' CSRs signed by Magnum) and, for Kubernetes, a
/// kubeadm bootstrap token and certificate key that expire within two hours. (Heat adds one
/// more, the agent's: a user of its stack domain that can read only this server's deployments.)
/// Heat replaces the
/// placeholders of `/etc/magnum/heat.env` per node (`__WAIT_ENDPOINT__`, `__WAIT_TOKEN__`,
/// `__API_ADDRESS__`, `__NODE_NAME__`, `__NODE_INDEX__`, `__VOLUME_ID__`); they are URL-safe, so the file is a
/// plain `data:` URL.
struct NodeBootstrap: Sendable {
    /// A node's role.
    enum Role: String, Sendable { case master, worker }

    /// The bootstrap scripts by file name.
    let scripts: [String: String]

    /// The Ignition JSON for nodes of `role` in a cluster of `coe`.
    func userData(coe: String, role: Role, settings: [(String, String)], certificates: [(path: String, pem: String)]) throws -> String {
        let scriptName = "\(coe)-\(role.rawValue).sh"
        guard let script = scripts[scriptName], let common = scripts["common.sh"], let agent = scripts["agent.sh"] else {
            throw MagnumError(.notSupported, "The Heat driver has no bootstrap script \(scriptName) (or common.sh, agent.sh).")
        }
        let env = settings.map { "\($0.0)=\(Self.shellQuoted($0.1))\n" }.joined()
        let heatEnv = ["WAIT_ENDPOINT=__WAIT_ENDPOINT__", "WAIT_TOKEN=__WAIT_TOKEN__", "API_ADDRESS=__API_ADDRESS__",
                       "NODE_NAME=__NODE_NAME__", "NODE_INDEX=__NODE_INDEX__", "VOLUME_ID=__VOLUME_ID__"].joined(separator: "%0A") + "%0A"
        var files: [JSON] = [
            Self.file("/usr/local/bin/magnum-bootstrap", mode: 0o755, source: Self.base64(script)),
            Self.file("/usr/local/lib/magnum/common.sh", mode: 0o644, source: Self.base64(common)),
            Self.file("/usr/local/bin/magnum-agent", mode: 0o755, source: Self.base64(agent)),
            Self.file("/etc/magnum/cluster.env", mode: 0o600, source: Self.base64(env)),
            Self.file("/etc/magnum/heat.env", mode: 0o600, source: "data:," + heatEnv),
        ]
        for c in certificates { files.append(Self.file(c.path, mode: 0o644, source: Self.base64(c.pem + "\n"))) }
        let unit = """
            [Unit]
            Description=Magnum node bootstrap (\(coe) \(role.rawValue))
            Wants=network-online.target
            After=network-online.target
            ConditionPathExists=!/var/lib/magnum/bootstrap.done

            [Service]
            Type=oneshot
            RemainAfterExit=yes
            ExecStart=/usr/local/bin/magnum-bootstrap
            ExecStartPost=/usr/bin/mkdir -p /var/lib/magnum
            ExecStartPost=/usr/bin/touch /var/lib/magnum/bootstrap.done
            TimeoutStartSec=0

            [Install]
            WantedBy=multi-user.target

            """
        let agentService = """
            [Unit]
            Description=Magnum node agent (Heat software deployments of this server)
            Wants=network-online.target
            After=network-online.target magnum-bootstrap.service
            ConditionPathExists=/var/lib/magnum/bootstrap.done

            [Service]
            Type=oneshot
            ExecStart=/usr/local/bin/magnum-agent

            """
        let agentTimer = """
            [Unit]
            Description=Runs the Magnum node agent every 30 seconds

            [Timer]
            OnBootSec=60
            OnUnitInactiveSec=30

            [Install]
            WantedBy=timers.target

            """
        let config: JSON = [
            "ignition": ["version": "3.3.0"],
            "storage": ["files": .array(files)],
            "systemd": ["units": [
                ["name": "magnum-bootstrap.service", "enabled": true, "contents": .string(unit)],
                ["name": "magnum-agent.service", "contents": .string(agentService)],
                ["name": "magnum-agent.timer", "enabled": true, "contents": .string(agentTimer)],
            ]],
        ]
        return config.serialized()
    }

    /// The script a node's agent runs for a CA rotation of a `coe` cluster: `common.sh`, then
    /// `<coe>-rotate-ca.sh`, so that it does not depend on the `common.sh` the node booted with.
    func rotationScript(coe: String) throws -> String {
        let name = "\(coe)-rotate-ca.sh"
        guard let script = scripts[name], let common = scripts["common.sh"] else {
            throw MagnumError(.notSupported, "The Heat driver has no CA rotation script \(name) (or common.sh).")
        }
        return common + "\n" + script
    }

    /// One Ignition file entry.
    static func file(_ path: String, mode: Int, source: String) -> JSON {
        ["path": .string(path), "mode": .int(mode), "overwrite": true, "contents": ["source": .string(source)]]
    }

    /// A base64 `data:` URL of `text`.
    static func base64(_ text: String) -> String { "data:;base64," + Data(text.utf8).base64EncodedString() }

    /// `s` single-quoted for a shell (and systemd `EnvironmentFile`-free sourcing).
    static func shellQuoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// A random kubeadm bootstrap token (`[a-z0-9]{6}.[a-z0-9]{16}`).
    static func kubeadmToken() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        var g = SystemRandomNumberGenerator()
        func part(_ n: Int) -> String { String((0..<n).map { _ in alphabet.randomElement(using: &g)! }) }
        return part(6) + "." + part(16)
    }

    /// A random hex string of `bytes` bytes (kubeadm's certificate key: 32).
    static func randomHex(bytes: Int) -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &g)) }.joined()
    }
}
