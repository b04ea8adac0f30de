import Foundation
import MagnumCore

/// One request as the route handlers see it: already authenticated, version-negotiated and
/// with its body parsed.
public struct APIRequest: Sendable {
    /// HTTP method in upper case.
    public var method: String
    /// Path segments after `v1`.
    public var segments: [String]
    /// Query parameters in order of appearance.
    public var query: [(String, String)]
    /// The parsed JSON body; nil when there is none.
    public var body: JSON?
    /// The caller.
    public var context: RequestContext
    /// The negotiated microversion.
    public var version: Microversion
    /// `scheme://host[:port]` of the request, for links.
    public var baseURL: String
    /// Request headers the handlers read, by lower-cased name (`accept`, `last-event-id`).
    public var headers: [String: String] = [:]

    /// The value of a request header (case-insensitive name).
    public func header(_ name: String) -> String? {
        headers[name.lowercased()]
    }

    /// The value of a query parameter.
    public func query(_ name: String) -> String? {
        query.first { $0.0 == name }?.1
    }

    /// Refuses query parameters outside `allowed` with 400 `Unknown argument: "<name>"`.
    public func allowQuery(_ allowed: Set<String>) throws {
        if let bad = query.first(where: { !allowed.contains($0.0) }) {
            throw MagnumError(.invalid, "Unknown argument: \"\(bad.0)\"")
        }
    }

    /// A boolean query parameter (strict parser); nil when absent.
    public func boolQuery(_ name: String) throws -> Bool? {
        guard let v = query(name) else { return nil }
        guard let b = ResourceSchema.parseBool(.string(v)) else {
            throw MagnumError.invalidField(name, v, "Unrecognized value '\(v)', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'")
        }
        return b
    }
}

/// What a handler answers: a status, an optional JSON body and extra headers.
public struct APIResponse: Sendable {
    public var status: Int
    public var body: JSON?
    public var headers: [(String, String)]
    /// A body streamed until its producer returns (server-sent events); replaces `body`.
    public var stream: StreamedBody?

    /// Creates a response.
    public init(_ status: Int, _ body: JSON? = nil, headers: [(String, String)] = []) {
        self.status = status
        self.body = body
        self.headers = headers
    }

    /// 200 with a body.
    public static func ok(_ body: JSON) -> APIResponse { APIResponse(200, body) }
    /// 202 `{"uuid": …}`.
    public static func accepted(uuid: String) -> APIResponse { APIResponse(202, ["uuid": .string(uuid)]) }
    /// 204 without body.
    public static let noContent = APIResponse(204)
    /// 200 with a streamed body.
    public static func streamed(_ stream: StreamedBody) -> APIResponse {
        var r = APIResponse(200)
        r.stream = stream
        return r
    }
}

/// Link objects (contract §1.7).
public enum Links {
    /// `[self, bookmark]` for `<base>/v1/<path>` and `<base>/<path>`.
    public static func make(_ base: String, _ path: String) -> JSON {
        [["href": .string("\(base)/v1/\(path)"), "rel": "self"], ["href": .string("\(base)/\(path)"), "rel": "bookmark"]]
    }
}
