/// A Magnum API microversion (`1.1` … `1.14`).
public struct Microversion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let major: Int
    public let minor: Int

    /// Creates a version.
    public init(_ major: Int, _ minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// The oldest version served; requests without a version header get it.
    public static let minimum = Microversion(1, 1)
    /// The newest version served.
    public static let maximum = Microversion(1, 14)

    /// Versions at which behaviour changes (contract §2.5).
    public static let rollback = Microversion(1, 3)
    public static let resize = Microversion(1, 7)
    public static let upgrade = Microversion(1, 8)
    public static let nodegroups = Microversion(1, 9)
    public static let zeroNodes = Microversion(1, 10)
    public static let credentials = Microversion(1, 12)
    public static let clusterID = Microversion(1, 13)

    /// The service-type token written in response headers.
    public static let serviceType = "container-infrastructure-management"
    /// Service-type tokens accepted in the request header.
    public static let acceptedServiceTypes: Set<String> = [
        "container-infrastructure-management", "container-infrastructure", "container-infra",
    ]

    public static func < (a: Microversion, b: Microversion) -> Bool {
        (a.major, a.minor) < (b.major, b.minor)
    }

    public var description: String { "\(major).\(minor)" }

    /// True when the version lies in the served range.
    public var isSupported: Bool { self >= .minimum && self <= .maximum }

    /// The outcome of reading an `OpenStack-API-Version` header.
    public enum Negotiation: Sendable, Hashable {
        /// A well-formed version (it may still be out of range).
        case version(Microversion)
        /// A malformed header: unknown service token, bad version, wrong token count.
        case malformed
    }

    /// Reads the header value (absent → the minimum version).
    public static func negotiate(_ header: String?) -> Negotiation {
        guard let header else { return .version(.minimum) }
        let parts = header.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count == 2, acceptedServiceTypes.contains(parts[0].lowercased()) else { return .malformed }
        let v = parts[1]
        if v.lowercased() == "latest" { return .version(.maximum) }
        let nums = v.split(separator: ".", omittingEmptySubsequences: false)
        guard nums.count == 2, let ma = Int(nums[0]), let mi = Int(nums[1]),
            nums[0].allSatisfy(\.isASCII), nums[1].allSatisfy(\.isASCII), ma >= 0, mi >= 0
        else { return .malformed }
        return .version(Microversion(ma, mi))
    }
}
