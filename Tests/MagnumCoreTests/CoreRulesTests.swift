import Foundation
@testable import MagnumCore
import XCTest

final class MicroversionTests: XCTestCase {
    func testNegotiation() {
        XCTAssertEqual(Microversion.negotiate(nil), .version(.minimum))
        XCTAssertEqual(Microversion.negotiate("container-infra 1.9"), .version(Microversion(1, 9)))
        XCTAssertEqual(Microversion.negotiate("container-infra LATEST"), .version(.maximum))
        XCTAssertEqual(Microversion.negotiate("container-infrastructure-management 1.14"), .version(Microversion(1, 14)))
        XCTAssertEqual(Microversion.negotiate("container-infra 1.99"), .version(Microversion(1, 99)))
        XCTAssertFalse(Microversion(1, 99).isSupported)
        XCTAssertFalse(Microversion(1, 0).isSupported)
        XCTAssertTrue(Microversion(1, 7).isSupported)
        for bad in ["foo 1.1", "container-infra abc", "1.1", "container-infra 1", "container-infra 1.1 x", "container-infra 1.-1"] {
            XCTAssertEqual(Microversion.negotiate(bad), .malformed, bad)
        }
    }

    func testOrdering() {
        XCTAssertLessThan(Microversion(1, 9), Microversion(1, 10))
        XCTAssertLessThan(Microversion(1, 14), Microversion(2, 0))
        XCTAssertEqual(Microversion(1, 13).description, "1.13")
    }
}

final class SchemaTests: XCTestCase {
    let schema = ResourceSchema(argument: "thing", fields: [
        FieldSpec("name", .resourceName(max: 10)),
        FieldSpec("count", .integer(min: 1, max: 5)),
        FieldSpec("flag", .boolean),
        FieldSpec("kind", .enumeration(["vm", "bm"])),
        FieldSpec("labels", .labels),
        FieldSpec("required", .string(min: 1, max: 3), mandatory: true),
        FieldSpec("id", .uuid),
        FieldSpec("stamp", .any, readOnly: true),
        FieldSpec("ignored", .any, ignored: true),
    ])

    func message(_ body: JSON?) -> String? {
        do {
            _ = try schema.decode(body)
            return nil
        } catch let e as MagnumError {
            XCTAssertEqual(e.httpStatus, 400)
            return e.message
        } catch {
            return "\(error)"
        }
    }

    func testBodyShape() {
        XCTAssertEqual(message(nil), "Missing argument: \"thing\"")
        XCTAssertNotNil(message(["a", "b"]))
        XCTAssertNotNil(message("text"))
        XCTAssertEqual(message(["required": "x", "zzz": 1, "aaa": 2]), "Unknown attribute for argument thing: aaa, zzz")
        XCTAssertEqual(message([:]), "Invalid input for field/attribute required. Value: 'None'. Mandatory field missing.")
        XCTAssertEqual(message(["required": nil]), "Invalid input for field/attribute required. Value: 'None'. Mandatory field missing.")
        XCTAssertEqual(message(["required": "x", "stamp": "now"]), "Invalid input for field/attribute stamp. Value: 'now'. Cannot set read only field.")
    }

    func testFieldTypes() throws {
        XCTAssertEqual(message(["required": "x", "name": "1abc"]), "Invalid input for field/attribute name. Value: '1abc'. Value should match the pattern ^[a-zA-Z][a-zA-Z0-9_.-]*$")
        XCTAssertEqual(message(["required": "x", "name": "abcdefghijk"]), "Invalid input for field/attribute name. Value: 'abcdefghijk'. Value should have a maximum character requirement of 10")
        XCTAssertEqual(message(["required": "x", "count": 0]), "Invalid input for field/attribute count. Value: '0'. Value should be greater or equal to 1")
        XCTAssertEqual(message(["required": "x", "count": 6]), "Invalid input for field/attribute count. Value: '6'. Value should be lower or equal to 5")
        XCTAssertEqual(message(["required": "x", "count": "abc"]), "Invalid input for field/attribute count. Value: 'abc'. Wrong type. Expected '<class 'int'>', got '<class 'str'>'")
        XCTAssertEqual(message(["required": "x", "kind": "xx"]), "Invalid input for field/attribute kind. Value: 'xx'. Value should be one of: bm, vm")
        XCTAssertEqual(message(["required": "x", "id": "nope"]), "Invalid input for field/attribute id. Value: 'nope'. Expected a uuid but received nope.")
        XCTAssertTrue(message(["required": "x", "flag": "maybe"])?.hasPrefix("Invalid input for field/attribute flag. Value: 'maybe'. Unrecognized value 'maybe'") ?? false)
        XCTAssertNotNil(message(["required": "x", "labels": ["a": ["nested": 1]]]))

        let out = try schema.decode(["required": "x", "count": "3", "flag": "YES", "labels": ["a": 1, "b": true, "c": 1.5, "d": "s"],
                                     "ignored": "whatever", "name": nil, "id": "{11111111222233334444555555555555}"])
        XCTAssertEqual(out["count"], 3)
        XCTAssertEqual(out["flag"], true)
        XCTAssertEqual(out["labels"], ["a": "1", "b": "True", "c": "1.5", "d": "s"])
        XCTAssertNil(out["ignored"])
        XCTAssertEqual(out["name"], .null)
        XCTAssertEqual(out["id"], "11111111-2222-3333-4444-555555555555")
    }

    func testBooleanStrings() {
        for t in ["true", "YES", "on", "1", "t", "y"] { XCTAssertEqual(ResourceSchema.parseBool(.string(t)), true, t) }
        for f in ["false", "No", "OFF", "0", "f", "n"] { XCTAssertEqual(ResourceSchema.parseBool(.string(f)), false, f) }
        XCTAssertNil(ResourceSchema.parseBool(.string("maybe")))
        XCTAssertNil(ResourceSchema.parseBool(.int(2)))
        XCTAssertEqual(ResourceSchema.parseBool(.int(0)), false)
    }

    func testUUIDs() {
        XCTAssertEqual(UUIDs.canonical("11111111-2222-3333-4444-555555555555"), "11111111-2222-3333-4444-555555555555")
        XCTAssertEqual(UUIDs.canonical("11111111222233334444555555555555"), "11111111-2222-3333-4444-555555555555")
        XCTAssertEqual(UUIDs.canonical("AAAAAAAA-2222-3333-4444-555555555555"), "aaaaaaaa-2222-3333-4444-555555555555")
        XCTAssertNil(UUIDs.canonical("1111111-12222-3333-4444-555555555555"))
        XCTAssertNil(UUIDs.canonical("k8s"))
        XCTAssertNil(UUIDs.canonical("gggggggg-2222-3333-4444-555555555555"))
    }
}

final class LabelsTests: XCTestCase {
    func testEffectiveLabels() {
        let parent = ["a": "1", "b": "2"]
        XCTAssertEqual(Labels.effective(given: nil, parent: parent, merge: false), parent)
        XCTAssertEqual(Labels.effective(given: [:], parent: parent, merge: true), parent)
        XCTAssertEqual(Labels.effective(given: ["b": "3", "c": "4"], parent: parent, merge: false), ["b": "3", "c": "4"])
        XCTAssertEqual(Labels.effective(given: ["b": "3", "c": "4"], parent: parent, merge: true), ["a": "1", "b": "3", "c": "4"])
    }

    func testDiffShowsParentValueForOverrides() {
        let d = Labels.diff(child: ["b": "3", "c": "4"], parent: ["a": "1", "b": "2"])
        XCTAssertEqual(d.overridden, ["b": "2"])
        XCTAssertEqual(d.added, ["c": "4"])
        XCTAssertEqual(d.skipped, ["a": "1"])
    }

    func testGeneratedNames() {
        let name = GeneratedNames.make("cluster")
        let parts = name.split(separator: "-")
        XCTAssertEqual(parts.count, 3)
        XCTAssertTrue(GeneratedNames.letters.contains(String(parts[0])))
        XCTAssertTrue((1...24).contains(Int(parts[1]) ?? 0))
        XCTAssertEqual(parts[2], "cluster")
        XCTAssertTrue(ResourceSchema.isResourceName(name))
    }
}

final class ErrorAndJSONTests: XCTestCase {
    func testErrorBodyAndTitle() {
        let e = MagnumError.notFound("Cluster", "nope")
        XCTAssertEqual(e.httpStatus, 404)
        XCTAssertEqual(e.body, ["errors": [["request_id": "", "code": "client", "status": 404, "title": "Cluster nope could not be found",
                                            "detail": "Cluster nope could not be found.", "links": []]]])
        XCTAssertEqual(MagnumError(.internal, "boom").body["errors"]?.arrayValue?.first?["code"], "server")
        XCTAssertEqual(MagnumError.framework(.methodNotAllowed).body,
                       ["errors": [["request_id": "", "code": "", "status": 405, "title": "", "detail": "", "links": []]]])
        XCTAssertEqual(MagnumError(.conflict, "node label 'kubernetes.io/x' bad (x).").title, "node label 'kubernetes")
        XCTAssertEqual(MagnumError(.quotaExceeded, "q").httpStatus, 403)
        XCTAssertEqual(MagnumError(.unsupportedMediaType, "m").httpStatus, 415)
    }

    func testJSONRoundTripAndEscaping() throws {
        let v: JSON = ["s": "a\"b\\c\n\u{01}é", "i": 3, "d": 1.5, "b": false, "n": nil, "a": [1, "x"]]
        let text = v.serialized()
        XCTAssertTrue(text.contains("\\u0001"))
        XCTAssertEqual(try JSON.parse(string: text), v)
        XCTAssertEqual(try JSON.parse(string: "1"), .int(1))
        XCTAssertEqual(try JSON.parse(string: "1.0"), .double(1.0))
        XCTAssertEqual(try JSON.parse(string: "true"), .bool(true))
        XCTAssertThrowsError(try JSON.parse(string: "{bad")) { error in
            XCTAssertEqual((error as? MagnumError)?.message, "Request is not in valid JSON format")
        }
    }

    func testTimestamps() {
        XCTAssertNil(Timestamps.format(nil))
        XCTAssertEqual(Timestamps.format(Date(timeIntervalSince1970: 0)), "1970-01-01T00:00:00+00:00")
        XCTAssertEqual(Timestamps.format(Date(timeIntervalSince1970: 1_795_607_541.7)), "2026-11-25T11:52:21+00:00")
        XCTAssertEqual(Timestamps.format(Date(timeIntervalSince1970: 951_782_400)), "2000-02-29T00:00:00+00:00")
    }
}

final class PolicyTests: XCTestCase {
    let policy = DefaultPolicy()
    let admin = RequestContext(userID: "a", projectID: "pa", roles: ["admin", "member", "reader"])
    let member = RequestContext(userID: "m", projectID: "p1", roles: ["member", "reader"])
    let reader = RequestContext(userID: "r", projectID: "p1", roles: ["reader"])
    let own = PolicyTarget(projectID: "p1", userID: "m")
    let foreign = PolicyTarget(projectID: "p2", userID: "x")

    func testDefaultRules() {
        XCTAssertTrue(policy.allows("cluster:create", member, target: own))
        XCTAssertFalse(policy.allows("cluster:create", reader, target: PolicyTarget(caller: reader)))
        XCTAssertTrue(policy.allows("cluster:get", reader, target: own))
        XCTAssertFalse(policy.allows("cluster:get", member, target: foreign))
        XCTAssertTrue(policy.allows("cluster:get", admin, target: foreign))
        XCTAssertFalse(policy.allows("clustertemplate:publish", member, target: own))
        XCTAssertTrue(policy.allows("clustertemplate:publish", admin, target: own))
        XCTAssertFalse(policy.allows("magnum-service:get_all", member, target: own))
        XCTAssertFalse(policy.allows("quota:create", member, target: own))
        XCTAssertTrue(policy.allows("quota:get", reader, target: PolicyTarget(caller: reader)))
        XCTAssertTrue(policy.allows("certificate:get", reader, target: PolicyTarget(projectID: "p1", userID: "r")))
        XCTAssertFalse(policy.allows("certificate:get", reader, target: PolicyTarget(projectID: "p1", userID: "m")))
        XCTAssertFalse(policy.allows("credential:rotate", admin, target: PolicyTarget(caller: admin).with(project: "p9")))
        XCTAssertTrue(policy.allows("cluster:get_all_all_projects", admin, target: PolicyTarget(caller: admin)))
        XCTAssertFalse(policy.allows("cluster:get_all_all_projects", member, target: PolicyTarget(caller: member)))
        XCTAssertThrowsError(try policy.enforce("cluster:create", reader)) { error in
            XCTAssertEqual((error as? MagnumError)?.message, "Policy doesn't allow cluster:create to be performed.")
            XCTAssertEqual((error as? MagnumError)?.httpStatus, 403)
        }
    }

    func testImpliedRoles() async throws {
        let table = TokenTableAuthenticator(["t": .init(userID: "u", projectID: "p", roles: ["admin"])])
        let ctx = try await table.authenticate(token: "t")
        XCTAssertEqual(ctx?.roles, ["admin", "member", "reader"])
        let none = try await table.authenticate(token: "other")
        XCTAssertNil(none)
    }
}

extension PolicyTarget {
    func with(project: String) -> PolicyTarget { PolicyTarget(projectID: project, userID: userID) }
}

final class NodeGroupRuleTests: XCTestCase {
    func ng(_ configure: (inout NodeGroup) -> Void) -> NodeGroup {
        var n = NodeGroup(uuid: "u", clusterID: "c")
        n.name = "ng1"
        configure(&n)
        return n
    }

    func conflict(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let e as MagnumError {
            XCTAssertEqual(e.httpStatus, 409)
            return e.message
        } catch {
            return "\(error)"
        }
    }

    func testCounts() {
        XCTAssertNil(conflict { try NodeGroupRules.checkCounts(ng { $0.nodeCount = 2; $0.minNodeCount = 1; $0.maxNodeCount = 3 }) })
        XCTAssertEqual(conflict { try NodeGroupRules.checkCounts(ng { $0.nodeCount = 2; $0.minNodeCount = 3; $0.maxNodeCount = 2 }) },
                       "max_node_count for ng1 is invalid (min_node_count (3) should be less or equal to max_node_count (2)).")
        XCTAssertNotNil(conflict { try NodeGroupRules.checkCounts(ng { $0.nodeCount = 5; $0.maxNodeCount = 3 }) })
        XCTAssertNotNil(conflict { try NodeGroupRules.checkCounts(ng { $0.nodeCount = 1; $0.minNodeCount = 2 }) })
    }

    func testReservedLabels() {
        for ok in ["tier", "node.kubernetes.io/x", "kubelet.kubernetes.io/y", "kubernetes.io/hostname", "topology.kubernetes.io/zone", "example.com/a"] {
            XCTAssertNil(conflict { try NodeGroupRules.checkNodeLabelsAndTaints(ng { $0.nodeLabels = [ok: "v"] }) }, ok)
        }
        for bad in ["kubernetes.io/foo", "k8s.io/x", "foo.kubernetes.io/bar", "a.k8s.io/b"] {
            XCTAssertNotNil(conflict { try NodeGroupRules.checkNodeLabelsAndTaints(ng { $0.nodeLabels = [bad: "v"] }) }, bad)
        }
        XCTAssertNotNil(conflict { try NodeGroupRules.checkNodeLabelsAndTaints(ng { $0.role = "master"; $0.nodeLabels = ["a": "b"] }) })
    }

    func testTaints() throws {
        let t = try NodeGroupRules.taints([["key": "gpu", "value": "true", "effect": "NoSchedule"], ["key": "k", "effect": "NoExecute"]], nodegroup: "ng1")
        XCTAssertEqual(t, [NodeTaint(key: "gpu", value: "true", effect: "NoSchedule"), NodeTaint(key: "k", value: nil, effect: "NoExecute")])
        XCTAssertNil(try NodeGroupRules.taints(nil, nodegroup: "ng1"))
        XCTAssertNotNil(conflict { _ = try NodeGroupRules.taints([["key": "k", "effect": "Sometimes"]], nodegroup: "ng1") })
        XCTAssertNotNil(conflict { _ = try NodeGroupRules.taints([["key": "", "effect": "NoSchedule"]], nodegroup: "ng1") })
        XCTAssertNotNil(conflict { _ = try NodeGroupRules.taints([["key": "k", "effect": "NoSchedule", "x": "y"]], nodegroup: "ng1") })
        XCTAssertNotNil(conflict { _ = try NodeGroupRules.taints("gpu", nodegroup: "ng1") })
    }
}

final class TemplateRuleTests: XCTestCase {
    func testInUseRule() {
        var old = ClusterTemplate(uuid: "u", coe: "kubernetes")
        old.name = "a"
        var renamed = old
        renamed.name = "b"
        XCTAssertTrue(ClusterTemplateRules.changeAllowedWhileInUse(old: old, new: renamed))
        var published = old
        published.isPublic = true
        XCTAssertTrue(ClusterTemplateRules.changeAllowedWhileInUse(old: old, new: published))
        var tagged = old
        tagged.tags = "x"
        XCTAssertTrue(ClusterTemplateRules.changeAllowedWhileInUse(old: old, new: tagged))
        var two = published
        two.tags = "x"
        XCTAssertFalse(ClusterTemplateRules.changeAllowedWhileInUse(old: old, new: two))
        var flavor = old
        flavor.flavorID = "m1.large"
        XCTAssertFalse(ClusterTemplateRules.changeAllowedWhileInUse(old: old, new: flavor))
        var unpublish = published
        unpublish.isPublic = false
        XCTAssertFalse(ClusterTemplateRules.changeAllowedWhileInUse(old: published, new: unpublish))
    }

    func testIPv4() {
        XCTAssertTrue(ClusterTemplateRules.isIPv4("8.8.8.8"))
        XCTAssertFalse(ClusterTemplateRules.isIPv4("256.1.1.1"))
        XCTAssertFalse(ClusterTemplateRules.isIPv4("1.2.3"))
        XCTAssertFalse(ClusterTemplateRules.isIPv4("a.b.c.d"))
    }

    func testValidateDefaultsNetworkDriverPerCOE() throws {
        var k = ClusterTemplate(uuid: "u", coe: "kubernetes")
        try ClusterTemplateRules.validate(&k, config: APIConfiguration(), defaultNetworkDriver: true)
        XCTAssertEqual(k.networkDriver, "flannel")
        var s = ClusterTemplate(uuid: "u", coe: "swarm-mode")
        try ClusterTemplateRules.validate(&s, config: APIConfiguration(), defaultNetworkDriver: true)
        XCTAssertEqual(s.networkDriver, "docker")
        var cilium = ClusterTemplate(uuid: "u", coe: "kubernetes")
        cilium.networkDriver = "cilium"
        XCTAssertThrowsError(try ClusterTemplateRules.validate(&cilium, config: APIConfiguration(), defaultNetworkDriver: true)) { e in
            XCTAssertEqual((e as? MagnumError)?.message, "Network driver type cilium is not allowed, expecting a flannel/calico/unspecified network driver. ")
        }
        var config = APIConfiguration()
        config.kubernetesAllowedNetworkDrivers = ["all"]
        XCTAssertNoThrow(try ClusterTemplateRules.validate(&cilium, config: config, defaultNetworkDriver: true))
    }

    func testDriverRegistry() {
        let r = DriverRegistry.builtIn
        XCTAssertEqual(r.providing(serverType: "vm", os: "fedora-coreos", coe: "kubernetes")?.name, "heat_fedora_coreos")
        XCTAssertEqual(r.providing(serverType: "vm", os: "local-swarm", coe: "swarm-mode")?.name, "local_swarm")
        XCTAssertNil(r.providing(serverType: "bm", os: "local-swarm", coe: "swarm-mode"))
        XCTAssertNil(r.providing(serverType: "vm", os: "fedora-coreos", coe: "kubernetes", disabled: ["heat_fedora_coreos"]))
        XCTAssertNil(r.named("nope"))
    }
}

final class JSONParserTests: XCTestCase {
    func testValidDocuments() throws {
        XCTAssertEqual(try JSON.parse(string: " {\"a\": [1, -2, 3.5, 1e3, 0, -0.25], \"b\": {}, \"c\": []} "),
                       ["a": [1, -2, 3.5, 1000.0, 0, -0.25], "b": [:], "c": []])
        XCTAssertEqual(try JSON.parse(string: "\"\\u00e9\\n\\\"\\ud83d\\ude00\""), .string("é\n\"😀"))
        XCTAssertEqual(try JSON.parse(string: "null"), .null)
        XCTAssertEqual(try JSON.parse(string: "1.0"), .double(1.0))
        XCTAssertEqual(try JSON.parse(string: "9223372036854775807"), .int(Int.max))
    }

    func testInvalidDocuments() {
        for bad in ["", "[1,]", "{\"a\":1,}", "{a:1}", "[1 2]", "01", "1.", ".5", "tru", "\"unterminated", "\"\\x\"",
                    "\"\\ud800\"", "{\"a\" 1}", "[1]]", "\u{01}", "\"a\u{01}\"", "nan", "1e", "-"] {
            XCTAssertThrowsError(try JSON.parse(string: bad), bad) { error in
                XCTAssertEqual((error as? MagnumError)?.message, "Request is not in valid JSON format", bad)
            }
        }
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        XCTAssertThrowsError(try JSON.parse(string: deep))
    }
}
