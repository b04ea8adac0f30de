import Foundation

/// Token validations kept for a short, bounded time and never past the token's expiry — what
/// both the Keystone authenticator and the built-in identity remember between requests. A value
/// type: its owner (an actor) provides the isolation.
struct TokenCache<Value: Sendable>: Sendable {
    struct Entry: Sendable {
        var value: Value
        var until: Date
    }

    let ttl: TimeInterval
    let maxEntries: Int
    private(set) var entries: [String: Entry] = [:]

    /// A cache keeping each validation at most `ttl` and at most `maxEntries` of them.
    init(ttl: Duration, maxEntries: Int) {
        self.ttl = ttl.timeInterval
        self.maxEntries = maxEntries
    }

    /// The cached value of `token`, dropping it when it has expired.
    mutating func lookup(_ token: String, now: Date = Date()) -> Value? {
        guard let hit = entries[token] else { return nil }
        if hit.until > now { return hit.value }
        entries[token] = nil
        return nil
    }

    /// Remembers `value` until `ttl` from now or `expiresAt`, whichever comes first. When full,
    /// expired entries go first, then those that expire soonest.
    mutating func store(_ token: String, _ value: Value, expiresAt: Date?, now: Date = Date()) {
        var until = now.addingTimeInterval(ttl)
        if let expiresAt, expiresAt < until { until = expiresAt }
        guard until > now, maxEntries > 0 else { return }
        if entries.count >= maxEntries {
            entries = entries.filter { $0.value.until > now }
            if entries.count >= maxEntries {
                let drop = entries.count - maxEntries + 1
                for key in entries.sorted(by: { $0.value.until < $1.value.until }).prefix(drop).map(\.key) {
                    entries[key] = nil
                }
            }
        }
        entries[token] = Entry(value: value, until: until)
    }

    /// Forgets everything.
    mutating func clear() {
        entries.removeAll()
    }
}

extension Duration {
    /// The duration in seconds.
    var timeInterval: TimeInterval {
        TimeInterval(components.seconds) + TimeInterval(components.attoseconds) / 1e18
    }
}
