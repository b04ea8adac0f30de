import AsyncHTTPClient
import Foundation
import Logging
import MagnumAPI
import MagnumCore
import MagnumStore
import MagnumTestSupport
import NIOCore
import ServiceLifecycle
import XCTest

/// `GET /v1/clusters/{c}/events` (list and server-sent-events stream), an addition beside the
/// Magnum API, and the `operation.accepted` events the API records with each operation.
final class ClusterEventTests: XCTestCase {
    // MARK: Helpers

    private func template(_ h: APIHarness) async throws -> String {
        try await h.createTemplate()["uuid"]?.stringValue ?? ""
    }

    private func events(_ h: APIHarness, _ ident: String, query: String = "", token: APIHarness.Token = .demo) async throws -> APIHarness.Reply {
        try await h.request(.get, "/v1/clusters/\(ident)/events\(query)", token: token)
    }

    private func list(_ r: APIHarness.Reply, file: StaticString = #filePath, line: UInt = #line) -> [JSON] {
        XCTAssertEqual(r.status, 200, r.text, file: file, line: line)
        return r.json?["events"]?.arrayValue ?? []
    }

    /// Appends an event as the conductor would.
    @discardableResult
    private func append(_ h: APIHarness, _ cluster: String, _ kind: ClusterEvent.Kind, status: ClusterStatus = .createComplete) async throws -> ClusterEvent {
        try await h.store.write { try await $0.append(ClusterEvent(clusterUUID: cluster, projectID: "demo-project", kind: kind, status: status)) }
    }

    private func assertError(_ r: APIHarness.Reply, _ status: Int, _ detail: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, status, r.text, file: file, line: line)
        XCTAssertEqual(r.errorDetail, detail, file: file, line: line)
    }

    // MARK: List

    func testCreateRecordsAcceptedEventInItsTransaction() async throws {
        try await APIHarness.withEach { h in
            let ct = try await self.template(h)
            let r = try await h.request(.post, "/v1/clusters", version: "latest", body: [
                "name": "k8s", "cluster_template_id": .string(ct), "master_count": 1, "node_count": 1,
            ])
            XCTAssertEqual(r.status, 202, r.text)
            let uuid = r.json?["uuid"]?.stringValue ?? ""
            let op = try await h.store.read { try await $0.operations(resourceUUID: uuid) }.first
            let items = self.list(try await self.events(h, uuid))
            XCTAssertEqual(items.count, 1, h.label)
            let e = try XCTUnwrap(items.first)
            XCTAssertEqual(Set(e.objectValue?.keys.map { $0 } ?? []), [
                "id", "uuid", "cluster_uuid", "project_id", "operation_uuid", "kind", "status", "status_reason", "detail",
                "request_id", "created_at",
            ], h.label)
            XCTAssertEqual(e["kind"], "operation.accepted", h.label)
            XCTAssertEqual(e["cluster_uuid"], .string(uuid), h.label)
            XCTAssertEqual(e["project_id"], "demo-project", h.label)
            XCTAssertEqual(e["status"], "CREATE_IN_PROGRESS", h.label)
            XCTAssertEqual(e["operation_uuid"], JSON(op?.uuid), h.label)
            XCTAssertEqual(e["request_id"], JSON(r.header("x-openstack-request-id")), h.label)
            XCTAssertEqual(e["detail"], ["operation": "cluster_create", "user_id": "demo"], h.label)
            XCTAssertNotNil(e["id"]?.intValue, h.label)
            // By name too.
            let got1 = self.list(try await self.events(h, "k8s")).count
            XCTAssertEqual(got1, 1, h.label)
        }
    }

    func testEveryStartedOperationRecordsAnAcceptedEvent() async throws {
        try await APIHarness.withEach { h in
            let uuid = try await h.createCluster(template: try await self.template(h))
            try await h.setClusterState(uuid, .createComplete)
            let resize = try await h.request(.post, "/v1/clusters/\(uuid)/actions/resize", version: "latest", body: ["node_count": 3])
            XCTAssertEqual(resize.status, 202, resize.text)
            try await h.setClusterState(uuid, .updateComplete)
            let delete = try await h.request(.delete, "/v1/clusters/\(uuid)", version: "latest")
            XCTAssertEqual(delete.status, 204, delete.text)
            let items = self.list(try await self.events(h, uuid))
            XCTAssertEqual(items.map { $0["detail"]?["operation"]?.stringValue }, ["cluster_create", "cluster_resize", "cluster_delete"], h.label)
            XCTAssertEqual(items.map { $0["status"]?.stringValue }, ["CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS"], h.label)
            let ids = items.compactMap { $0["id"]?.intValue }
            XCTAssertEqual(ids, ids.sorted(), h.label)
        }
    }

    func testRefusedRequestRecordsNoEvent() async throws {
        try await APIHarness.withEach { h in
            let uuid = try await h.createCluster(template: try await self.template(h))
            // CREATE_IN_PROGRESS: a resize is refused (400) and nothing is recorded.
            let r = try await h.request(.post, "/v1/clusters/\(uuid)/actions/resize", version: "latest", body: ["node_count": 3])
            XCTAssertEqual(r.status, 400, r.text)
            let got2 = self.list(try await self.events(h, uuid)).count
            XCTAssertEqual(got2, 1, h.label)
        }
    }

    func testCursorAndLimit() async throws {
        try await APIHarness.withEach { h in
            let uuid = try await h.createCluster(template: try await self.template(h))
            let initial = self.list(try await self.events(h, uuid))
            let first = try XCTUnwrap(initial.first?["id"]?.intValue)
            let a = try await self.append(h, uuid, .operationStarted)
            let b = try await self.append(h, uuid, .statusChanged)
            let other = try await h.createCluster(template: try await self.template(h), ["name": "other"])
            try await self.append(h, other, .statusChanged)

            let all = self.list(try await self.events(h, uuid))
            XCTAssertEqual(all.compactMap { $0["id"]?.intValue }, [first, Int(a.id), Int(b.id)], h.label)
            let since = self.list(try await self.events(h, uuid, query: "?since=\(first)"))
            XCTAssertEqual(since.compactMap { $0["kind"]?.stringValue }, ["operation.started", "status.changed"], h.label)
            let limited = self.list(try await self.events(h, uuid, query: "?since=\(first)&limit=1"))
            XCTAssertEqual(limited.compactMap { $0["id"]?.intValue }, [Int(a.id)], h.label)
            let none = self.list(try await self.events(h, uuid, query: "?since=\(b.id)"))
            XCTAssertEqual(none.count, 0, h.label)
            let got3 = try await self.events(h, uuid, query: "?limit=100000").status
            XCTAssertEqual(got3, 200, h.label)
        }
    }

    func testBadQueriesAre400() async throws {
        try await APIHarness.withEach { h in
            let uuid = try await h.createCluster(template: try await self.template(h))
            self.assertError(try await self.events(h, uuid, query: "?since=abc"), 400,
                             "Invalid input for field/attribute since. Value: 'abc'. Expected a non-negative integer event id.")
            self.assertError(try await self.events(h, uuid, query: "?since=-1"), 400,
                             "Invalid input for field/attribute since. Value: '-1'. Expected a non-negative integer event id.")
            self.assertError(try await self.events(h, uuid, query: "?limit=0"), 400, "Limit must be positive")
            self.assertError(try await self.events(h, uuid, query: "?limit=x"), 400,
                             "Invalid input for field/attribute limit. Value: 'x'. Wrong type. Expected '<class 'int'>', got '<class 'str'>'")
            self.assertError(try await self.events(h, uuid, query: "?marker=1"), 400, "Unknown argument: \"marker\"")
            let post = try await h.request(.post, "/v1/clusters/\(uuid)/events", version: "latest")
            XCTAssertEqual(post.status, 405, post.text)
        }
    }

    func testTenantScopeAndPolicy() async throws {
        try await APIHarness.withEach { h in
            let uuid = try await h.createCluster(template: try await self.template(h))
            self.assertError(try await self.events(h, uuid, token: .other), 404, "Cluster \(uuid) could not be found.")
            let got4 = self.list(try await self.events(h, uuid, token: .admin)).count
            XCTAssertEqual(got4, 1, h.label)
            let got5 = self.list(try await self.events(h, uuid, token: .reader)).count
            XCTAssertEqual(got5, 1, h.label)
            let got6 = self.list(try await self.events(h, uuid, token: .demo2)).count
            XCTAssertEqual(got6, 1, h.label)
            let missing = UUIDs.make()
            self.assertError(try await self.events(h, missing), 404, "Cluster \(missing) could not be found.")
            let none = try await h.request(.get, "/v1/clusters/\(uuid)/events", token: nil)
            XCTAssertEqual(none.status, 401, none.text)
        }
    }

    func testDeletedClusterEventsStayReadableByUUID() async throws {
        try await APIHarness.withEach { h in
            let uuid = try await h.createCluster(template: try await self.template(h), ["name": "gone"])
            try await h.setClusterState(uuid, .createComplete)
            let got7 = try await h.request(.delete, "/v1/clusters/\(uuid)", version: "latest").status
            XCTAssertEqual(got7, 204)
            // What the conductor does when the delete settles.
            try await self.append(h, uuid, .statusChanged, status: .deleteComplete)
            try await h.store.write { try await $0.deleteCluster(uuid: uuid) }

            let items = self.list(try await self.events(h, uuid))
            XCTAssertEqual(items.last?["status"], "DELETE_COMPLETE", h.label)
            let got8 = self.list(try await self.events(h, uuid, token: .admin)).count
            XCTAssertEqual(got8, items.count, h.label)
            self.assertError(try await self.events(h, uuid, token: .other), 404, "Cluster \(uuid) could not be found.")
            self.assertError(try await self.events(h, "gone"), 404, "Cluster gone could not be found.")
        }
    }

    func testStreamNeedsTheEventsPath() async throws {
        try await APIHarness.withEach { h in
            let r = try await h.request(.get, "/v1/clusters", headers: ["Accept": "text/event-stream"])
            XCTAssertEqual(r.status, 406, r.text)
        }
    }

    // MARK: Stream

    /// Reads server-sent-events frames from a streamed body.
    struct FrameReader {
        struct Frame: Equatable {
            var id: String?
            var event: String?
            var data: String
        }

        var body: HTTPClientResponse.Body.AsyncIterator
        var buffer = ""

        /// The next event frame (comments and `retry:` skipped), or nil when the stream ended.
        mutating func next() async throws -> Frame? {
            while true {
                if let end = buffer.range(of: "\n\n") {
                    let block = String(buffer[..<end.lowerBound])
                    buffer = String(buffer[end.upperBound...])
                    var frame = Frame(id: nil, event: nil, data: "")
                    var data: [String] = []
                    for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                        if line.hasPrefix("id: ") { frame.id = String(line.dropFirst(4)) }
                        if line.hasPrefix("event: ") { frame.event = String(line.dropFirst(7)) }
                        if line.hasPrefix("data: ") { data.append(String(line.dropFirst(6))) }
                    }
                    guard frame.event != nil else { continue }
                    frame.data = data.joined(separator: "\n")
                    return frame
                }
                guard let chunk = try await body.next() else { return nil }
                buffer += String(buffer: chunk)
            }
        }

        /// Reads until the stream ends.
        mutating func drain() async throws -> [Frame] {
            var frames: [Frame] = []
            while let f = try await next() { frames.append(f) }
            return frames
        }
    }

    private func open(_ client: HTTPClient, port: Int, _ uuid: String, lastEventID: String? = nil) async throws -> (HTTPClientResponse, FrameReader) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/clusters/\(uuid)/events")
        request.headers.add(name: "X-Auth-Token", value: APIHarness.Token.demo.rawValue)
        request.headers.add(name: "Accept", value: "text/event-stream")
        if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
        let response = try await client.execute(request, timeout: .seconds(60))
        return (response, FrameReader(body: response.body.makeAsyncIterator()))
    }

    func testStreamDeliversNewEventsResumesAndEndsAtShutdown() async throws {
        try await APIHarness.withEach { h in
            let uuid = try await h.createCluster(template: try await self.template(h))
            let (ports, portSink) = AsyncStream<Int>.makeStream()
            let app = APIApplication.make(env: h.env, host: "127.0.0.1", port: 0, onServerRunning: { channel in
                portSink.yield(channel.localAddress?.port ?? 0)
                portSink.finish()
            })
            var logger = Logger(label: "test.events")
            logger.logLevel = .critical
            let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                var port = 0
                for await p in ports { port = p }

                let (response, opened) = try await self.open(client, port: port, uuid)
                var stream = opened
                XCTAssertEqual(response.status.code, 200, h.label)
                XCTAssertEqual(response.headers.first(name: "content-type"), "text/event-stream", h.label)
                let accepted = try await stream.next()
                XCTAssertEqual(accepted?.event, "operation.accepted", h.label)
                let data = try JSON.parse(string: accepted?.data ?? "")
                XCTAssertEqual(data["cluster_uuid"], .string(uuid), h.label)
                XCTAssertEqual(accepted?.id, data["id"]?.intValue.map(String.init), h.label)

                // Committed after the stream opened.
                let change = try await self.append(h, uuid, .statusChanged)
                let next = try await stream.next()
                XCTAssertEqual(next?.id, String(change.id), h.label)
                XCTAssertEqual(next?.event, "status.changed", h.label)
                XCTAssertEqual(try JSON.parse(string: next?.data ?? "")["status"], "CREATE_COMPLETE", h.label)

                // A reconnecting client resumes after Last-Event-ID.
                let (_, resumedReader) = try await self.open(client, port: port, uuid, lastEventID: accepted?.id)
                var resumed = resumedReader
                let replay = try await resumed.next()
                XCTAssertEqual(replay?.id, String(change.id), h.label)

                // Graceful shutdown ends open streams (and the server).
                await group.triggerGracefulShutdown()
                // (An end of stream or a closed connection: either way the stream is over.)
                let rest = (try? await stream.drain()) ?? []
                XCTAssertEqual(rest, [], h.label)
                let restResumed = (try? await resumed.drain()) ?? []
                XCTAssertEqual(restResumed, [], h.label)
                try await tasks.waitForAll()
            }
            try await client.shutdown()
        }
    }

    func testStreamRefusesBadLastEventIDAndOtherProjects() async throws {
        try await APIHarness.withEach { h in
            let uuid = try await h.createCluster(template: try await self.template(h))
            let bad = try await h.request(.get, "/v1/clusters/\(uuid)/events", headers: ["Accept": "text/event-stream", "Last-Event-ID": "x"])
            self.assertError(bad, 400, "Invalid input for field/attribute Last-Event-ID. Value: 'x'. Expected a non-negative integer event id.")
            let other = try await h.request(.get, "/v1/clusters/\(uuid)/events", token: .other, headers: ["Accept": "text/event-stream"])
            self.assertError(other, 404, "Cluster \(uuid) could not be found.")
        }
    }
}
