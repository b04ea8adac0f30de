import MagnumCore

/// Validates `X-Auth-Token`s for the Magnum API with the built-in identity, in process: no
/// HTTP round trip, the same checks as `GET /v3/auth/tokens` (signature, expiry, revocation,
/// current user, project and roles), and a short validation cache that every change made
/// through the identity clears.
public struct BuiltInAuthenticator: Authenticator {
    /// The identity tokens are validated with.
    public let identity: BuiltInIdentity

    /// Creates the authenticator.
    public init(identity: BuiltInIdentity) {
        self.identity = identity
    }

    public func authenticate(token: String) async throws -> RequestContext? {
        try await identity.context(for: token)
    }
}
