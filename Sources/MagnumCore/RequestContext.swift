/// Who is making a request: built from a validated token.
public struct RequestContext: Sendable, Hashable {
    public var userID: String?
    public var userName: String?
    public var projectID: String?
    public var projectName: String?
    public var domainID: String?
    public var roles: Set<String>
    /// True for a system-scoped token.
    public var systemScope: Bool
    /// The token itself (forwarded to services that need it).
    public var authToken: String?
    /// `x-openstack-request-id` of the request.
    public var requestID: String
    /// The token's service catalog as public endpoint URLs by service type (`image`,
    /// `compute`, `network`, …); empty when the identity gives none.
    public var serviceEndpoints: [String: String] = [:]

    /// Creates a context.
    public init(userID: String?, projectID: String?, roles: Set<String>, userName: String? = nil,
                projectName: String? = nil, domainID: String? = nil, systemScope: Bool = false,
                authToken: String? = nil, requestID: String = "")
    {
        self.userID = userID
        self.projectID = projectID
        self.roles = roles
        self.userName = userName
        self.projectName = projectName
        self.domainID = domainID
        self.systemScope = systemScope
        self.authToken = authToken
        self.requestID = requestID
    }

    /// `context_is_admin`: any token carrying the `admin` role.
    public var isAdmin: Bool { roles.contains("admin") }
}
