import Foundation
import MagnumCore
import MagnumDrivers

extension HeatDriver {
    /// Reads the cluster's stacks: status (the cluster stack's; `UPDATE_IN_PROGRESS` while a
    /// nodegroup stack works, `UPDATE_FAILED` when one failed), addresses from outputs, and per
    /// nodegroup its stack's status. A failed stack's reason names the failing nested resource.
    /// A settled, complete cluster's health is asked of its own API (`ClusterAPI`).
    public func observe(_ spec: ClusterSpec, context: DriverContext) async throws -> ClusterObservation {
        let record = try await record(spec, context)
        let current = spec.cluster.status ?? .createInProgress
        guard let trust = try await trustToken(spec, record) else {
            // Nothing was made yet (or everything is gone): a delete is complete, the rest unchanged.
            return ClusterObservation(status: current == .deleteInProgress ? .deleteComplete : current, statusReason: spec.cluster.statusReason)
        }
        guard let ref = record.stack else {
            return ClusterObservation(status: current == .deleteInProgress ? .deleteComplete : current, statusReason: spec.cluster.statusReason)
        }
        let heat = try heat(trust)
        guard let stack = try await heat.stack(name: ref.name, id: ref.id), stack.status != "DELETE_COMPLETE" else {
            if current == .deleteInProgress { return ClusterObservation(status: .deleteComplete, stackID: ref.id) }
            return ClusterObservation(status: Self.failed(current), statusReason: "The cluster's Heat stack \(ref.name) no longer exists.", stackID: ref.id)
        }
        var observation = ClusterObservation(status: ClusterStatus(rawValue: stack.status) ?? current, statusReason: stack.statusReason, stackID: stack.id)
        let causes = stack.isFailed ? try await failureCauses(heat, stack) : []
        if let first = causes.first { observation.statusReason = first }
        observation.apiAddress = stack.outputs["api_address"]?.stringValue
        if spec.template.coe == "kubernetes" { observation.coeVersion = (spec.cluster.labels["kube_tag"] ?? spec.template.labels["kube_tag"] ?? "v1.30.4") }

        var nodegroups: [String: NodeGroupObservation] = [:]
        var busy = false, broken: String?
        for ng in spec.nodegroups {
            if ng.isDefault {
                let key = ng.isMaster ? "master_addresses" : "node_addresses"
                let own = causes.first { Self.blames($0, master: ng.isMaster) }
                nodegroups[ng.uuid] = NodeGroupObservation(
                    status: ClusterStatus(rawValue: stack.status) ?? current,
                    statusReason: stack.isFailed ? (own ?? stack.statusReason) : nil,
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
                reason = try await failureCauses(heat, ngStack).first ?? ngStack.statusReason
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
        if observation.status == .createComplete || observation.status == .updateComplete,
           let api = observation.apiAddress, !api.isEmpty, let verdict = await health(spec, apiAddress: api) {
            observation.health = verdict.status
            observation.healthReason = verdict.reasons
        }
        return observation
    }

    /// Why a stack failed: each failed resource that is not itself a nested stack (the causes;
    /// their parents only repeat them) as `<resource> (<type>) in <stack>: <reason>`; empty when
    /// Heat lists none.
    func failureCauses(_ heat: HeatClient, _ stack: HeatStack) async throws -> [String] {
        let resources = (try? await heat.resources(name: stack.name, id: stack.id, nestedDepth: 5)) ?? []
        return resources.filter { $0.status.hasSuffix("_FAILED") && !$0.isNested }.map { cause in
            "\(cause.name) (\(cause.type)) in \(cause.stackName ?? stack.name): \(cause.statusReason ?? cause.status)"
        }
    }

    /// Whether a failure cause concerns the masters — it lies in the nested stack of the
    /// cluster template's `masters` group (`…-masters-…`) — or, for `master: false`, not.
    static func blames(_ cause: String?, master: Bool) -> Bool {
        guard let cause else { return false }
        return cause.contains("-masters-") == master
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
