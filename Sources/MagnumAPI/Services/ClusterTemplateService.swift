import MagnumCore
import MagnumStore

/// Cluster template use cases (contract §4.1).
struct ClusterTemplateService {
    let env: APIEnvironment

    func list(_ ctx: RequestContext, detail: Bool, sort: SortOrder) async throws -> [ClusterTemplate] {
        try env.policy.enforce(detail ? "clustertemplate:detail" : "clustertemplate:get_all", ctx)
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: detail ? "clustertemplate:detail_all_projects" : "clustertemplate:get_all_all_projects")
        return try await env.store.read { try await $0.clusterTemplates(vis, sort: sort) }
    }

    func get(_ ident: String, _ ctx: RequestContext) async throws -> ClusterTemplate {
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: "clustertemplate:get_one_all_projects")
        let t = try await env.store.read { try await Lookup.template($0, ident, vis) }
        if !t.isPublic {
            try env.policy.enforce("clustertemplate:get", ctx, target: PolicyTarget(projectID: t.projectID, userID: t.userID))
        }
        return t
    }

    func create(_ body: JSON?, _ ctx: RequestContext) async throws -> ClusterTemplate {
        let fields = try ClusterTemplateRules.schema.decode(body)
        var t = ClusterTemplateRules.template(from: fields, uuid: fields["uuid"]?.stringValue ?? UUIDs.make())
        try ClusterTemplateRules.validate(&t, config: env.config, defaultNetworkDriver: true)
        try await resolveDriver(&t, ctx)
        try env.policy.enforce("clustertemplate:create", ctx)
        if let image = try await validateCatalog(t, changed: nil, ctx) { t.clusterDistro = image.osDistro }
        t.projectID = ctx.projectID
        t.userID = ctx.userID
        if t.isPublic || t.hidden { try checkPublish(ctx) }
        try await checkRootVolume(t, flavors: [t.flavorID, t.masterFlavorID], ctx)
        if t.name == nil { t.name = GeneratedNames.make("template") }
        let new = t
        return try await env.store.write { try await $0.insert(new) }
    }

    func update(_ ident: String, _ patchBody: JSON?, _ ctx: RequestContext) async throws -> ClusterTemplate {
        guard let patchBody else { throw MagnumError(.invalid, "Missing argument: \"patch\"") }
        let ops = try JSONPatch.parse(patchBody)
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: "clustertemplate:update_all_projects")
        // The catalog is consulted outside any transaction (it reads the store itself, and the
        // SQLite store has a single, non-reentrant connection).
        let old = try await env.store.read { try await Lookup.template($0, ident, vis) }
        try env.policy.enforce("clustertemplate:update", ctx, target: PolicyTarget(projectID: old.projectID, userID: old.userID))
        let oldDoc = ClusterTemplateRules.document(old)
        var newDoc = try JSONPatch.apply(ops, to: oldDoc, rules: ClusterTemplateRules.patchRules)
        newDoc = try PatchedDocument.revalidate(newDoc, old: oldDoc, schema: ClusterTemplateRules.schema)
        var t = old
        ClusterTemplateRules.apply(newDoc, to: &t)
        try ClusterTemplateRules.validate(&t, config: env.config, defaultNetworkDriver: false)
        let changed = Set(newDoc.keys.filter { oldDoc[$0] != newDoc[$0] })
        try await validateCatalog(t, changed: changed, ctx)
        if old.isPublic != t.isPublic || old.hidden != t.hidden { try checkPublish(ctx) }
        if changed.contains("flavor_id") || changed.contains("master_flavor_id") {
            try await checkRootVolume(t, flavors: [changed.contains("flavor_id") ? t.flavorID : nil,
                                                   changed.contains("master_flavor_id") ? t.masterFlavorID : nil], ctx)
        }
        if t == old { return old }
        // Save only the attributes the patch changed, onto the row as it is now, with the
        // in-use rule checked in the same transaction (as upstream's DB update does).
        let newValues = ClusterTemplateRules.document(t)
        let changedValues = newValues.filter { oldDoc[$0.key] != $0.value }
        let (before, after) = (old, t)
        return try await env.store.write { session in
            guard var current = try await session.clusterTemplates(matching: .uuid(before.uuid), .everything).first else {
                throw MagnumError.notFound("ClusterTemplate", ident)
            }
            if try await session.clusterCount(templateUUID: before.uuid) > 0,
               !ClusterTemplateRules.changeAllowedWhileInUse(old: before, new: after)
            {
                throw MagnumError(.invalid, "ClusterTemplate \(before.uuid) is referenced by one or multiple clusters.")
            }
            ClusterTemplateRules.apply(changedValues, to: &current)
            return try await session.update(current)
        }
    }

    func delete(_ ident: String, _ ctx: RequestContext) async throws {
        let vis = try Lookup.visibility(env, ctx, allProjectsRule: "clustertemplate:delete_all_projects")
        try await env.store.write { session in
            let t = try await Lookup.template(session, ident, vis)
            try env.policy.enforce("clustertemplate:delete", ctx, target: PolicyTarget(projectID: t.projectID, userID: t.userID))
            if try await session.clusterCount(templateUUID: t.uuid) > 0 {
                throw MagnumError(.invalid, "ClusterTemplate \(t.uuid) is referenced by one or multiple clusters.")
            }
            try await session.deleteClusterTemplate(uuid: t.uuid)
        }
    }

    // MARK: Rules needing the catalog or the driver registry

    /// Driver resolution (contract §4.1.3): an explicit `driver` must be installed; otherwise the
    /// image's `magnum_driver`, the configured default, or the driver providing the template's
    /// (server type, distro, COE).
    func resolveDriver(_ t: inout ClusterTemplate, _ ctx: RequestContext) async throws {
        var imageDriver: String? = nil
        if t.clusterDistro == nil || t.driver == nil, let image = t.imageID {
            do {
                let img = try await env.catalog.image(image, ctx)
                if t.clusterDistro == nil { t.clusterDistro = img.osDistro }
                imageDriver = img.magnumDriver
            } catch let e as MagnumError where e.code == .invalid || e.code == .forbidden || e.code == .conflict {
                // An ambiguous image name is reported as such, not as an unsupported "None" distro.
                throw e
            } catch {}
        }
        let name = t.driver ?? imageDriver ?? env.config.defaultDriver
        if let name {
            guard env.drivers.named(name, disabled: env.config.disabledDrivers) != nil else {
                throw MagnumError(.invalid, "Cluster driver (\(name)) not supported.")
            }
            t.driver = name
            return
        }
        guard let d = env.drivers.providing(serverType: t.serverType, os: t.clusterDistro, coe: t.coe, disabled: env.config.disabledDrivers) else {
            throw MagnumError(.invalid, "Cluster type (\(t.serverType), \(t.clusterDistro ?? "None"), \(t.coe)) not supported.")
        }
        t.driver = d.name
    }

    /// Image, flavors and networks must exist (only the changed ones on update); returns the
    /// image when it was checked, so create takes `cluster_distro` from it without a second lookup.
    @discardableResult
    func validateCatalog(_ t: ClusterTemplate, changed: Set<String>?, _ ctx: RequestContext) async throws -> Image? {
        func wants(_ k: String) -> Bool { changed?.contains(k) ?? true }
        var image: Image? = nil
        if wants("image_id"), let v = t.imageID {
            let img = try await env.catalog.image(v, ctx)
            if img.osDistro == nil { throw MagnumError(.invalid, "Image \(v) doesn't contain os_distro field.") }
            image = img
        }
        if wants("flavor_id"), let v = t.flavorID { _ = try await env.catalog.flavor(v, ctx) }
        if wants("master_flavor_id"), let v = t.masterFlavorID { _ = try await env.catalog.flavor(v, ctx) }
        if wants("external_network_id"), let v = t.externalNetworkID { _ = try await env.catalog.externalNetwork(v, ctx) }
        if wants("fixed_network"), let v = t.fixedNetwork { _ = try await env.catalog.fixedNetwork(v, ctx) }
        if wants("fixed_subnet"), let v = t.fixedSubnet { _ = try await env.catalog.fixedSubnet(v, ctx) }
        return image
    }

    func checkPublish(_ ctx: RequestContext) throws {
        if !env.policy.allows("clustertemplate:publish", ctx, target: PolicyTarget(caller: ctx)) {
            throw MagnumError(.forbidden, "Not authorized to set public or hidden flag for cluster template.")
        }
    }

    /// With no boot volume, every given flavor needs a root disk. Null flavors are skipped
    /// (the contract's recommendation over upstream's quirk).
    func checkRootVolume(_ t: ClusterTemplate, flavors: [String?], _ ctx: RequestContext) async throws {
        try await RootVolume.check(labels: t.labels, flavors: flavors, env: env, ctx)
    }
}

/// The root-volume rule shared by templates, clusters and nodegroups.
enum RootVolume {
    static func check(labels: [String: String], flavors: [String?], env: APIEnvironment, _ ctx: RequestContext) async throws {
        guard ClusterTemplateRules.bootVolumeSize(labels: labels, config: env.config) == 0 else { return }
        for case let f? in flavors {
            let flavor = try await env.catalog.flavor(f, ctx)
            if flavor.diskGB <= 0 {
                throw MagnumError(.invalid, "Flavor with zero root volume size is not supported when boot_volume_size is zero.")
            }
        }
    }
}
