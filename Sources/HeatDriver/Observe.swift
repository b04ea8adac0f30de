import Foundation
import MagnumCore
import MagnumDrivers

extension HeatDriver {
    /// Reads the cluster's stacks: status (the cluster stack's; `UPDATE_IN_PROGRESS` while a
    /// nodegroup stack works, `UPDATE_FAILED` when one failed), addresses from outputs, and per
    /// nodegroup its stack's status. A failed stack's reason names the failing nested resource.
    public func observe(_ spec: ClusterSpec, context: DriverContext) async throws -> ClusterObservation {
        let record = try await record(spec, context)
        let current = spec.cluster.status ?? .createInProgress
        guard let trust = try await trustToken(spec, record) else {
            // Nothing was made yet (or everything is gone): a delete is complete, the rest unchanged.
            return ClusterObservation(status: current == .deleteInProgress ? .deleteComplete : current, statusReason: spec.cluster.statusReason)
        }
        let heat = try heat(trust)
        guard let ref = record.stack else {
            return ClusterObservation(status: current == .deleteInProgress ? .deleteComplete : current, statusReason: spec.cluster.statusReason)
        }
        guard let stack = try await heat.stack(name: ref.name, id: ref.id), stack.status != "DELETE_COMPLETE" else {
            if current == .deleteInProgress { return ClusterObservation(status: .deleteComplete, stackID: ref.id) }
            return ClusterObservation(status: Self.failed(current), statusReason: "The cluster's Heat stack \(ref.name) no longer exists.", stackID: ref.id)
        }
        var observation = ClusterObservation(status: ClusterStatus(rawValue: stack.status) ?? current, statusReason: stack.statusReason, stackID: stack.id)
        if stack.isFailed { observation.statusReason = try await failureReason(heat, stack) }
        observation.apiAddress = stack.outputs["api_address"]?.stringValue
        if spec.template.coe == "kubernetes" { observation.coeVersion = (spec.cluster.labels["kube_tag"] ?? spec.template.labels["kube_tag"] ?? "v1.30.4") }

        var nodegroups: [String: NodeGroupObservation] = [:]
        var busy = false, broken: String?
        for ng in spec.nodegroups {
            if ng.isDefault {
                let key = ng.isMaster ? "master_addresses" : "node_addresses"
                let failing = stack.isFailed && Self.blames(observation.statusReason, master: ng.isMaster)
                nodegroups[ng.uuid] = NodeGroupObservation(
                    status: ClusterStatus(rawValue: stack.status) ?? current,
                    statusReason: stack.isFailed ? (failing ? observation.statusReason : stack.statusReason) : nil,
                    nodeAddresses: Self.strings(stack.outputs[key]), stackID: stack.id, version: observation.coeVersion)
                continue
            }
            guard let ngRef = record.nodegroupStack(ng.uuid) else { continue }
            guard let ngStack = try await heat.stack(name: ngRef.name, id: ngRef.id), ngStack.status != "DELETE_COMPLETE" else {
                nodegroups[ng.uuid] = NodeGroupObservation(status: .deleteComplete, stackID: ngRef.id)
                continue
            }
            var reason = ngStack.statusReason
            if ngStack.isFailed {
                reason = try await failureReason(heat, ngStack)
                broken = broken ?? "Nodegroup \(ng.name ?? ng.uuid): \(reason ?? ngStack.status)"
            }
            busy = busy || ngStack.isInProgress
            nodegroups[ng.uuid] = NodeGroupObservation(
                status: ClusterStatus(rawValue: ngStack.status) ?? .updateFailed, statusReason: reason,
                nodeAddresses: Self.strings(ngStack.outputs["node_addresses"]), stackID: ngStack.id, version: observation.coeVersion)
        }
        observation.nodegroups = nodegroups
        if !stack.isInProgress && !stack.isFailed {
            if busy { observation.status = .updateInProgress; observation.statusReason = nil }
            else if let broken { observation.status = .updateFailed; observation.statusReason = broken }
        }
        return observation
    }

    /// A failed stack's reason with the failed resource that caused it (one that is not a
    /// nested stack): `<resource> (<type>) in <stack>: <reason>`, else Heat's own reason.
    func failureReason(_ heat: HeatClient, _ stack: HeatStack) async throws -> String? {
        let resources = (try? await heat.resources(name: stack.name, id: stack.id, nestedDepth: 5)) ?? []
        let failed = resources.filter { $0.status.hasSuffix("_FAILED") }
        // A failed resource that is not itself a stack is the cause; its parents only repeat it.
        guard let cause = failed.first(where: { !$0.isNested }) ?? failed.first else { return stack.statusReason }
        return "\(cause.name) (\(cause.type)) in \(cause.stackName ?? stack.name): \(cause.statusReason ?? cause.status)"
    }

    /// Whether a failure reason concerns the masters (`master` in the failing resource's path)
    /// or, for a worker nodegroup, not.
    static func blames(_ reason: String?, master: Bool) -> Bool {
        guard let reason else { return false }
        return reason.lowercased().contains("master") == master
    }

    /// The failed status of the action under way.
    static func failed(_ status: ClusterStatus) -> ClusterStatus {
        switch status {
        case .createInProgress, .createComplete, .createFailed: .createFailed
        case .deleteInProgress, .deleteFailed: .deleteFailed
        default: .updateFailed
        }
    }

    /// A list output's strings.
    static func strings(_ json: JSON?) -> [String] { json?.arrayValue?.compactMap(\.stringValue) ?? [] }
}
