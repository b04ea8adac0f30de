import MagnumCore

/// A `clouds.yaml` (os-client-config) with one cloud, for `OS_CLOUD=<name> openstack …`.
public enum CloudsFile {
    /// The text of a clouds.yaml whose cloud `name` authenticates with a password against
    /// `authURL`, scoped to `projectName`, all in domain `Default`.
    public static func render(name: String, authURL: String, username: String, password: String, projectName: String,
                              region: String = "RegionOne") -> String
    {
        func q(_ s: String) -> String { JSON.string(s).serialized() }
        return """
            # Written by magnum on first start. Use it with:
            #   OS_CLIENT_CONFIG_FILE=<this file> OS_CLOUD=\(name) openstack coe cluster template list
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
}
