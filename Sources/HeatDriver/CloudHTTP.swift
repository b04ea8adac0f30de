import AsyncHTTPClient
import Foundation
import MagnumCore
import MagnumIdentity
import NIOCore
import NIOHTTP1

/// One answer of an OpenStack service.
struct CloudResponse: Sendable {
    /// The HTTP status code.
    var status: Int
    /// The response headers.
    var headers: HTTPHeaders
    /// The body as text.
    var body: String

    /// The body as JSON; nil when it is not JSON (Heat answers updates with HTML).
    var json: JSON? { try? JSON.parse(string: body) }

    /// The service's own error message: Keystone's `error.message`, Heat's
    /// `error.message`/`explanation`, Nova's `<kind>.message`, Neutron's `NeutronError.message`.
    var errorMessage: String {
        guard let j = json?.objectValue else { return body.isEmpty ? "HTTP \(status)" : String(body.prefix(300)) }
        if let m = j["error"]?["message"]?.stringValue, !m.isEmpty { return m }
        if let m = j["explanation"]?.stringValue { return m }
        if let m = j["NeutronError"]?["message"]?.stringValue { return m }
        for value in j.values { if let m = value["message"]?.stringValue { return m } }
        return String(body.prefix(300))
    }
}

/// JSON over HTTP to the cloud's services (Keystone, Heat, Nova, …), on the cloud client
/// (`HTTPClient.cloud`). A service that cannot be reached or answers 5xx/503 is a transient failure
/// (`.unavailable`, retried by the conductor); every other answer is returned to the caller.
struct CloudHTTP: Sendable {
    /// The service's name in messages ("Heat", "Keystone").
    var service: String
    /// How long one request may take.
    var timeout: TimeAmount = .seconds(90)

    /// Sends a request; `token` goes into `X-Auth-Token`.
    func send(_ method: HTTPMethod, _ url: String, token: String?, body: JSON? = nil,
              headers extra: [(String, String)] = []) async throws -> CloudResponse {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "magnum-swift")
        if let token { request.headers.add(name: "X-Auth-Token", value: token) }
        for (name, value) in extra { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body.serialized()))
        }
        let response: HTTPClientResponse
        let text: String
        do {
            response = try await HTTPClient.cloud.execute(request, timeout: timeout)
            text = String(buffer: try await response.body.collect(upTo: 16 << 20))
        } catch {
            throw MagnumError(.unavailable, "\(service) at \(Self.origin(url)) could not be reached: \(error)")
        }
        let answer = CloudResponse(status: Int(response.status.code), headers: response.headers, body: text)
        if answer.status >= 500 {
            throw MagnumError(.unavailable, "\(service) answered \(answer.status) to \(method.rawValue) \(Self.path(url)): \(answer.errorMessage)")
        }
        return answer
    }

    /// Sends a request and returns its JSON body when the status is one of `expect`; any other
    /// status throws a permanent error carrying the service's message (401/403 as forbidden,
    /// 404 as not found, others as invalid).
    func json(_ method: HTTPMethod, _ url: String, token: String?, body: JSON? = nil, expect: Set<Int> = [200, 201, 202, 204]) async throws -> JSON {
        let answer = try await send(method, url, token: token, body: body)
        guard expect.contains(answer.status) else { throw failure(answer, method, url) }
        return answer.json ?? .null
    }

    /// The error of an unexpected answer.
    func failure(_ answer: CloudResponse, _ method: HTTPMethod, _ url: String) -> MagnumError {
        let message = "\(service) refused \(method.rawValue) \(Self.path(url)) (\(answer.status)): \(answer.errorMessage)"
        switch answer.status {
        case 401, 403: return MagnumError(.forbidden, message)
        case 404: return MagnumError(.notFound, message)
        case 409: return MagnumError(.conflict, message)
        default: return MagnumError(.invalid, message)
        }
    }

    /// `scheme://host:port` of a URL, for messages.
    static func origin(_ url: String) -> String {
        guard let u = URLComponents(string: url) else { return url }
        return "\(u.scheme ?? "http")://\(u.host ?? "")\(u.port.map { ":\($0)" } ?? "")"
    }

    /// The path of a URL, for messages.
    static func path(_ url: String) -> String { URLComponents(string: url)?.path ?? url }

    /// `s` escaped for a URL path segment or query value.
    static func escape(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .urlUnreserved) ?? s
    }
}

extension CharacterSet {
    /// RFC 3986 unreserved characters.
    static let urlUnreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
