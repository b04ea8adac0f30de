import Foundation
import MagnumCore
import MagnumDrivers

extension HeatDriver {
    /// Deletes the cluster: the load balancers Kubernetes' cloud provider made for it (when the
    /// cloud has Octavia), its nodegroups' stacks, then the cluster stack (found by name too,
    /// should a crash have lost its ID), waiting until Octavia and Heat removed them; then the
    /// trust and the trustee. A stack Heat fails to delete fails the operation with Heat's
    /// reason (a new delete request tries again).
    public func deleteCluster(_ spec: ClusterSpec, context: DriverContext) async throws {
        let record = try await record(spec, context)
        // A create that failed before Heat was reached (e.g. a cloud without Heat) left no stack:
        // with no stack recorded and no orchestration endpoint there is nothing to look for.
        let reachable = { (t: ScopedToken) in
            t.endpoint(type: "orchestration", interface: configuration.interface, region: configuration.region) != nil
        }
        if let trust = try await trustToken(spec, record), record.stack != nil || !record.nodegroupStacks.isEmpty || reachable(trust) {
            if let octavia = trust.endpoint(type: "load-balancer", interface: configuration.interface, region: configuration.region) {
                let network = trust.endpoint(type: "network", interface: configuration.interface, region: configuration.region)
                try await ServiceLoadBalancers(octavia: octavia, neutron: network, token: trust.token, clusterUUID: spec.cluster.uuid)
                    .remove(pollInterval: configuration.pollInterval, logger: context.logger)
            }
            let heat = try heat(trust)
            for (uuid, ref) in record.nodegroupStacks.sorted(by: { $0.key < $1.key }) {
                try await deleteStack(heat, ref, context)
                try await remember(HeatClusterRecord.nodegroupKey(uuid), nil, spec, context)
            }
            var ref = record.stack
            if ref == nil, let found = try await heat.findStack(named: Self.stackName(spec.cluster)) {
                ref = .init(name: found.name, id: found.id)
            }
            if let ref {
                try await deleteStack(heat, ref, context)
                try await remember(HeatClusterRecord.stackKey, nil, spec, context)
            }
        }
        if let trust = record.trustID {
            try await identity.deleteTrust(trust)
            try await remember(HeatClusterRecord.trustKey, nil, spec, context)
        }
        if let user = record.trusteeUserID {
            try await identity.deleteUser(user)
            try await remember(HeatClusterRecord.trusteeKey, nil, spec, context)
        }
        try await remember(HeatClusterRecord.trusteePasswordKey, nil, spec, context)
        context.logger.info("cluster stacks, trust and trustee deleted")
    }

    /// Deletes a worker nodegroup's stack and waits until it is gone.
    public func deleteNodegroup(_ spec: ClusterSpec, nodegroup: NodeGroup, context: DriverContext) async throws {
        let record = try await record(spec, context)
        guard let trust = try await trustToken(spec, record) else { return }
        let heat = try heat(trust)
        var ref = record.nodegroupStack(nodegroup.uuid)
        if ref == nil, let found = try await heat.findStack(named: Self.nodegroupStackName(spec.cluster, nodegroup)) {
            ref = .init(name: found.name, id: found.id)
        }
        guard let ref else { return }
        try await deleteStack(heat, ref, context)
        try await remember(HeatClusterRecord.nodegroupKey(nodegroup.uuid), nil, spec, context)
    }

    /// Asks Heat to delete a stack and waits until it is gone; DELETE_FAILED throws Heat's reason.
    func deleteStack(_ heat: HeatClient, _ ref: HeatClusterRecord.StackRef, _ context: DriverContext) async throws {
        var asked = false
        var polls = 0
        while true {
            guard let stack = try await heat.stack(name: ref.name, id: ref.id), stack.status != "DELETE_COMPLETE" else { return }
            if stack.status == "DELETE_FAILED", asked {
                throw MagnumError(.internal, "Heat could not delete stack \(ref.name): \(stack.statusReason ?? "DELETE_FAILED")")
            }
            // Asked once; asked again only if Heat still shows a settled, undeleted stack after a while.
            if !asked || (polls >= 30 && !stack.isInProgress) {
                try await heat.deleteStack(name: ref.name, id: ref.id)
                context.logger.info("stack delete requested", metadata: ["stack_id": .string(ref.id)])
                asked = true
                polls = 0
            }
            polls += 1
            try await Task.sleep(for: configuration.pollInterval)
        }
    }
}
