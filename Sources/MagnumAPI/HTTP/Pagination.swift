import MagnumCore
import MagnumStore

/// `limit`, `marker`, `sort_key`, `sort_dir` of a list request (contract §1.8).
public struct PageQuery: Sendable {
    public var limit: Int
    public var marker: String?
    public var sort: SortOrder

    /// The query parameters every paginated list accepts.
    public static let parameters: Set<String> = ["limit", "marker", "sort_key", "sort_dir"]

    /// Reads and validates the parameters; `sortable` are the resource's columns.
    public init(_ req: APIRequest, maxLimit: Int, sortable: Set<String>, integerMarker: Bool = false) throws {
        if let l = req.query("limit") {
            guard let n = Int(l) else {
                throw MagnumError.invalidField("limit", l, "Wrong type. Expected '<class 'int'>', got '<class 'str'>'")
            }
            guard n > 0 else { throw MagnumError(.invalid, "Limit must be positive") }
            limit = min(n, maxLimit)
        } else {
            limit = maxLimit
        }
        if let m = req.query("marker") {
            if integerMarker {
                guard Int64(m) != nil else {
                    throw MagnumError.invalidField("marker", m, "Wrong type. Expected '<class 'int'>', got '<class 'str'>'")
                }
                marker = m
            } else {
                guard let u = UUIDs.canonical(m) else {
                    throw MagnumError.invalidField("marker", m, "Expected a uuid but received \(m).")
                }
                marker = u
            }
        }
        let key = req.query("sort_key") ?? "id"
        guard sortable.contains(key) else {
            throw MagnumError(.invalid, "The sort_key value \"\(key)\" is an invalid field for sorting")
        }
        let dir = req.query("sort_dir") ?? "asc"
        guard dir == "asc" || dir == "desc" else {
            throw MagnumError(.invalid, "Invalid sort direction: \(dir). Acceptable values are 'asc' or 'desc'")
        }
        sort = SortOrder(key: key, ascending: dir == "asc")
    }

    /// Cuts one page after the marker out of the sorted, visible rows; `notFound` is thrown when
    /// the marker is not among them. `next` holds the marker of the following page when the
    /// page is full.
    public func page<T>(_ items: [T], key: (T) -> String, notFound: (String) -> MagnumError) throws -> (items: [T], next: String?) {
        var start = 0
        if let marker {
            guard let i = items.firstIndex(where: { key($0) == marker }) else { throw notFound(marker) }
            start = i + 1
        }
        let slice = Array(items[min(start, items.count)..<min(start + limit, items.count)])
        let next = slice.count == limit ? slice.last.map(key) : nil
        return (slice, next)
    }

    /// The `next` link: `<base>/v1/<path>?sort_key=…&sort_dir=…&limit=…&marker=…`.
    public func nextLink(base: String, path: String, marker: String) -> String {
        "\(base)/v1/\(path)?sort_key=\(sort.key)&sort_dir=\(sort.ascending ? "asc" : "desc")&limit=\(limit)&marker=\(marker)"
    }

    /// A collection body `{"<name>": [...], "next"?: url}`.
    public func collection(_ name: String, _ items: [JSON], next: String?, base: String, path: String) -> JSON {
        var o: [String: JSON] = [name: .array(items)]
        if let next { o["next"] = .string(nextLink(base: base, path: path, marker: next)) }
        return .object(o)
    }
}
