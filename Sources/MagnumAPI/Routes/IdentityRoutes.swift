import Foundation
import HTTPTypes
import Hummingbird
import MagnumCore
import NIOCore

/// The HTTP harness of the identity served under `/identity` (the built-in Keystone): takes
/// the request apart, hands it to the identity, and writes its answer back unchanged.
struct IdentityRoutes: Sendable {
    let endpoint: any IdentityEndpoint

    /// Answers one request; `segments` follow `identity`.
    func respond(_ request: Request, segments: [String], baseURL: String, headers base: HTTPFields) async throws -> Response {
        var body: JSON? = nil
        var buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: MagnumResponder.maxBody)
        } catch {
            return Self.write(IdentityResponse(413, Self.error(413, "Request Entity Too Large", "The request body is too large.")), base, head: false)
        }
        if let bytes = buffer.readBytes(length: buffer.readableBytes),
           !bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 })
        {
            guard let parsed = try? JSON.parse(bytes) else {
                return Self.write(IdentityResponse(400, Self.error(400, "Bad Request", "Expecting a JSON object in the request body.")), base, head: false)
            }
            body = parsed
        }
        var names: [String: String] = [:]
        for field in request.headers { names[field.name.canonicalName] = field.value }
        let identityRequest = IdentityRequest(
            method: request.method.rawValue, segments: segments, query: MagnumResponder.parseQuery(request.uri.query),
            headers: names, body: body, baseURL: baseURL)
        let answer = await endpoint.respond(to: identityRequest)
        return Self.write(answer, base, head: request.method == .head)
    }

    static func error(_ code: Int, _ title: String, _ message: String) -> JSON {
        ["error": ["code": .int(code), "title": .string(title), "message": .string(message)]]
    }

    static func write(_ answer: IdentityResponse, _ base: HTTPFields, head: Bool) -> Response {
        var headers = base
        for (name, value) in answer.headers {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        guard let body = answer.body, !head else {
            if answer.body != nil { headers[.contentType] = "application/json" }
            return Response(status: .init(code: answer.status), headers: headers)
        }
        headers[.contentType] = "application/json"
        return Response(status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: body.serialized())))
    }
}
