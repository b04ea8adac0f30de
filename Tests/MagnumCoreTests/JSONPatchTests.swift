import XCTest

@testable import MagnumCore

final class JSONPatchTests: XCTestCase {
    /// A cluster-like document: set, null, map, list and string attributes.
    private let document: [String: JSON] = [
        "uuid": "5d12f6fd-a196-4bf0-ae4c-1f639a523a52",
        "name": "k8s",
        "node_count": 1,
        "flavor_id": nil,
        "labels": ["a": "1", "b": "2"],
        "node_labels": nil,
        "items": [10, 20, 30],
        "nodes": [["k": "v"]],
    ]

    private let rules = PatchRules()

    // MARK: Helpers

    private func assertError(
        _ message: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Any
    ) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let error = error as? MagnumError else {
                return XCTFail("not a MagnumError: \(error)", file: file, line: line)
            }
            XCTAssertEqual(error.code, .invalid, file: file, line: line)
            XCTAssertEqual(error.httpStatus, 400, file: file, line: line)
            XCTAssertEqual(error.message, message, file: file, line: line)
        }
    }

    private func parseError(_ body: JSON, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        assertError(message, file: file, line: line) { try JSONPatch.parse(body) }
    }

    private func op(_ op: PatchOperation.Op, _ path: String, _ value: JSON? = nil) -> PatchOperation {
        PatchOperation(op: op, path: path, value: value)
    }

    private func apply(
        _ ops: [PatchOperation], rules: PatchRules? = nil, file: StaticString = #filePath, line: UInt = #line
    ) -> [String: JSON] {
        do {
            return try JSONPatch.apply(ops, to: document, rules: rules ?? self.rules)
        } catch {
            XCTFail("patch failed: \(error)", file: file, line: line)
            return [:]
        }
    }

    private func applyError(
        _ ops: [PatchOperation], _ message: String, rules: PatchRules? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        assertError(message, file: file, line: line) {
            try JSONPatch.apply(ops, to: document, rules: rules ?? self.rules)
        }
    }

    // MARK: parse — accepted input

    func testParsesOperationsInOrder() throws {
        let body = try JSON.parse(string: """
            [{"op": "replace", "path": "/name", "value": "x"},
             {"op": "add", "path": "/labels/kube_tag", "value": 5},
             {"op": "replace", "path": "/master_lb_enabled", "value": true},
             {"op": "remove", "path": "/labels/a"},
             {"op": "remove", "path": "/labels/b", "value": null},
             {"op": "remove", "path": "/labels/c", "value": "kept"}]
            """)
        XCTAssertEqual(try JSONPatch.parse(body), [
            op(.replace, "/name", "x"),
            op(.add, "/labels/kube_tag", 5),
            op(.replace, "/master_lb_enabled", true),
            op(.remove, "/labels/a"),
            op(.remove, "/labels/b"),
            op(.remove, "/labels/c", "kept"),
        ])
    }

    func testEmptyListIsAnEmptyPatch() throws {
        XCTAssertEqual(try JSONPatch.parse([]), [])
    }

    func testValidPaths() throws {
        for path in ["/a", "/node_count", "/labels/kube-tag_1", "/items/0", "/items/-", "/labels/ключ", "/a/b/c/d"] {
            XCTAssertEqual(try JSONPatch.parse([["op": "remove", "path": .string(path)]]), [op(.remove, path)])
        }
    }

    func testEmptyStringValueIsAValue() throws {
        XCTAssertEqual(try JSONPatch.parse([["op": "add", "path": "/name", "value": ""]]), [op(.add, "/name", "")])
    }

    // MARK: parse — rejected input

    func testBodyMustBeAList() {
        parseError(["op": "add"],
                   "Invalid input for field/attribute patch. Value: '{'op': 'add'}'. Value not a valid list: {'op': 'add'}")
        parseError("abc", "Invalid input for field/attribute patch. Value: 'abc'. Value not a valid list: abc")
        parseError(5, "Invalid input for field/attribute patch. Value: '5'. Value not a valid list: 5")
    }

    func testElementsMustBeObjects() {
        parseError(["x"], "Invalid input for field/attribute patch. Value: 'x'. Value not a valid dict: x")
        parseError([[1]], "Invalid input for field/attribute patch. Value: '[1]'. Value not a valid dict: [1]")
    }

    func testUnknownMembers() {
        parseError([["op": "move", "from": "/a", "path": "/b"]], "Unknown attribute for argument patch: from")
        parseError([["op": "add", "path": "/b", "value": 1, "x": 1, "from": "/a"]],
                   "Unknown attributes for argument patch: from, x")
    }

    func testOpMustBeAddReplaceOrRemove() {
        for bad in ["test", "move", "copy", "ADD", ""] {
            parseError([["op": .string(bad), "path": "/name", "value": "x"]],
                       "Invalid input for field/attribute op. Value: '\(bad)'. Value should be one of: replace, add, remove")
        }
        parseError([["op": 5, "path": "/name"]],
                   "Invalid input for field/attribute op. Value: '5'. Value should be one of: replace, add, remove")
        parseError([["op": ["add"], "path": "/name"]],
                   "Invalid input for field/attribute op. Value: '['add']'. unhashable type: 'list'")
    }

    func testOpAndPathAreMandatory() {
        parseError([["path": "/name", "value": "x"]],
                   "Invalid input for field/attribute op. Value: 'None'. Mandatory field missing.")
        parseError([["op": "add", "value": "x"]],
                   "Invalid input for field/attribute path. Value: 'None'. Mandatory field missing.")
        parseError([["op": nil, "path": "/name", "value": "x"]],
                   "Invalid input for field/attribute op. Value: 'None'. Mandatory field missing.")
    }

    func testPathMustMatchThePattern() {
        for bad in ["name", "/", "", "/a/", "//a", "/a.b", "/a b", "/labels/a/b.c", "/a~1b", "/a\n"] {
            parseError([["op": "remove", "path": .string(bad)]],
                       "Invalid input for field/attribute path. Value: '\(bad)'. Value should match the pattern ^(/[\\w-]+)+$")
        }
        parseError([["op": "remove", "path": 5]],
                   "Invalid input for field/attribute path. Value: '5'. Value should be string")
    }

    func testPathIsCheckedBeforeOp() {
        parseError([["op": "test", "path": "bad"]],
                   "Invalid input for field/attribute path. Value: 'bad'. Value should match the pattern ^(/[\\w-]+)+$")
    }

    func testValueMustBeStringIntegerOrBoolean() {
        let expected = "Wrong type. Expected '(<class 'str'>, <class 'int'>)'"
        parseError([["op": "replace", "path": "/labels", "value": ["a": 1]]],
                   "Invalid input for field/attribute value. Value: '{'a': 1}'. \(expected), got '<class 'dict'>'")
        parseError([["op": "replace", "path": "/labels", "value": [1, "a"]]],
                   "Invalid input for field/attribute value. Value: '[1, 'a']'. \(expected), got '<class 'list'>'")
        parseError([["op": "replace", "path": "/node_count", "value": 1.5]],
                   "Invalid input for field/attribute value. Value: '1.5'. \(expected), got '<class 'float'>'")
    }

    func testAddAndReplaceNeedAValue() {
        for body: JSON in [
            [["op": "add", "path": "/name"]],
            [["op": "replace", "path": "/name"]],
            [["op": "replace", "path": "/name", "value": nil]],
        ] {
            parseError(body, "'add' and 'replace' operations needs value")
        }
    }

    func testElementsAreCheckedInOrder() {
        parseError([["op": "remove", "path": "/a"], ["op": "add", "path": "/b"], ["op": "test", "path": "/c"]],
                   "'add' and 'replace' operations needs value")
    }

    // MARK: apply — rule checks

    func testInternalPathsCannotBeTouched() {
        for path in ["/uuid", "/id", "/created_at", "/updated_at", "/links", "/project_id", "/user_id"] {
            applyError([op(.replace, path, "x")], "'\(path)' is an internal attribute and can not be updated")
            applyError([op(.remove, path)], "'\(path)' is an internal attribute and can not be updated")
        }
        applyError([op(.add, "/links/0", "x")], "'/links/0' is an internal attribute and can not be updated")
    }

    func testRuleChecksPrecedeEverythingElse() {
        applyError([op(.add, "/bogus", "x"), op(.replace, "/uuid", "x")],
                   "'/uuid' is an internal attribute and can not be updated")
    }

    func testResourceSpecificInternalPaths() {
        let custom = PatchRules(internalPaths: PatchRules.commonInternal.union(["/name"]))
        applyError([op(.replace, "/name", "x")], "'/name' is an internal attribute and can not be updated",
                   rules: custom)
    }

    func testMandatoryPathsCannotBeRemoved() {
        let custom = PatchRules(nonRemovablePaths: ["/name"])
        applyError([op(.remove, "/name")], "'/name' is a mandatory attribute and can not be removed", rules: custom)
        XCTAssertEqual(apply([op(.replace, "/name", "y")], rules: custom)["name"], "y")
    }

    func testDefaultRules() {
        let defaults = PatchRules()
        XCTAssertEqual(defaults.internalPaths,
                       ["/created_at", "/id", "/links", "/updated_at", "/uuid", "/project_id", "/user_id"])
        XCTAssertEqual(defaults.nonRemovablePaths, [])
        XCTAssertEqual(defaults.literalPaths, ["/labels", "/health_status_reason", "/node_labels", "/node_taints"])
    }

    func testApplyRefusesAddWithoutValue() {
        applyError([op(.add, "/flavor_id")], "'add' and 'replace' operations needs value")
    }

    // MARK: apply — root level

    func testAddOfUnknownRootAttribute() {
        applyError([op(.add, "/bogus", "x")], "Adding a new attribute /bogus to the root of the resource is not allowed.")
    }

    func testAddOfSetRootAttribute() {
        applyError([op(.add, "/name", "x")], "The attribute /name has existed, please use 'replace' operation instead.")
    }

    func testAddOfNullRootAttribute() {
        let result = apply([op(.add, "/flavor_id", "m1.small")])
        XCTAssertEqual(result["flavor_id"], "m1.small")
        XCTAssertEqual(result["name"], "k8s")
        XCTAssertEqual(result.count, document.count)
    }

    func testReplaceOfRootAttributeKeepsTheValueAsGiven() {
        let result = apply([op(.replace, "/node_count", "5"), op(.replace, "/name", 7)])
        XCTAssertEqual(result["node_count"], "5")
        XCTAssertEqual(result["name"], 7)
    }

    func testReplaceOfNonExistentRootAttribute() {
        applyError([op(.replace, "/bogus", "x")],
                   "Couldn't apply patch '[{'path': '/bogus', 'op': 'replace', 'value': 'x'}]'. "
                   + "Reason: can't replace a non-existent object 'bogus'")
    }

    func testRemoveOfRootAttributeLeavesNull() {
        let result = apply([op(.remove, "/name")])
        XCTAssertEqual(result["name"], .null)
        XCTAssertEqual(result.count, document.count)
    }

    func testRemoveOfNonExistentRootAttribute() {
        applyError([op(.remove, "/bogus")],
                   "Couldn't apply patch '[{'path': '/bogus', 'op': 'remove'}]'. "
                   + "Reason: can't remove a non-existent object 'bogus'")
    }

    func testOperationsApplyInSequence() {
        XCTAssertEqual(apply([op(.add, "/labels/x", "1"), op(.replace, "/labels/x", "2")])["labels"],
                       ["a": "1", "b": "2", "x": "2"])
        applyError([op(.remove, "/name"), op(.replace, "/name", "x")],
                   "Couldn't apply patch '[{'path': '/name', 'op': 'remove'}, "
                   + "{'path': '/name', 'op': 'replace', 'value': 'x'}]'. "
                   + "Reason: can't replace a non-existent object 'name'")
        XCTAssertEqual(apply([op(.remove, "/flavor_id"), op(.add, "/flavor_id", "m1")])["flavor_id"], "m1")
    }

    // MARK: apply — Python-literal values

    func testLiteralReplaceParsesPythonDict() {
        XCTAssertEqual(apply([op(.replace, "/labels", "{'kube_tag': 'v1.30', 'n': 1}")])["labels"],
                       ["kube_tag": "v1.30", "n": 1])
    }

    func testLiteralReplaceParsesJSONText() {
        XCTAssertEqual(apply([op(.replace, "/labels", #"{"a": "b", "c": true}"#)])["labels"], ["a": "b", "c": true])
    }

    func testLiteralReplaceOfEmptyStringIsEmptyMap() {
        XCTAssertEqual(apply([op(.replace, "/labels", "")])["labels"], .object([:]))
        XCTAssertEqual(apply([op(.replace, "/node_labels", "  ")])["node_labels"], .object([:]))
    }

    func testLiteralReplaceParsesLists() throws {
        let result = try JSONPatch.apply(
            [op(.replace, "/node_taints", "[{'key': 'k', 'value': 'v', 'effect': 'NoSchedule'}]")],
            to: ["node_taints": nil], rules: rules)
        XCTAssertEqual(result["node_taints"], [["key": "k", "value": "v", "effect": "NoSchedule"]])
    }

    func testMalformedLiteral() {
        applyError([op(.replace, "/labels", "{'x': y}")],
                   #"Couldn't apply patch '[{'path': '/labels', 'op': 'replace', 'value': "{'x': y}"}]'. "#
                   + #"Reason: malformed node or string: "{'x': y}""#)
    }

    func testNonStringLiteralValueIsMalformed() {
        applyError([op(.replace, "/labels", 5)],
                   "Couldn't apply patch '[{'path': '/labels', 'op': 'replace', 'value': 5}]'. "
                   + "Reason: malformed node or string: 5")
        applyError([op(.replace, "/node_labels", true)],
                   "Couldn't apply patch '[{'path': '/node_labels', 'op': 'replace', 'value': True}]'. "
                   + "Reason: malformed node or string: True")
    }

    func testReportedPatchShowsEarlierLiteralsParsed() {
        applyError([op(.replace, "/labels", "{'a': 'b'}"), op(.replace, "/bogus", "x")],
                   "Couldn't apply patch '[{'path': '/labels', 'op': 'replace', 'value': {'a': 'b'}}, "
                   + "{'path': '/bogus', 'op': 'replace', 'value': 'x'}]'. "
                   + "Reason: can't replace a non-existent object 'bogus'")
    }

    func testLiteralParsingOnlyForReplaceOnLiteralPaths() {
        XCTAssertEqual(apply([op(.replace, "/name", "{'a': 'b'}")])["name"], "{'a': 'b'}")
        XCTAssertEqual(apply([op(.add, "/node_labels", "{'a': 'b'}")])["node_labels"], "{'a': 'b'}")
        XCTAssertEqual(apply([op(.add, "/labels/x", "{'a': 'b'}")])["labels"]?["x"], "{'a': 'b'}")
        let noLiterals = PatchRules(literalPaths: [])
        XCTAssertEqual(apply([op(.replace, "/labels", "{'a': 'b'}")], rules: noLiterals)["labels"], "{'a': 'b'}")
    }

    // MARK: apply — nested paths in maps

    func testNestedAddSetsOrOverwritesKeys() {
        XCTAssertEqual(apply([op(.add, "/labels/kube_tag", "v1")])["labels"], ["a": "1", "b": "2", "kube_tag": "v1"])
        XCTAssertEqual(apply([op(.add, "/labels/a", 9)])["labels"], ["a": 9, "b": "2"])
    }

    func testNestedReplace() {
        XCTAssertEqual(apply([op(.replace, "/labels/a", "x")])["labels"], ["a": "x", "b": "2"])
        applyError([op(.replace, "/labels/missing", "x")],
                   "Couldn't apply patch '[{'path': '/labels/missing', 'op': 'replace', 'value': 'x'}]'. "
                   + "Reason: can't replace a non-existent object 'missing'")
    }

    func testNestedRemove() {
        XCTAssertEqual(apply([op(.remove, "/labels/a")])["labels"], ["b": "2"])
        applyError([op(.remove, "/labels/missing")],
                   "Couldn't apply patch '[{'path': '/labels/missing', 'op': 'remove'}]'. "
                   + "Reason: can't remove a non-existent object 'missing'")
    }

    func testMissingIntermediateMember() {
        applyError([op(.add, "/labels/missing/x", "1")],
                   "Couldn't apply patch '[{'path': '/labels/missing/x', 'op': 'add', 'value': '1'}]'. "
                   + "Reason: member 'missing' not found in {'a': '1', 'b': '2'}")
    }

    func testNullOrScalarParent() {
        applyError([op(.add, "/node_labels/x", "1")],
                   "Couldn't apply patch '[{'path': '/node_labels/x', 'op': 'add', 'value': '1'}]'. "
                   + "Reason: Document '<class 'NoneType'>' does not support indexing, "
                   + "must be mapping/sequence or support __getitem__")
        applyError([op(.remove, "/node_count/x")],
                   "Couldn't apply patch '[{'path': '/node_count/x', 'op': 'remove'}]'. "
                   + "Reason: Document '<class 'int'>' does not support indexing, "
                   + "must be mapping/sequence or support __getitem__")
    }

    func testStringParent() {
        applyError([op(.add, "/name/x", "1")],
                   "Couldn't apply patch '[{'path': '/name/x', 'op': 'add', 'value': '1'}]'. "
                   + "Reason: 'x' is not a valid sequence index")
        applyError([op(.replace, "/name/0", "1")],
                   "Couldn't apply patch '[{'path': '/name/0', 'op': 'replace', 'value': '1'}]'. "
                   + "Reason: unable to fully resolve json pointer /name/0, part 0")
    }

    // MARK: apply — nested paths in lists

    func testListAdd() {
        XCTAssertEqual(apply([op(.add, "/items/-", 40)])["items"], [10, 20, 30, 40])
        XCTAssertEqual(apply([op(.add, "/items/0", 5)])["items"], [5, 10, 20, 30])
        XCTAssertEqual(apply([op(.add, "/items/3", 40)])["items"], [10, 20, 30, 40])
        applyError([op(.add, "/items/5", 1)],
                   "Couldn't apply patch '[{'path': '/items/5', 'op': 'add', 'value': 1}]'. "
                   + "Reason: can't insert outside of list")
    }

    func testListReplace() {
        XCTAssertEqual(apply([op(.replace, "/items/1", 21)])["items"], [10, 21, 30])
        applyError([op(.replace, "/items/3", 1)],
                   "Couldn't apply patch '[{'path': '/items/3', 'op': 'replace', 'value': 1}]'. "
                   + "Reason: can't replace outside of list")
        applyError([op(.replace, "/items/-", 1)],
                   "Couldn't apply patch '[{'path': '/items/-', 'op': 'replace', 'value': 1}]'. "
                   + "Reason: 'path' with '-' can't be applied to 'replace' operation")
    }

    func testListRemove() {
        XCTAssertEqual(apply([op(.remove, "/items/0")])["items"], [20, 30])
        applyError([op(.remove, "/items/9")],
                   "Couldn't apply patch '[{'path': '/items/9', 'op': 'remove'}]'. "
                   + "Reason: can't remove a non-existent object '9'")
        applyError([op(.remove, "/items/-")],
                   "Couldn't apply patch '[{'path': '/items/-', 'op': 'remove'}]'. Reason: invalid array index '-'")
    }

    func testListIndexMustBeNumeric() {
        applyError([op(.add, "/items/abc", 1)],
                   "Couldn't apply patch '[{'path': '/items/abc', 'op': 'add', 'value': 1}]'. "
                   + "Reason: 'abc' is not a valid sequence index")
    }

    func testWalkingThroughLists() {
        XCTAssertEqual(apply([op(.replace, "/nodes/0/k", "w")])["nodes"], [["k": "w"]])
        applyError([op(.add, "/nodes/4/k", "w")],
                   "Couldn't apply patch '[{'path': '/nodes/4/k', 'op': 'add', 'value': 'w'}]'. "
                   + "Reason: index '4' is out of bounds")
    }

    // MARK: parse + apply

    func testParseThenApplyClientStylePatch() throws {
        let body = try JSON.parse(string: """
            [{"op": "replace", "path": "/node_count", "value": 3},
             {"op": "add", "path": "/labels/kube_tag", "value": "v1.30"},
             {"op": "remove", "path": "/labels/a"}]
            """)
        let result = try JSONPatch.apply(try JSONPatch.parse(body), to: document, rules: rules)
        XCTAssertEqual(result["node_count"], 3)
        XCTAssertEqual(result["labels"], ["b": "2", "kube_tag": "v1.30"])
        XCTAssertEqual(result["uuid"], document["uuid"])
    }

    func testPythonReprOfPatch() {
        XCTAssertEqual(
            JSONPatch.pythonRepr([op(.add, "/a", true), op(.replace, "/b", 5), op(.remove, "/c"),
                                  op(.replace, "/d", "it's")]),
            "[{'path': '/a', 'op': 'add', 'value': True}, {'path': '/b', 'op': 'replace', 'value': 5}, "
                + #"{'path': '/c', 'op': 'remove'}, {'path': '/d', 'op': 'replace', 'value': "it's"}]"#)
        XCTAssertEqual(JSONPatch.pythonRepr([]), "[]")
    }
}
