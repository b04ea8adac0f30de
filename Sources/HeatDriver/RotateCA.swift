import Foundation
import MagnumCore
import MagnumDrivers
import MagnumPKI

extension HeatDriver {
    /// The driver-state key recording that a stack was updated for the rotation onto a CA.
    static func caRotationKey(_ stackID: String) -> String { "heat.ca_rotation.\(stackID)" }

    /// CA rotation through a stack update (after the API replaced the cluster's CAs and Magnum's
    /// client certificate): the cluster stack and every nodegroup stack get new `ca_rotation`
    /// inputs — the rotation's id (the new Kubernetes CA's serial number), the new CA
    /// certificates and a fresh token of the cluster's trust — and the COE's rotation script.
    /// Heat updates each node's `ca_rotation_deployment`; the node's agent runs the script (its
    /// certificates signed again by the new CAs, its services restarted) and signals Heat, and
    /// the stacks reach `UPDATE_COMPLETE` (or `UPDATE_FAILED` naming the node that failed), which
    /// `observe` reports.
    ///
    /// A stack is updated once per rotation (recorded in the driver state as soon as Heat
    /// accepts the update); one Heat is still working on is a transient failure, retried.
    public func rotateCA(_ spec: ClusterSpec, context: DriverContext) async throws {
        let record = try await record(spec, context)
        guard let trust = try await trustToken(spec, record), let clusterStack = record.stack else {
            throw MagnumError(.invalid, "Cluster \(spec.cluster.uuid) has no Heat stack to rotate the CA of.")
        }
        let (rotationID, inputs) = try Self.caRotationInputs(spec, token: trust.token)
        let script = try NodeBootstrap(scripts: templates.bootstrapScripts).rotationScript(coe: try Self.coe(spec))
        let heat = try heat(trust)
        let stacks = [clusterStack] + spec.nodegroups.filter { !$0.isDefault }.compactMap { record.nodegroupStack($0.uuid) }
        for ref in stacks where record.values[Self.caRotationKey(ref.id)] != rotationID {
            guard let stack = try await heat.stack(name: ref.name, id: ref.id), stack.status != "DELETE_COMPLETE" else { continue }
            if stack.isInProgress {
                throw MagnumError(.unavailable, "Heat is still working on stack \(ref.name) (\(stack.status)); the CA rotation updates it once it is done.")
            }
            try await heat.patchStack(name: ref.name, id: ref.id, parameters: ["ca_rotation": .object(inputs), "ca_rotation_script": .string(script)])
            try await remember(Self.caRotationKey(ref.id), rotationID, spec, context)
            try await waitForStart(heat, ref, updatedBefore: stack.updatedTime)
            context.logger.info("CA rotation stack update started", metadata: ["stack_id": .string(ref.id), "rotation_id": .string(rotationID)])
        }
    }

    /// The rotation's id and the deployment inputs: `rotation_id`, `kubernetes_ca`, `etcd_ca`,
    /// `front_proxy_ca` (those the cluster has) and `bootstrap_token`.
    static func caRotationInputs(_ spec: ClusterSpec, token: String) throws -> (String, [String: JSON]) {
        guard let ca = spec.certificate(.kubernetes) else {
            throw MagnumError(.internal, "Cluster \(spec.cluster.uuid) has no CA certificate to rotate onto.")
        }
        let rotationID = try CertificateSummary(certificatePEM: ca.certificatePEM).serialNumber
        var inputs: [String: JSON] = ["rotation_id": .string(rotationID), "bootstrap_token": .string(token)]
        for (kind, name) in [(CertificateKind.kubernetes, "kubernetes_ca"), (.etcd, "etcd_ca"), (.frontProxy, "front_proxy_ca")] {
            if let pem = spec.certificate(kind)?.certificatePEM { inputs[name] = .string(pem) }
        }
        return (rotationID, inputs)
    }
}
