import MagnumCore

/// A response body written piece by piece while its producer runs (the server-sent-events
/// stream of a cluster's events).
public struct StreamedBody: Sendable {
    /// The body's media type.
    public var contentType: String
    /// Writes the body through `send`, returning when the stream ends; an error thrown by
    /// `send` means the client went away.
    public var produce: @Sendable (_ send: (String) async throws -> Void) async throws -> Void

    /// Creates a streamed body.
    public init(contentType: String, produce: @escaping @Sendable (_ send: (String) async throws -> Void) async throws -> Void) {
        self.contentType = contentType
        self.produce = produce
    }
}

/// The `text/event-stream` wire format (WHATWG HTML, server-sent events).
public enum ServerSentEvents {
    /// The media type.
    public static let mediaType = "text/event-stream"

    /// True when an `Accept` header asks for an event stream.
    public static func accepted(by accept: String) -> Bool {
        accept.split(separator: ",").contains { part in
            part.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } == mediaType
        }
    }

    /// One event frame: `id:`, `event:` and one `data:` line per line of `data`.
    public static func frame(id: String, event: String, data: String) -> String {
        var out = "id: \(id)\nevent: \(event)\n"
        for line in data.split(separator: "\n", omittingEmptySubsequences: false) { out += "data: \(line)\n" }
        return out + "\n"
    }

    /// A comment line (ignored by clients; keeps proxies from closing an idle stream).
    public static func comment(_ text: String) -> String {
        ": \(text)\n\n"
    }
}
