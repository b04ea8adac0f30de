import Foundation
import MagnumCore

/// A `clouds.yaml` (os-client-config) with one cloud, for `OS_CLOUD=<name> openstack …`.
public enum CloudsFile {
    /// The first line of every file Magnum writes: a file that starts with it may be replaced.
    public static let marker = "# Written by magnum on first start."

    /// The text of a clouds.yaml whose cloud `name` authenticates with a password against
    /// `authURL`, scoped to `projectName`, all in domain `Default`.
    public static func render(name: String, authURL: String, username: String, password: String, projectName: String,
                              region: String = "RegionOne") -> String
    {
        func q(_ s: String) -> String { JSON.string(s).serialized() }
        return """
            \(marker) Use it with:
            #   OS_CLOUD=\(name) openstack coe cluster template list
            # (from another place: OS_CLIENT_CONFIG_FILE=<this file> OS_CLOUD=\(name) openstack …)
            clouds:
              \(q(name)):
                auth:
                  auth_url: \(q(authURL))
                  username: \(q(username))
                  password: \(q(password))
                  project_name: \(q(projectName))
                  user_domain_name: "Default"
                  project_domain_name: "Default"
                region_name: \(q(region))
                interface: "public"
                identity_api_version: 3

            """
    }

    /// Installs `text` at `path` unless a file Magnum did not write (one that does not start
    /// with `marker`) is there. Returns false when such a file was left alone.
    public static func install(_ text: String, at path: String) throws -> Bool {
        if FileManager.default.fileExists(atPath: path) {
            let existing = try? String(contentsOfFile: path, encoding: .utf8)
            guard existing?.hasPrefix(marker) == true else { return false }
        }
        try writePrivately(text, to: path)
        return true
    }

    /// Writes `text` to `path` (creating its directory), readable by the owner only: the file
    /// is created with mode 0600 before the secret is written into it.
    public static func writePrivately(_ text: String, to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }
}
