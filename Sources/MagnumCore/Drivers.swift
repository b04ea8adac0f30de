/// What a cluster driver provides: the (server type, OS distro, COE) tuples it can build.
public struct DriverDescriptor: Sendable, Hashable {
    /// One tuple a driver provides.
    public struct Provision: Sendable, Hashable {
        public var serverType: String
        public var os: String
        public var coe: String

        /// Creates a tuple.
        public init(serverType: String, os: String, coe: String) {
            self.serverType = serverType
            self.os = os
            self.coe = coe
        }
    }

    /// The driver's name (stored in a template's `driver`).
    public var name: String
    public var provides: [Provision]

    /// Creates a descriptor.
    public init(name: String, provides: [Provision]) {
        self.name = name
        self.provides = provides
    }
}

/// The installed drivers, as the API sees them when it resolves a template's driver
/// (contract §4.1.3). The conductor binds each name to its implementation.
public struct DriverRegistry: Sendable {
    public var drivers: [DriverDescriptor]

    /// Creates a registry.
    public init(drivers: [DriverDescriptor]) {
        self.drivers = drivers.sorted { $0.name < $1.name }
    }

    /// The drivers this product ships: the local Swarm-mode driver (network-namespace nodes on
    /// this host) and the Heat driver (Kubernetes and Swarm-mode on Fedora CoreOS).
    public static let builtIn = DriverRegistry(drivers: [
        DriverDescriptor(name: "local_swarm", provides: [
            .init(serverType: "vm", os: "local-swarm", coe: "swarm-mode"),
        ]),
        DriverDescriptor(name: "heat_fedora_coreos", provides: [
            .init(serverType: "vm", os: "fedora-coreos", coe: "kubernetes"),
            .init(serverType: "bm", os: "fedora-coreos", coe: "kubernetes"),
            .init(serverType: "vm", os: "fedora-coreos", coe: "swarm-mode"),
        ]),
    ])

    /// The driver named `name`, if installed and not disabled.
    public func named(_ name: String, disabled: [String] = []) -> DriverDescriptor? {
        drivers.first { $0.name == name && !disabled.contains($0.name) }
    }

    /// The driver providing a tuple, if any.
    public func providing(serverType: String, os: String?, coe: String, disabled: [String] = []) -> DriverDescriptor? {
        guard let os else { return nil }
        return drivers.first { d in
            !disabled.contains(d.name)
                && d.provides.contains { $0.serverType == serverType && $0.os == os && $0.coe == coe }
        }
    }
}
