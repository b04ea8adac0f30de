import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MagnumCore
import NIOCore

/// The Magnum API as one Hummingbird responder: request ids, implicit `v1` prefix, token
/// authentication, microversion negotiation, content negotiation, routing, `Idempotency-Key`
/// on the create routes and the error body — the pipeline upstream builds from paste
/// middleware (contract §1–§3).
public struct MagnumResponder: HTTPResponder {
    public typealias Context = BasicRequestContext

    let env: APIEnvironment
    let routes: APIRoutes
    let catalogRoutes: CatalogRoutes
    let identityRoutes: IdentityRoutes?
    let idempotency: IdempotencyKeys

    /// Largest accepted request body.
    static let maxBody = 1 << 20

    /// Creates the responder.
    public init(env: APIEnvironment) {
        self.env = env
        self.routes = APIRoutes(env: env)
        self.catalogRoutes = CatalogRoutes(env: env)
        self.identityRoutes = env.identity.map(IdentityRoutes.init(endpoint:))
        self.idempotency = IdempotencyKeys(env: env)
    }

    public func respond(to request: Request, context: Context) async throws -> Response {
        let requestID = Self.requestID(request.headers[HTTPField.Name("X-Openstack-Request-Id")!])
        var logger = env.logger
        logger[metadataKey: "request_id"] = .string(requestID)
        var headers = HTTPFields()
        headers[HTTPField.Name("x-openstack-request-id")!] = requestID
        do {
            let response = try await handle(request, requestID: requestID, headers: &headers, logger: logger)
            logger.debug("request", metadata: ["method": .string(request.method.rawValue), "path": .string(request.uri.path), "status": .stringConvertible(response.status.code)])
            return response
        } catch let error as MagnumError {
            if error.code == .internal { logger.error("internal error", metadata: ["error": .string(error.message)]) }
            return Self.errorResponse(error, headers: headers, request: request)
        } catch {
            logger.error("unexpected error", metadata: ["error": .string(String(describing: error))])
            return Self.errorResponse(MagnumError(.internal, "An unexpected error prevented the server from fulfilling your request."), headers: headers)
        }
    }

    func handle(_ request: Request, requestID: String, headers: inout HTTPFields, logger: Logger) async throws -> Response {
        var path = request.uri.path
        if path.hasSuffix(".json") { path = String(path.dropLast(5)) }
        var segments = path.split(separator: "/", omittingEmptySubsequences: true).map { String($0).removingPercentEncoding ?? String($0) }
        let host = request.head.authority ?? "localhost"
        let base = "http://\(host)"

        if segments.isEmpty {
            guard request.method == .get || request.method == .head else { throw MagnumError.framework(.methodNotAllowed) }
            return Self.json(200, VersionViews.root(base: base), headers: headers)
        }
        if segments == ["healthcheck"] {
            var h = headers
            h[.contentType] = "text/plain"
            return Response(status: .ok, headers: h, body: .init(byteBuffer: ByteBuffer(string: "OK")))
        }
        // The built-in identity (Keystone v3 paths, Keystone's own bodies and errors).
        if segments[0] == "identity", let identityRoutes {
            return try await identityRoutes.respond(request, segments: Array(segments.dropFirst()), baseURL: base, headers: headers)
        }
        // The local catalog's Nova, Glance and Neutron paths (same token, their own bodies).
        if CatalogRoutes.services.contains(segments[0]) {
            if request.method == .get, let doc = CatalogRoutes.versionDocument(segments, base: base) {
                return Self.json(200, doc, headers: headers)
            }
            guard var ctx = try await authenticate(request) else { return Self.unauthorized(uri: env.authURI ?? "\(base)/identity/v3", headers: headers) }
            ctx.requestID = requestID
            let out = try await catalogRoutes.respond(request, segments: segments, query: Self.parseQuery(request.uri.query),
                                                      context: ctx, baseURL: base)
            if let b = out.body { return Self.json(out.status, b, headers: headers) }
            return Response(status: .init(code: out.status), headers: headers)
        }
        if segments[0] != "v1" { segments.insert("v1", at: 0) }
        let rest = Array(segments.dropFirst())
        let original = request.uri.path

        if rest.isEmpty {
            guard case .version(let version) = Microversion.negotiate(request.headers[HTTPField.Name("OpenStack-API-Version")!]) else {
                throw MagnumError.framework(.notAcceptable)
            }
            Self.addVersionHeaders(&headers, version)
            guard request.method == .get || request.method == .head else { throw MagnumError.framework(.methodNotAllowed) }
            return Self.json(200, VersionViews.v1(base: base), headers: headers)
        }

        // Everything else needs a token (keystonemiddleware answers before the application).
        guard var ctx = try await authenticate(request) else { return Self.unauthorized(uri: env.authURI ?? "\(base)/identity/v3", headers: headers) }
        ctx.requestID = requestID

        // Content negotiation: JSON only.
        if let accept = request.headers[.accept], !Self.acceptsJSON(accept),
           !(request.method == .get && ClusterEventRoutes.streams(rest, accept: accept)) {
            throw MagnumError.framework(.notAcceptable)
        }
        // Microversion: malformed headers are framework 406s without version headers.
        guard case .version(let version) = Microversion.negotiate(request.headers[HTTPField.Name("OpenStack-API-Version")!]) else {
            throw MagnumError.framework(.notAcceptable)
        }

        guard version.isSupported else {
            Self.addVersionHeaders(&headers, version)
            let body: JSON = ["errors": [[
                "max_version": .string(Microversion.maximum.description), "min_version": .string(Microversion.minimum.description),
                "code": "magnum.microversion-unsupported",
                "links": [["rel": "help", "href": "http://docs.openstack.org/api-guide/compute/microversions.html"]],
                "title": "Requested microversion is unsupported",
            ]]]
            return Self.json(406, body, headers: headers)
        }

        // From here on, application errors carry the version headers (framework errors drop
        // them again in `errorResponse`).
        Self.addVersionHeaders(&headers, version)
        let query = Self.parseQuery(request.uri.query)
        let method = request.method.rawValue
        let handler = try routes.resolve(method: method, segments: rest, version: version, originalPath: original)
        do {
            var buffer: ByteBuffer
            do {
                buffer = try await request.body.collect(upTo: Self.maxBody)
            } catch {
                throw MagnumError(.invalid, "Request body is too large or unreadable")
            }
            var body: JSON? = nil
            if buffer.readableBytes > 0, let bytes = buffer.readBytes(length: buffer.readableBytes),
               !bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 })
            {
                if let ct = request.headers[.contentType], !Self.isJSONType(ct) {
                    let mime = ct.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ct
                    throw MagnumError(.unsupportedMediaType, "Unknown mimetype: \(mime)")
                }
                body = try JSON.parse(bytes)
            }
            var req = APIRequest(method: method, segments: rest, query: query, body: body, context: ctx, version: version, baseURL: base)
            for field in request.headers { req.headers[field.name.canonicalName] = field.value }
            // Create routes honour `Idempotency-Key` (after authentication; policy comes next).
            if let rule = IdempotencyKeys.createRule(method: method, segments: rest) {
                let values = request.headers[values: IdempotencyKeys.header]
                if !values.isEmpty {
                    let key = try IdempotencyKeys.validate(values)
                    return try await idempotency.respond(key: key, rule: rule, request: req, headers: headers, handler: handler)
                }
            }
            let out = try await handler(req)
            for (k, v) in out.headers { headers[HTTPField.Name(k)!] = v }
            if let stream = out.stream { return Self.streamed(stream, headers: headers, logger: logger) }
            if let b = out.body { return Self.json(out.status, b, headers: headers) }
            return Response(status: .init(code: out.status), headers: headers)
        } catch let error as MagnumError {
            if error.code == .internal { logger.error("internal error", metadata: ["error": .string(error.message)]) }
            return Self.errorResponse(error, headers: headers, request: request)
        }
    }

    // MARK: Helpers

    /// The caller of a request with a valid `X-Auth-Token`, nil otherwise.
    func authenticate(_ request: Request) async throws -> MagnumCore.RequestContext? {
        guard let token = request.headers[HTTPField.Name("X-Auth-Token")!], !token.isEmpty else { return nil }
        return try await env.authenticator.authenticate(token: token)
    }

    /// keystonemiddleware's 401.
    static func unauthorized(uri: String, headers: HTTPFields) -> Response {
        var h = headers
        h[HTTPField.Name("WWW-Authenticate")!] = "Keystone uri=\"\(uri)\""
        let body: JSON = ["error": ["code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."]]
        return json(401, body, headers: h)
    }

    static func requestID(_ inbound: String?) -> String {
        if let inbound, inbound.hasPrefix("req-"), UUIDs.isUUIDLike(String(inbound.dropFirst(4))) { return inbound }
        return "req-" + UUIDs.make()
    }

    static func acceptsJSON(_ accept: String) -> Bool {
        for part in accept.split(separator: ",") {
            let t = part.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            if t == "*/*" || t == "application/*" || t == "application/json" || t.hasSuffix("+json") || t.isEmpty { return true }
        }
        return false
    }

    static func isJSONType(_ ct: String) -> Bool {
        let t = ct.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return t == "application/json" || t.hasSuffix("+json") || t.isEmpty
    }

    static func addVersionHeaders(_ h: inout HTTPFields, _ v: Microversion) {
        h[HTTPField.Name("OpenStack-API-Minimum-Version")!] = "\(Microversion.serviceType) \(Microversion.minimum)"
        h[HTTPField.Name("OpenStack-API-Maximum-Version")!] = "\(Microversion.serviceType) \(Microversion.maximum)"
        h[HTTPField.Name("OpenStack-API-Version")!] = "\(Microversion.serviceType) \(v)"
        h[HTTPField.Name("Vary")!] = "OpenStack-API-Version"
    }

    static func parseQuery(_ q: String?) -> [(String, String)] {
        guard let q, !q.isEmpty else { return [] }
        return q.split(separator: "&").map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                let plus = s.replacingOccurrences(of: "+", with: " ")
                return plus.removingPercentEncoding ?? plus
            }
            return (decode(kv[0]), kv.count > 1 ? decode(kv[1]) : "")
        }
    }

    static func json(_ status: Int, _ body: JSON, headers: HTTPFields) -> Response {
        var h = headers
        h[.contentType] = "application/json"
        return Response(status: .init(code: status), headers: h, body: .init(byteBuffer: ByteBuffer(string: body.serialized())))
    }

    /// A 200 whose body `stream` writes until it returns or fails (the client went away, the
    /// store failed); then the body ends.
    static func streamed(_ stream: StreamedBody, headers: HTTPFields, logger: Logger) -> Response {
        var h = headers
        h[.contentType] = stream.contentType
        h[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: h, body: ResponseBody { writer in
            do {
                try await stream.produce { text in try await writer.write(ByteBuffer(string: text)) }
            } catch {
                logger.debug("stream ended", metadata: ["error": .string(String(describing: error))])
            }
            try await writer.finish(nil)
        })
    }

    static func errorResponse(_ error: MagnumError, headers: HTTPFields, request: Request? = nil) -> Response {
        var h = headers
        var body = error.body
        if error.isFramework {
            for name in ["OpenStack-API-Minimum-Version", "OpenStack-API-Maximum-Version", "OpenStack-API-Version", "Vary"] {
                h[HTTPField.Name(name)!] = nil
            }
            // webob titles an unknown route "Not Found" when the client asked for JSON (§3.1 (c)).
            if error.code == .notFound, let accept = request?.headers[.accept], accept.lowercased().contains("application/json") {
                body = ["errors": [["request_id": "", "code": "", "status": 404, "title": "Not Found", "detail": "", "links": []]]]
            }
        }
        return json(error.httpStatus, body, headers: h)
    }
}
