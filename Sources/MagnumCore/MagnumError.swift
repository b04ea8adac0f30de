/// The one error type of the product. Every failure a client can see is a `MagnumError` whose
/// `code` decides the HTTP status once, in `httpStatus`, and whose `message` becomes the
/// `detail` of Magnum's `{"errors": [...]}` body.
public struct MagnumError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public enum Code: String, Sendable, Hashable {
        /// 400: the input breaks a rule.
        case invalid
        /// 401: no valid token.
        case unauthorized
        /// 403: policy or ownership denies the request.
        case forbidden
        /// 403: a quota would be exceeded.
        case quotaExceeded
        /// 404: the resource does not exist or is not visible.
        case notFound
        /// 405: the route exists but not with this method.
        case methodNotAllowed
        /// 406: the requested media type or microversion cannot be served.
        case notAcceptable
        /// 409: the request conflicts with stored state (duplicates, ambiguous names).
        case conflict
        /// 400: the operation is not supported (by a driver, a version, or the current state).
        case notSupported
        /// 415: the request body has a media type other than JSON.
        case unsupportedMediaType
        /// 500: an unexpected failure.
        case `internal`
        /// 503: a dependency (database, identity) is unreachable.
        case unavailable
    }

    /// The failure kind.
    public let code: Code
    /// The full, human-readable message (Magnum's `detail`).
    public let message: String
    /// Framework-level errors (unknown route, bad method) carry empty title and detail.
    public let isFramework: Bool

    /// Creates an error with a code and a message.
    public init(_ code: Code, _ message: String, framework: Bool = false) {
        self.code = code
        self.message = message
        self.isFramework = framework
    }

    /// The HTTP status this error is answered with.
    public var httpStatus: Int {
        switch code {
        case .invalid, .notSupported: return 400
        case .unauthorized: return 401
        case .forbidden, .quotaExceeded: return 403
        case .notFound: return 404
        case .methodNotAllowed: return 405
        case .notAcceptable: return 406
        case .conflict: return 409
        case .unsupportedMediaType: return 415
        case .internal: return 500
        case .unavailable: return 503
        }
    }

    /// Magnum's `title`: the message cut before its first period.
    public var title: String {
        if isFramework { return "" }
        if let dot = message.firstIndex(of: ".") { return String(message[..<dot]) }
        return message
    }

    /// Magnum's error body `{"errors": [{request_id, code, status, title, detail, links}]}`.
    public var body: JSON {
        let status = httpStatus
        return .object(["errors": .array([.object([
            "request_id": "",
            "code": .string(isFramework ? "" : (status >= 500 ? "server" : "client")),
            "status": .int(status),
            "title": .string(title),
            "detail": .string(isFramework ? "" : message),
            "links": .array([]),
        ])])])
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

extension MagnumError {
    /// 404 for a Magnum resource: "Cluster x could not be found."
    public static func notFound(_ kind: String, _ ident: String) -> MagnumError {
        MagnumError(.notFound, "\(kind) \(ident) could not be found.")
    }

    /// 400 for a field that breaks its type or constraint.
    public static func invalidField(_ field: String, _ value: String, _ reason: String) -> MagnumError {
        MagnumError(.invalid, "Invalid input for field/attribute \(field). Value: '\(value)'. \(reason)")
    }

    /// 403 for a denied policy rule.
    public static func policy(_ rule: String) -> MagnumError {
        MagnumError(.forbidden, "Policy doesn't allow \(rule) to be performed.")
    }

    /// 400 for a JSON-patch that cannot be applied.
    public static func patch(_ patch: String, _ reason: String) -> MagnumError {
        MagnumError(.invalid, "Couldn't apply patch '\(patch)'. Reason: \(reason)")
    }

    /// The generic framework error for a status (404 route, 405, 406).
    public static func framework(_ code: Code) -> MagnumError {
        MagnumError(code, "", framework: true)
    }
}
