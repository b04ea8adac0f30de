import Foundation
import MagnumCore
import NIOHTTP1

/// A Heat stack as the orchestration API shows it.
struct HeatStack: Sendable {
    /// The stack's ID.
    var id: String
    /// The stack's name.
    var name: String
    /// `CREATE_IN_PROGRESS`, `UPDATE_COMPLETE`, `DELETE_FAILED`, …
    var status: String
    /// Heat's reason for the status.
    var statusReason: String?
    /// Outputs by key (values as Heat resolved them).
    var outputs: [String: JSON]
    /// When the stack was last updated (`updated_time`), if ever.
    var updatedTime: String?

    /// True while Heat works on the stack.
    var isInProgress: Bool { status.hasSuffix("_IN_PROGRESS") }
    /// True when the last action failed.
    var isFailed: Bool { status.hasSuffix("_FAILED") }
}

/// A resource of a stack (or of one of its nested stacks).
struct HeatResource: Sendable {
    /// The resource's name in its template (`server`, `0`, `kube_masters`).
    var name: String
    /// Its type.
    var type: String
    /// Its status.
    var status: String
    /// Heat's reason for the status.
    var statusReason: String?
    /// The name of the (nested) stack it belongs to.
    var stackName: String?
    /// True when the resource is itself a stack (a group, a provider template).
    var isNested: Bool = false
}

/// What a stack is made of: its template, the files it references and its environments.
struct StackDocument: Sendable {
    /// The top-level template (YAML text).
    var template: String
    /// Every other file by the name the templates and environments use.
    var files: [String: String]
    /// Names (keys of `files`) of the environment files, applied in order.
    var environmentFiles: [String]
}

/// The Heat orchestration API (v1) of one project, with one token.
struct HeatClient: Sendable {
    /// The project's orchestration endpoint, e.g. `http://127.0.0.1:8004/v1/<project>`.
    var endpoint: String
    /// The token used for every call.
    var token: String
    let http = CloudHTTP(service: "Heat")

    /// Creates a stack; returns its ID. Heat's 400 (validation) fails the step for good.
    func createStack(name: String, document: StackDocument, parameters: [String: JSON], timeoutMinutes: Int?) async throws -> String {
        var body: [String: JSON] = [
            "stack_name": .string(name), "template": .string(document.template),
            "files": .object(document.files.mapValues(JSON.string)),
            "environment_files": .array(document.environmentFiles.map(JSON.string)),
            "parameters": .object(parameters), "disable_rollback": true,
        ]
        if let timeoutMinutes, timeoutMinutes > 0 { body["timeout_mins"] = .int(timeoutMinutes) }
        let answer = try await http.send(.POST, endpoint + "/stacks", token: token, body: .object(body))
        guard answer.status == 201, let id = answer.json?["stack"]?["id"]?.stringValue else {
            if answer.status == 409 { throw MagnumError(.conflict, "Heat already has a stack named \(name): \(answer.errorMessage)") }
            throw http.failure(answer, .POST, endpoint + "/stacks")
        }
        return id
    }

    /// The stack `name`/`id` (by ID alone when `name` is nil, following Heat's redirect); nil when
    /// Heat does not know it.
    func stack(name: String?, id: String) async throws -> HeatStack? {
        let url = endpoint + "/stacks/" + (name.map { CloudHTTP.escape($0) + "/" } ?? "") + id
        let answer = try await http.send(.GET, url, token: token)
        if answer.status == 404 { return nil }
        guard answer.status == 200, let s = answer.json?["stack"] else { throw http.failure(answer, .GET, url) }
        return Self.stack(s)
    }

    /// The live stack named `name`, if any (deleted stacks are not listed).
    func findStack(named name: String) async throws -> HeatStack? {
        let url = endpoint + "/stacks?name=\(CloudHTTP.escape(name))"
        let list = try await http.json(.GET, url, token: token, expect: [200])
        return list["stacks"]?.arrayValue?.map(Self.stack).first { $0.name == name && $0.status != "DELETE_COMPLETE" }
    }

    /// Updates a stack keeping its template, files and other parameters (PATCH); Heat answers
    /// 202 with an HTML body.
    func patchStack(name: String, id: String, parameters: [String: JSON], clearParameters: [String] = [], timeoutMinutes: Int? = nil) async throws {
        var body: [String: JSON] = ["parameters": .object(parameters), "existing": true, "disable_rollback": true]
        if !clearParameters.isEmpty { body["clear_parameters"] = .array(clearParameters.map(JSON.string)) }
        if let timeoutMinutes, timeoutMinutes > 0 { body["timeout_mins"] = .int(timeoutMinutes) }
        let url = endpoint + "/stacks/\(CloudHTTP.escape(name))/\(id)"
        let answer = try await http.send(.PATCH, url, token: token, body: .object(body))
        guard answer.status == 202 else { throw http.failure(answer, .PATCH, url) }
    }

    /// Deletes a stack; one Heat no longer knows is fine.
    func deleteStack(name: String, id: String) async throws {
        let url = endpoint + "/stacks/\(CloudHTTP.escape(name))/\(id)"
        let answer = try await http.send(.DELETE, url, token: token)
        guard [204, 404].contains(answer.status) else { throw http.failure(answer, .DELETE, url) }
    }

    /// The stack's resources down to `nestedDepth` levels of nested stacks.
    func resources(name: String, id: String, nestedDepth: Int) async throws -> [HeatResource] {
        let url = endpoint + "/stacks/\(CloudHTTP.escape(name))/\(id)/resources?nested_depth=\(nestedDepth)"
        let list = try await http.json(.GET, url, token: token, expect: [200])
        return (list["resources"]?.arrayValue ?? []).map(Self.resource)
    }

    /// A resource from its JSON; the stack it belongs to is named by its `stack` link
    /// (`…/stacks/<name>/<id>`), a `nested` link marks a resource that is a stack.
    static func resource(_ r: JSON) -> HeatResource {
        let links = r["links"]?.arrayValue ?? []
        let stackHref = links.first { $0["rel"]?.stringValue == "stack" }?["href"]?.stringValue
        let stackName = stackHref.flatMap { href -> String? in
            guard let range = href.range(of: "/stacks/") else { return nil }
            return href[range.upperBound...].split(separator: "/").first.map { String($0).removingPercentEncoding ?? String($0) }
        }
        return HeatResource(name: r["resource_name"]?.stringValue ?? "", type: r["resource_type"]?.stringValue ?? "",
                            status: r["resource_status"]?.stringValue ?? "", statusReason: r["resource_status_reason"]?.stringValue,
                            stackName: stackName, isNested: links.contains { $0["rel"]?.stringValue == "nested" })
    }

    /// A stack from its JSON.
    static func stack(_ s: JSON) -> HeatStack {
        var outputs: [String: JSON] = [:]
        for o in s["outputs"]?.arrayValue ?? [] {
            if let key = o["output_key"]?.stringValue { outputs[key] = o["output_value"] ?? .null }
        }
        return HeatStack(id: s["id"]?.stringValue ?? "", name: s["stack_name"]?.stringValue ?? "",
                         status: s["stack_status"]?.stringValue ?? "", statusReason: s["stack_status_reason"]?.stringValue,
                         outputs: outputs, updatedTime: s["updated_time"]?.stringValue)
    }
}
