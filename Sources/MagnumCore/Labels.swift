/// Label rules shared by clusters (relative to their template) and nodegroups (relative to
/// their cluster): contract §4.2.2.
public enum Labels {
    /// The labels a new child gets: the parent's when none (or an empty map) are given; exactly
    /// the given ones otherwise, merged over the parent's when `merge` is true.
    public static func effective(given: [String: String]?, parent: [String: String], merge: Bool) -> [String: String] {
        guard let given, !given.isEmpty else { return parent }
        if merge { return parent.merging(given) { _, new in new } }
        return given
    }

    /// `labels_overridden` (parent's value), `labels_added` (child's value) and `labels_skipped`
    /// (parent's value).
    public static func diff(child: [String: String], parent: [String: String])
        -> (overridden: [String: String], added: [String: String], skipped: [String: String])
    {
        var overridden: [String: String] = [:]
        var added: [String: String] = [:]
        var skipped: [String: String] = [:]
        for (k, v) in child {
            if let p = parent[k] {
                if p != v { overridden[k] = p }
            } else {
                added[k] = v
            }
        }
        for (k, v) in parent where child[k] == nil { skipped[k] = v }
        return (overridden, added, skipped)
    }
}

/// Names Magnum generates for unnamed resources: `<greek letter>-<n>-<kind>`.
public enum GeneratedNames {
    static let letters = [
        "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
        "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega",
    ]

    /// A new name such as `zeta-7-template`.
    public static func make(_ kind: String) -> String {
        "\(letters.randomElement()!)-\(Int.random(in: 1...24))-\(kind)"
    }
}
