/// The options that change API-visible behaviour (contract §8.10).
public struct APIConfiguration: Sendable, Hashable {
    /// `[api] max_limit`: page size cap and default.
    public var maxLimit: Int = 1000
    /// `[quotas] max_clusters_per_project`.
    public var maxClustersPerProject: Int = 20
    /// `[cluster_template] kubernetes_allowed_network_drivers` (`all` allows every supported one).
    public var kubernetesAllowedNetworkDrivers: [String] = ["flannel", "calico"]
    /// `[cluster_template] kubernetes_default_network_driver`.
    public var kubernetesDefaultNetworkDriver: String = "flannel"
    /// `[cinder] default_boot_volume_size`.
    public var defaultBootVolumeSize: Int = 0
    /// `[drivers] default_driver`.
    public var defaultDriver: String?
    /// `[drivers] disabled_drivers`.
    public var disabledDrivers: [String] = []
    /// `[DEFAULT] service_down_time` in seconds.
    public var serviceDownTime: Double = 180
    /// How long an `Idempotency-Key` is remembered, in seconds (`--idempotency-ttl` hours; 24 h).
    public var idempotencyTTL: Double = 24 * 3600
    /// How long an unfinished request may hold its `Idempotency-Key` before a retry with the
    /// same body may take it over (a crashed API process), in seconds, provided the request
    /// changed nothing yet.
    public var idempotencyStaleClaim: Double = 300

    /// The defaults of upstream Magnum.
    public init() {}
}
