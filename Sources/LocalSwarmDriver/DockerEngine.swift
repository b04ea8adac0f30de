import AsyncHTTPClient
import Foundation
import MagnumCore
import MagnumDrivers
import NIOCore
import NIOHTTP1

/// A client certificate and the CA a node's daemon trusts: what the driver presents to the
/// node, as a user with `coe cluster config` files would. Persisted per CA fingerprint, so nodes
/// still on an old CA during a rotation stay reachable.
struct NodeCredentials: Sendable {
    var caPEM: String
    var certificatePEM: String
    var keyPEM: String

    /// A short, stable name of the CA: the FNV-1a hash of its PEM without line breaks (a
    /// directory name, not a security check: trust comes from the TLS handshake).
    var fingerprint: String { Self.fingerprint(of: caPEM) }

    static func fingerprint(of pem: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in pem.utf8 where byte != 10 && byte != 13 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(format: "%016llx", hash)
    }

    /// Writes `ca.pem`, `cert.pem` and `key.pem` (0600) into `directory`.
    func write(to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for (name, text) in [("ca.pem", caPEM), ("cert.pem", certificatePEM), ("key.pem", keyPEM)] {
            let path = "\(directory)/\(name)"
            guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw MagnumError(.internal, "Could not write \(path).")
            }
        }
    }

    /// Reads what `write(to:)` wrote, or nil.
    static func read(from directory: String) -> NodeCredentials? {
        func text(_ name: String) -> String? { try? String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8) }
        guard let ca = text("ca.pem"), let cert = text("cert.pem"), let key = text("key.pem") else { return nil }
        return NodeCredentials(caPEM: ca, certificatePEM: cert, keyPEM: key)
    }
}

/// The Docker Engine API of the nodes, over mutual TLS (AsyncHTTPClient): one HTTP client per set
/// of credentials; `shutdown()` when done.
final class DockerEngine: Sendable {
    /// The API version every call uses: Docker 20.10's, which newer daemons also serve.
    static let apiVersion = "v1.41"

    let client: HTTPClient

    init(credentials: NodeCredentials) throws {
        client = try AdminCredentials(caPEM: credentials.caPEM, certificatePEM: credentials.certificatePEM, keyPEM: credentials.keyPEM)
            .httpClient(connectTimeout: .seconds(2), readTimeout: .seconds(120))
    }

    func shutdown() async {
        try? await client.shutdown()
    }

    /// One call: the JSON body (or raw bytes) in, the status and body out. A node that cannot
    /// be reached throws `.unavailable`; an answer ≥ 400 throws with the engine's message.
    func call(_ address: String, _ method: HTTPMethod, _ path: String, json: Any? = nil, bytes: [UInt8]? = nil,
              contentType: String? = nil, timeout: Duration = .seconds(30), accept: Set<Int> = []) async throws -> (status: Int, body: ByteBuffer) {
        var request = HTTPClientRequest(url: "https://\(address):2376/\(Self.apiVersion)\(path)")
        request.method = method
        if let json {
            let data = try JSONSerialization.data(withJSONObject: json)
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: data))
        } else if let bytes {
            request.headers.add(name: "Content-Type", value: contentType ?? "application/x-tar")
            request.body = .bytes(ByteBuffer(bytes: bytes))
        }
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await client.execute(request, timeout: .seconds(Int64(timeout.components.seconds)))
            body = try await response.body.collect(upTo: 512 << 20)
        } catch {
            throw MagnumError(.unavailable, "The Docker Engine API at \(address):2376 did not answer: \(error)")
        }
        let status = Int(response.status.code)
        if status >= 400 && !accept.contains(status) {
            let message = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])?["message"] as? String
            throw EngineError(status: status, message: message ?? (body.getString(at: body.readerIndex, length: body.readableBytes) ?? ""))
        }
        return (status, body)
    }

    /// An error answer of the engine.
    struct EngineError: Error, CustomStringConvertible {
        var status: Int
        var message: String
        var description: String { "Docker Engine API error \(status): \(message)" }
    }

    /// A JSON object answer.
    func object(_ address: String, _ path: String, timeout: Duration = .seconds(10)) async throws -> [String: Any] {
        let (_, body) = try await call(address, .GET, path, timeout: timeout)
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] else {
            throw MagnumError(.internal, "The Docker Engine API at \(address) answered \(path) with something else than an object.")
        }
        return object
    }

    /// A JSON array answer.
    func array(_ address: String, _ path: String, timeout: Duration = .seconds(10)) async throws -> [[String: Any]] {
        let (_, body) = try await call(address, .GET, path, timeout: timeout)
        guard let array = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [[String: Any]] else {
            throw MagnumError(.internal, "The Docker Engine API at \(address) answered \(path) with something else than an array.")
        }
        return array
    }

    // MARK: - Engine

    /// The engine's version (`Version`), or nil when it does not answer yet.
    func version(_ address: String) async -> String? {
        (try? await object(address, "/version", timeout: .seconds(2)))?["Version"] as? String
    }

    /// The node's view of its swarm membership.
    struct SwarmState {
        var localNodeState: String
        var nodeID: String
        var controlAvailable: Bool
    }

    func swarmState(_ address: String) async throws -> SwarmState {
        let info = try await object(address, "/info")
        let swarm = info["Swarm"] as? [String: Any] ?? [:]
        return SwarmState(localNodeState: swarm["LocalNodeState"] as? String ?? "inactive",
                          nodeID: swarm["NodeID"] as? String ?? "", controlAvailable: swarm["ControlAvailable"] as? Bool ?? false)
    }

    // MARK: - Swarm

    /// `swarm init` on the first manager, with the overlay pool 198.19.0.0/16 (pitfall 11).
    func initSwarm(_ address: String) async throws {
        _ = try await call(address, .POST, "/swarm/init", json: [
            "ListenAddr": "\(address):2377", "AdvertiseAddr": "\(address):2377",
            "DefaultAddrPool": ["198.19.0.0/16"], "SubnetSize": 24,
        ] as [String: Any])
    }

    /// The worker and manager join tokens.
    func joinTokens(_ manager: String) async throws -> (worker: String, manager: String) {
        let swarm = try await object(manager, "/swarm")
        let tokens = swarm["JoinTokens"] as? [String: Any] ?? [:]
        guard let worker = tokens["Worker"] as? String, let managerToken = tokens["Manager"] as? String else {
            throw MagnumError(.internal, "The swarm at \(manager) has no join tokens.")
        }
        return (worker, managerToken)
    }

    func join(_ address: String, manager: String, token: String) async throws {
        _ = try await call(address, .POST, "/swarm/join", json: [
            "ListenAddr": "\(address):2377", "AdvertiseAddr": "\(address):2377",
            "RemoteAddrs": ["\(manager):2377"], "JoinToken": token,
        ] as [String: Any], timeout: .seconds(60))
    }

    func leave(_ address: String) async throws {
        _ = try await call(address, .POST, "/swarm/leave?force=true", accept: [503])
    }

    /// A Swarm node as a manager lists it.
    struct SwarmNode: Sendable {
        var id: String
        var version: Int
        var hostname: String
        var state: String
        var availability: String
        var role: String
        var labels: [String: String]
        /// The node's `Spec` as the engine sent it (JSON), to send back changed.
        var specJSON: Data
        var engineVersion: String?

        /// The node's spec as a JSON object.
        var spec: [String: Any] { (try? JSONSerialization.jsonObject(with: specJSON)) as? [String: Any] ?? [:] }
    }

    func nodes(_ manager: String, timeout: Duration = .seconds(10)) async throws -> [SwarmNode] {
        try await array(manager, "/nodes", timeout: timeout).map { n in
            let spec = n["Spec"] as? [String: Any] ?? [:]
            let description = n["Description"] as? [String: Any] ?? [:]
            return SwarmNode(
                id: n["ID"] as? String ?? "",
                version: (n["Version"] as? [String: Any])?["Index"] as? Int ?? 0,
                hostname: description["Hostname"] as? String ?? "",
                state: (n["Status"] as? [String: Any])?["State"] as? String ?? "unknown",
                availability: spec["Availability"] as? String ?? "active",
                role: spec["Role"] as? String ?? "worker",
                labels: spec["Labels"] as? [String: String] ?? [:],
                specJSON: (try? JSONSerialization.data(withJSONObject: spec)) ?? Data("{}".utf8),
                engineVersion: (description["Engine"] as? [String: Any])?["EngineVersion"] as? String
            )
        }
    }

    /// Replaces a node's spec (labels, availability, role).
    func updateNode(_ manager: String, _ node: SwarmNode, spec: [String: Any]) async throws {
        _ = try await call(manager, .POST, "/nodes/\(node.id)/update?version=\(node.version)", json: spec)
    }

    func removeNode(_ manager: String, id: String) async throws {
        _ = try await call(manager, .DELETE, "/nodes/\(id)?force=true", accept: [404])
    }

    /// The tasks scheduled on a node that have not stopped yet.
    func activeTasks(_ manager: String, nodeID: String) async throws -> Int {
        let filters = #"{"node":["\#(nodeID)"]}"#.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let tasks = try await array(manager, "/tasks?filters=\(filters)")
        let running: Set<String> = ["new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running"]
        return tasks.filter { running.contains(($0["Status"] as? [String: Any])?["State"] as? String ?? "") }.count
    }

    // MARK: - Images

    func hasImage(_ address: String, _ reference: String) async throws -> Bool {
        let (status, _) = try await call(address, .GET, "/images/\(reference)/json", accept: [404])
        return status == 200
    }

    /// `docker import` of a root filesystem tarball as `repository:tag`.
    func importImage(_ address: String, rootfs: [UInt8], repository: String, tag: String) async throws {
        _ = try await call(address, .POST, "/images/create?fromSrc=-&repo=\(repository)&tag=\(tag)", bytes: rootfs, timeout: .seconds(120))
    }

    /// `docker save` of one image.
    func saveImage(_ address: String, _ reference: String) async throws -> [UInt8] {
        let (_, body) = try await call(address, .GET, "/images/\(reference)/get", timeout: .seconds(120))
        return Array(body.readableBytesView)
    }

    /// `docker load` of a saved image.
    func loadImage(_ address: String, archive: [UInt8]) async throws {
        _ = try await call(address, .POST, "/images/load?quiet=1", bytes: archive, timeout: .seconds(120))
    }
}
