/// One HTTP request to an identity service the API server answers for (the built-in Keystone
/// at `/identity`), already taken apart by the HTTP harness.
public struct IdentityRequest: Sendable {
    /// HTTP method in upper case.
    public var method: String
    /// Path segments after `identity` (`["v3", "auth", "tokens"]`), percent-decoded.
    public var segments: [String]
    /// Query parameters in order of appearance.
    public var query: [(String, String)]
    /// Request headers with lower-case names.
    public var headers: [String: String]
    /// The parsed JSON body; nil when there is none.
    public var body: JSON?
    /// `scheme://host[:port]` the request was addressed to.
    public var baseURL: String

    /// Creates a request.
    public init(method: String, segments: [String], query: [(String, String)] = [], headers: [String: String] = [:],
                body: JSON? = nil, baseURL: String)
    {
        self.method = method
        self.segments = segments
        self.query = query
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
        self.body = body
        self.baseURL = baseURL
    }

    /// A header value (case-insensitive name).
    public func header(_ name: String) -> String? { headers[name.lowercased()] }

    /// The value of a query parameter.
    public func query(_ name: String) -> String? { query.first { $0.0 == name }?.1 }
}

/// What an identity service answers: status, headers and an optional JSON body.
public struct IdentityResponse: Sendable {
    /// HTTP status.
    public var status: Int
    /// Extra headers (`X-Subject-Token`, `Vary`, …).
    public var headers: [(String, String)]
    /// The body; nil for none.
    public var body: JSON?

    /// Creates a response.
    public init(_ status: Int, _ body: JSON? = nil, headers: [(String, String)] = []) {
        self.status = status
        self.body = body
        self.headers = headers
    }
}

/// An identity service served by the API server itself under `/identity` (the built-in
/// Keystone v3). It answers every request, errors included, in its own wire format.
public protocol IdentityEndpoint: Sendable {
    /// Answers one request whose path started with `identity`.
    func respond(to request: IdentityRequest) async -> IdentityResponse
}
