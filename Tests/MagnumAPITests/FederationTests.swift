import Foundation
import MagnumCore
import MagnumStore
import MagnumTestSupport
import XCTest

/// `/v1/federations` (contract §4.10). Unlike upstream, federations are stored and answered.
final class FederationTests: XCTestCase {
    static let briefKeys: Set<String> = ["uuid", "name", "hostcluster_id", "member_ids", "status", "properties", "links"]
    static let detailKeys: Set<String> = ["uuid", "name", "project_id", "hostcluster_id", "member_ids", "status", "status_reason",
                                          "properties", "links", "created_at", "updated_at"]

    private func keys(_ j: JSON?) -> Set<String> { Set((j?.objectValue ?? [:]).keys) }

    private func links(_ f: String) -> JSON {
        [["href": .string("http://localhost/v1/federations/\(f)"), "rel": "self"],
         ["href": .string("http://localhost/federations/\(f)"), "rel": "bookmark"]]
    }

    /// A cluster of a fresh template.
    private func cluster(_ h: APIHarness, _ name: String = "k8s", token: APIHarness.Token = .demo) async throws -> String {
        let t = try await h.createTemplate(token: token)
        return try await h.createCluster(template: t["uuid"]!.stringValue!, ["name": .string(name)], token: token)
    }

    /// Creates a federation and answers its UUID.
    private func federation(_ h: APIHarness, host: String, name: String? = "fed1", token: APIHarness.Token = .demo,
                            extra: [String: JSON] = [:]) async throws -> String
    {
        var body: [String: JSON] = ["hostcluster_id": .string(host), "properties": ["dns-zone": "example.com."]]
        if let name { body["name"] = .string(name) }
        for (k, v) in extra { body[k] = v }
        let r = try await h.request(.post, "/v1/federations", token: token, body: .object(body))
        guard r.status == 202, let uuid = r.json?["uuid"]?.stringValue else { throw HarnessError.unexpected(r.status, r.text) }
        return uuid
    }

    // MARK: Create and get

    func testCreateIsStoredAndReturned() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            let r = try await h.request(.post, "/v1/federations",
                                        body: ["name": "fed1", "hostcluster_id": "k8s", "properties": ["dns-zone": "example.com."]])
            XCTAssertEqual(r.status, 202, r.text)
            XCTAssertEqual(keys(r.json), ["uuid"])
            let uuid = r.json?["uuid"]?.stringValue ?? ""
            XCTAssertTrue(UUIDs.isUUIDLike(uuid))
            XCTAssertNil(r.header("Location"))

            let get = try await h.request(.get, "/v1/federations/\(uuid)")
            XCTAssertEqual(get.status, 200, h.label)
            let d = get.json
            XCTAssertEqual(keys(d), Self.detailKeys)
            XCTAssertEqual(d?["uuid"], .string(uuid))
            XCTAssertEqual(d?["name"], "fed1")
            XCTAssertEqual(d?["project_id"], "demo-project")
            XCTAssertEqual(d?["hostcluster_id"], .string(c), "the host cluster's UUID, even when named")
            XCTAssertEqual(d?["member_ids"], [])
            XCTAssertEqual(d?["status"], "CREATE_COMPLETE")
            XCTAssertEqual(d?["status_reason"], .null)
            XCTAssertEqual(d?["properties"], ["dns-zone": "example.com."])
            XCTAssertEqual(d?["links"], links(uuid))
            XCTAssertNotNil(d?["created_at"]?.stringValue)
            XCTAssertEqual(d?["updated_at"], .null)

            // By name, by bookmark path, and for another member of the project or its reader.
            let reads: [(String, APIHarness.Token)] = [("/v1/federations/fed1", .demo), ("/federations/\(uuid)", .demo),
                                                       ("/v1/federations/\(uuid)", .demo2), ("/v1/federations/\(uuid)", .reader)]
            for (path, token) in reads {
                let again = try await h.request(.get, path, token: token)
                XCTAssertEqual(again.status, 200, path)
                XCTAssertEqual(again.json?["uuid"], .string(uuid), path)
            }

            // Optional fields.
            let generated = try await federation(h, host: c, name: nil, extra: ["member_ids": .array([.string(c)])])
            let g = try await h.request(.get, "/v1/federations/\(generated)")
            XCTAssertNotNil(g.json?["name"]?.stringValue?.range(of: #"^[a-z]+-\d+-federation$"#, options: .regularExpression), g.text)
            XCTAssertEqual(g.json?["member_ids"], [.string(c)])
        }
    }

    func testCreateValidation() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            let otherCluster = try await cluster(h, "theirs", token: .other)
            let cases: [(JSON?, Int, String)] = [
                (["name": "f", "properties": ["dns-zone": "z."]], 400, "No hostcluster specified. Please specify a hostcluster_id."),
                (["name": "f", "hostcluster_id": nil, "properties": ["dns-zone": "z."]], 400, "No hostcluster specified. Please specify a hostcluster_id."),
                (["name": "f", "hostcluster_id": "nope", "properties": ["dns-zone": "z."]], 404, "Cluster nope could not be found."),
                // The host cluster is checked before the properties.
                (["name": "f", "hostcluster_id": "nope"], 404, "Cluster nope could not be found."),
                (["name": "f", "hostcluster_id": .string(otherCluster), "properties": ["dns-zone": "z."]], 404,
                 "Cluster \(otherCluster) could not be found."),
                (["name": "f", "hostcluster_id": .string(c)], 400, "Please specify a `properties` dict for the federation."),
                (["name": "f", "hostcluster_id": .string(c), "properties": ["zone": "z."]], 400, "No DNS zone specified. Please specify a `dns-zone`."),
                (["name": "1f", "hostcluster_id": .string(c), "properties": ["dns-zone": "z."]], 400,
                 "Invalid input for field/attribute name. Value: '1f'. Value should match the pattern ^[a-zA-Z][a-zA-Z0-9_.-]*$"),
                (["name": "f", "hostcluster_id": .string(c), "properties": ["dns-zone": "z."], "bogus": 1], 400,
                 "Unknown attribute for argument federation: bogus"),
                (["name": "f", "hostcluster_id": .string(c), "properties": ["dns-zone": "z."], "project_id": "p"], 400,
                 "Invalid input for field/attribute project_id. Value: 'p'. Cannot set read only field."),
                (nil, 400, "Missing argument: \"federation\""),
            ]
            for (body, status, message) in cases {
                let r = try await h.request(.post, "/v1/federations", body: body)
                XCTAssertEqual(r.status, status, message)
                XCTAssertEqual(r.errorDetail, message)
            }
            let list = try await h.request(.get, "/v1/federations")
            XCTAssertEqual(list.json, ["federations": []], "nothing stored")
        }
    }

    func testCreatePolicy() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            let r = try await h.request(.post, "/v1/federations", token: .reader,
                                        body: ["hostcluster_id": .string(c), "properties": ["dns-zone": "z."]])
            XCTAssertEqual(r.status, 403)
            XCTAssertEqual(r.errorDetail, "Policy doesn't allow federation:create to be performed.")
            let list = try await h.request(.get, "/v1/federations", token: .reader)
            XCTAssertEqual(list.status, 200)
        }
    }

    // MARK: List

    func testListBriefAndDetail() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            let f1 = try await federation(h, host: c, name: "fed1")
            let f2 = try await federation(h, host: c, name: "fed2")
            let otherCluster = try await cluster(h, "theirs", token: .other)
            _ = try await federation(h, host: otherCluster, name: "theirs", token: .other)

            let brief = try await h.request(.get, "/v1/federations")
            XCTAssertEqual(brief.status, 200)
            XCTAssertEqual(keys(brief.json), ["federations"])
            let items = brief.json?["federations"]?.arrayValue ?? []
            XCTAssertEqual(items.map { $0["uuid"] }, [.string(f1), .string(f2)], "own project only, by id")
            for item in items { XCTAssertEqual(keys(item), Self.briefKeys) }
            XCTAssertEqual(items.first?["links"], links(f1))
            XCTAssertEqual(items.first?["hostcluster_id"], .string(c))
            XCTAssertEqual(items.first?["properties"], ["dns-zone": "example.com."])
            XCTAssertEqual(items.first?["status"], "CREATE_COMPLETE")

            let detail = try await h.request(.get, "/v1/federations/detail")
            XCTAssertEqual(detail.status, 200)
            let full = detail.json?["federations"]?.arrayValue ?? []
            XCTAssertEqual(full.count, 2)
            for item in full { XCTAssertEqual(keys(item), Self.detailKeys) }

            // Pagination.
            let p1 = try await h.request(.get, "/v1/federations?limit=1")
            XCTAssertEqual(p1.json?["federations"]?.arrayValue?.map { $0["uuid"] }, [.string(f1)])
            XCTAssertEqual(p1.json?["next"]?.stringValue, "http://localhost/v1/federations?sort_key=id&sort_dir=asc&limit=1&marker=\(f1)")
            let p2 = try await h.request(.get, "/v1/federations?sort_key=id&sort_dir=asc&limit=1&marker=\(f1)")
            XCTAssertEqual(p2.json?["federations"]?.arrayValue?.map { $0["uuid"] }, [.string(f2)])
            let d1 = try await h.request(.get, "/v1/federations/detail?limit=1&sort_key=name&sort_dir=desc")
            XCTAssertEqual(d1.json?["federations"]?.arrayValue?.map { $0["name"] }, ["fed2"])
            XCTAssertEqual(d1.json?["next"]?.stringValue,
                           "http://localhost/v1/federations/detail?sort_key=name&sort_dir=desc&limit=1&marker=\(f2)")
            let badMarker = try await h.request(.get, "/v1/federations?marker=fed1")
            XCTAssertEqual(badMarker.status, 400)
            XCTAssertEqual(badMarker.errorDetail, "Invalid input for field/attribute marker. Value: 'fed1'. Expected a uuid but received fed1.")
            let badKey = try await h.request(.get, "/v1/federations?sort_key=bogus")
            XCTAssertEqual(badKey.status, 400)
            let detailSlash = try await h.request(.get, "/v1/federations/\(f1)/detail")
            XCTAssertEqual(detailSlash.status, 404)

            // Federations have no all-projects switch, even for admins.
            let admin = try await h.request(.get, "/v1/federations", token: .admin)
            XCTAssertEqual(admin.json, ["federations": []])
        }
    }

    // MARK: Scoping

    func testOtherProjectsFederationsAreNotFound() async throws {
        try await APIHarness.withEach { h in
            let c = try await cluster(h)
            let f = try await federation(h, host: c)
            let get = try await h.request(.get, "/v1/federations/\(f)", token: .other)
            XCTAssertEqual(get.status, 404)
            XCTAssertEqual(get.errorDetail, "Federation \(f) could not be found.")
            let patch = try await h.request(.patch, "/v1/federations/\(f)", token: .other,
                                            body: [["op": "replace", "path": "/properties", "value": "{'dns-zone': 'x.'}"]])
            XCTAssertEqual(patch.status, 404)
            XCTAssertEqual(patch.errorDetail, "Federation \(f) could not be found.")
            let delete = try await h.request(.delete, "/v1/federations/\(f)", token: .other)
            XCTAssertEqual(delete.status, 404)
            let list = try await h.request(.get, "/v1/federations", token: .other)
            XCTAssertEqual(list.json, ["federations": []])
            let name = try await h.request(.get, "/v1/federations/nope")
            XCTAssertEqual(name.status, 404)
            XCTAssertEqual(name.errorDetail, "Federation nope could not be found.")

            // A reader may look but not change.
            let readerPatch = try await h.request(.patch, "/v1/federations/\(f)", token: .reader,
                                                  body: [["op": "add", "path": "/member_ids", "value": .string(c)]])
            XCTAssertEqual(readerPatch.status, 403)
            XCTAssertEqual(readerPatch.errorDetail, "Policy doesn't allow federation:update to be performed.")
            let readerDelete = try await h.request(.delete, "/v1/federations/\(f)", token: .reader)
            XCTAssertEqual(readerDelete.status, 403)
            XCTAssertEqual(readerDelete.errorDetail, "Policy doesn't allow federation:delete to be performed.")

            // Ambiguous names.
            _ = try await federation(h, host: c, name: "fed1")
            let ambiguous = try await h.request(.get, "/v1/federations/fed1")
            XCTAssertEqual(ambiguous.status, 409)
            XCTAssertEqual(ambiguous.errorDetail, "Multiple federations exist with same name. Please use the federation uuid instead.")
        }
    }

    // MARK: Patch

    func testJoinAndUnjoin() async throws {
        try await APIHarness.withEach { h in
            let host = try await cluster(h)
            let member = try await cluster(h, "member")
            let f = try await federation(h, host: host)

            let join = try await h.request(.patch, "/v1/federations/\(f)",
                                           body: [["op": "add", "path": "/member_ids", "value": .string(member)]])
            XCTAssertEqual(join.status, 202, join.text)
            XCTAssertEqual(join.json, ["uuid": .string(f)])
            let after = try await h.request(.get, "/v1/federations/\(f)")
            XCTAssertEqual(after.json?["member_ids"], [.string(member)])
            XCTAssertEqual(after.json?["status"], "UPDATE_COMPLETE")
            XCTAssertNotEqual(after.json?["updated_at"], .null)

            let twice = try await h.request(.patch, "/v1/federations/fed1",
                                            body: [["op": "add", "path": "/member_ids", "value": .string(member)]])
            XCTAssertEqual(twice.status, 409)
            XCTAssertEqual(twice.errorDetail, "A cluster with UUID \(member) is already a member of the federation fed1.")
            // Joining by cluster name stores the UUID (and is also a duplicate here).
            let byName = try await h.request(.patch, "/v1/federations/\(f)",
                                             body: [["op": "add", "path": "/member_ids", "value": "member"]])
            XCTAssertEqual(byName.status, 409)
            let unknown = try await h.request(.patch, "/v1/federations/\(f)",
                                              body: [["op": "add", "path": "/member_ids", "value": "11111111-2222-3333-4444-555555555555"]])
            XCTAssertEqual(unknown.status, 404)
            XCTAssertEqual(unknown.errorDetail, "Cluster 11111111-2222-3333-4444-555555555555 could not be found.")
            let theirs = try await cluster(h, "theirs", token: .other)
            let foreign = try await h.request(.patch, "/v1/federations/\(f)",
                                              body: [["op": "add", "path": "/member_ids", "value": .string(theirs)]])
            XCTAssertEqual(foreign.status, 404)

            let notMember = try await h.request(.patch, "/v1/federations/\(f)",
                                                body: [["op": "remove", "path": "/member_ids", "value": .string(host)]])
            XCTAssertEqual(notMember.status, 404)
            XCTAssertEqual(notMember.errorDetail, "Cluster \(host) is not a member of the federation fed1.")
            let unjoin = try await h.request(.patch, "/v1/federations/\(f)",
                                             body: [["op": "remove", "path": "/member_ids", "value": .string(member)]])
            XCTAssertEqual(unjoin.status, 202, unjoin.text)
            let empty = try await h.request(.get, "/v1/federations/\(f)")
            XCTAssertEqual(empty.json?["member_ids"], [])

            // Several members; a remove without a value clears the list; a replace must be a list.
            for c in [member, host] {
                let r = try await h.request(.patch, "/v1/federations/\(f)", body: [["op": "add", "path": "/member_ids", "value": .string(c)]])
                XCTAssertEqual(r.status, 202, r.text)
            }
            let both = try await h.request(.get, "/v1/federations/\(f)")
            XCTAssertEqual(both.json?["member_ids"], [.string(member), .string(host)])
            let replace = try await h.request(.patch, "/v1/federations/\(f)", body: [["op": "replace", "path": "/member_ids", "value": .string(host)]])
            XCTAssertEqual(replace.status, 400)
            XCTAssertEqual(replace.errorDetail, "Invalid input for field/attribute member_ids. Value: '\(host)'. Wrong type. Expected '<class 'list'>', got '<class 'str'>'")
            let clear = try await h.request(.patch, "/v1/federations/\(f)", body: [["op": "remove", "path": "/member_ids"]])
            XCTAssertEqual(clear.status, 202, clear.text)
            let cleared = try await h.request(.get, "/v1/federations/\(f)")
            XCTAssertEqual(cleared.json?["member_ids"], [])
        }
    }

    func testPatchOnlyMembersAndPropertiesChange() async throws {
        try await APIHarness.withEach { h in
            let host = try await cluster(h)
            let f = try await federation(h, host: host)
            let name = try await h.request(.patch, "/v1/federations/\(f)", body: [["op": "replace", "path": "/name", "value": "other"]])
            XCTAssertEqual(name.status, 400)
            XCTAssertEqual(name.errorDetail, "cannot change federation property(ies) name.")
            XCTAssertEqual(name.errorTitle, "cannot change federation property(ies) name")
            let two = try await h.request(.patch, "/v1/federations/\(f)", body: [
                ["op": "replace", "path": "/name", "value": "other"], ["op": "replace", "path": "/hostcluster_id", "value": "x"],
            ])
            XCTAssertEqual(two.status, 400)
            XCTAssertEqual(two.errorDetail, "cannot change federation property(ies) hostcluster_id, name.")
            let uuid = try await h.request(.patch, "/v1/federations/\(f)", body: [["op": "replace", "path": "/uuid", "value": "x"]])
            XCTAssertEqual(uuid.status, 400)
            XCTAssertEqual(uuid.errorDetail, "'/uuid' is an internal attribute and can not be updated")
            let notList = try await h.request(.patch, "/v1/federations/\(f)", body: ["name": "x"])
            XCTAssertEqual(notList.status, 400)
            let badRollback = try await h.request(.patch, "/v1/federations/\(f)?rollback=maybe",
                                                  body: [["op": "replace", "path": "/properties", "value": "{'dns-zone': 'b.'}"]])
            XCTAssertEqual(badRollback.status, 400)

            // Properties may change (Python-literal strings, as the client sends them).
            let props = try await h.request(.patch, "/v1/federations/\(f)?rollback=True",
                                            body: [["op": "replace", "path": "/properties", "value": "{'dns-zone': 'other.example.'}"]])
            XCTAssertEqual(props.status, 202, props.text)
            let get = try await h.request(.get, "/v1/federations/\(f)")
            XCTAssertEqual(get.json?["properties"], ["dns-zone": "other.example."])
            XCTAssertEqual(get.json?["name"], "fed1")
            let sub = try await h.request(.patch, "/v1/federations/\(f)", body: [["op": "add", "path": "/properties/extra", "value": "1"]])
            XCTAssertEqual(sub.status, 202, sub.text)
            let withExtra = try await h.request(.get, "/v1/federations/\(f)")
            XCTAssertEqual(withExtra.json?["properties"], ["dns-zone": "other.example.", "extra": "1"])
            let noZone = try await h.request(.patch, "/v1/federations/\(f)", body: [["op": "remove", "path": "/properties/dns-zone"]])
            XCTAssertEqual(noZone.status, 400)
            XCTAssertEqual(noZone.errorDetail, "No DNS zone specified. Please specify a `dns-zone`.")
            let missing = try await h.request(.patch, "/v1/federations/nope", body: [["op": "remove", "path": "/properties/extra"]])
            XCTAssertEqual(missing.status, 404)
            XCTAssertEqual(missing.errorDetail, "Federation nope could not be found.")
        }
    }

    // MARK: Delete

    func testDelete() async throws {
        try await APIHarness.withEach { h in
            let host = try await cluster(h)
            let f = try await federation(h, host: host)
            let r = try await h.request(.delete, "/v1/federations/fed1")
            XCTAssertEqual(r.status, 204)
            XCTAssertEqual(r.text, "")
            let get = try await h.request(.get, "/v1/federations/\(f)")
            XCTAssertEqual(get.status, 404)
            XCTAssertEqual(get.errorDetail, "Federation \(f) could not be found.")
            let again = try await h.request(.delete, "/v1/federations/\(f)")
            XCTAssertEqual(again.status, 404)
            let put = try await h.request(.put, "/v1/federations/\(f)", body: [:])
            XCTAssertEqual(put.status, 405)
            // The host cluster is untouched.
            let c = try await h.request(.get, "/v1/clusters/\(host)")
            XCTAssertEqual(c.status, 200)
        }
    }
}
