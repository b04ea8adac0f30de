import AsyncHTTPClient
import Foundation
import MagnumCore
import MagnumDrivers
import NIOCore
import NIOHTTP1

/// A Heat-built cluster's own API, asked as Magnum's administrator (the cluster CA and Magnum's
/// client certificate): its health — Kubernetes' `/healthz` and its nodes' `Ready` conditions,
/// or Swarm-mode's nodes as the managers' Docker Engine API lists them — and the join tokens
/// registered there (`JoinCredentials`).
///
/// - HEALTHY: the API answers and every node is Ready;
/// - UNHEALTHY: the API answers that it is not healthy, or a node is not Ready;
/// - UNKNOWN: the API could not be asked (unreachable, TLS refused, an unreadable answer).
///
/// The reasons are upstream's shape: `{"api": "ok", "<node>.Ready": "True"}`.
struct ClusterAPI: Sendable {
    /// The client to ask with (the cluster's `AdminCredentials`).
    var client: HTTPClient

    /// The verdict and its reasons.
    struct Verdict: Equatable, Sendable {
        var status: HealthStatus
        var reasons: [String: String]
    }

    /// Asks the cluster at `apiAddress` (`https://host:6443` for Kubernetes, `tcp://host:2376`
    /// for Swarm-mode).
    func probe(coe: String, apiAddress: String) async -> Verdict {
        do {
            return coe == "kubernetes" ? try await kubernetes(apiAddress) : try await swarm(apiAddress)
        } catch {
            let message = (error as? MagnumError)?.message ?? String(describing: error)
            return Verdict(status: .unknown, reasons: ["api": message])
        }
    }

    /// Kubernetes: `/healthz`, then `/api/v1/nodes`.
    func kubernetes(_ api: String) async throws -> Verdict {
        let base = api.hasSuffix("/") ? String(api.dropLast()) : api
        let (status, text) = try await get(base + "/healthz")
        guard status == 200 else {
            return Verdict(status: .unhealthy, reasons: ["api": text.isEmpty ? "HTTP \(status)" : String(text.prefix(200))])
        }
        var reasons = ["api": text.trimmingCharacters(in: .whitespacesAndNewlines)]
        let (listed, body) = try await get(base + "/api/v1/nodes")
        guard listed == 200, let items = (try? JSON.parse(string: body))?["items"]?.arrayValue else {
            throw MagnumError(.unavailable, "The Kubernetes API answered \(listed) to GET /api/v1/nodes.")
        }
        for node in items {
            guard let name = node["metadata"]?["name"]?.stringValue else { continue }
            let ready = node["status"]?["conditions"]?.arrayValue?.first { $0["type"]?.stringValue == "Ready" }
            reasons["\(name).Ready"] = ready?["status"]?.stringValue ?? "Unknown"
        }
        return Self.verdict(reasons, nodes: items.count)
    }

    /// Swarm-mode: the managers' `/nodes` over the engine's mutual TLS.
    func swarm(_ api: String) async throws -> Verdict {
        var base = api.hasPrefix("tcp://") ? "https://" + api.dropFirst("tcp://".count) : api
        if base.hasSuffix("/") { base.removeLast() }
        let (status, body) = try await get(base + "/v1.41/nodes")
        guard status == 200, let nodes = (try? JSON.parse(string: body))?.arrayValue else {
            let message = (try? JSON.parse(string: body))?["message"]?.stringValue ?? "HTTP \(status)"
            return Verdict(status: .unhealthy, reasons: ["api": message])
        }
        var reasons = ["api": "ok"]
        for node in nodes {
            guard let name = node["Description"]?["Hostname"]?.stringValue ?? node["ID"]?.stringValue else { continue }
            reasons["\(name).Ready"] = node["Status"]?["State"]?.stringValue == "ready" ? "True" : "False"
        }
        return Self.verdict(reasons, nodes: nodes.count)
    }

    /// HEALTHY when the API said ok and every one of at least one node is Ready.
    static func verdict(_ reasons: [String: String], nodes: Int) -> Verdict {
        let ready = reasons.filter { $0.key.hasSuffix(".Ready") }
        let healthy = reasons["api"] == "ok" && nodes > 0 && ready.count == nodes && ready.values.allSatisfy { $0 == "True" }
        return Verdict(status: healthy ? .healthy : .unhealthy, reasons: reasons)
    }

    /// One GET.
    func get(_ url: String) async throws -> (Int, String) { try await send(.GET, url) }

    /// One request (a JSON body when given): the status and body; unreachable throws `.unavailable`.
    func send(_ method: HTTPMethod, _ url: String, json: JSON? = nil) async throws -> (Int, String) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json.serialized()))
        }
        do {
            let response = try await client.execute(request, timeout: .seconds(15))
            return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 8 << 20)))
        } catch {
            throw MagnumError(.unavailable, "\(CloudHTTP.origin(url)) could not be reached: \(error)")
        }
    }
}

extension HeatDriver {
    /// The health of a settled cluster whose API is at `apiAddress`, asked with its admin
    /// credentials; nil when the cluster has no certificates to ask with.
    func health(_ spec: ClusterSpec, apiAddress: String) async -> ClusterAPI.Verdict? {
        guard let http = try? adminClient(spec) else { return nil }
        let verdict = await ClusterAPI(client: http).probe(coe: spec.template.coe, apiAddress: apiAddress)
        try? await http.shutdown()
        return verdict
    }
}
