import Foundation
import MagnumCore

/// `busybox:local`, the image every node has: no registry is reachable from a node, so the
/// driver builds a root filesystem from the host's static busybox, imports it on a cluster's
/// first node, saves it once and loads that archive into every other node (the same image ID
/// everywhere, pitfall 10).
struct TestImage: Sendable {
    /// The reference services use (`docker service create --no-resolve-image busybox:local …`).
    static let reference = "busybox:local"

    let directory: String
    let busybox: String
    let host: HostSystem

    var rootfsPath: String { "\(directory)/busybox-rootfs.tar" }
    var archivePath: String { "\(directory)/busybox-local.tar" }

    /// Makes sure the node at `address` has the image and returns the saved archive that the
    /// other nodes load.
    func ensure(on address: String, engine: DockerEngine) async throws -> [UInt8] {
        if let archive = FileManager.default.contents(atPath: archivePath) {
            if try await !engine.hasImage(address, Self.reference) {
                try await engine.loadImage(address, archive: Array(archive))
            }
            return Array(archive)
        }
        if try await !engine.hasImage(address, Self.reference) {
            try await engine.importImage(address, rootfs: try await rootfs(), repository: "busybox", tag: "local")
        }
        let archive = try await engine.saveImage(address, Self.reference)
        try write(archive, to: archivePath)
        return archive
    }

    /// The root filesystem tarball: busybox with its applets linked into /bin, a passwd and a
    /// group file; built once.
    func rootfs() async throws -> [UInt8] {
        if let data = FileManager.default.contents(atPath: rootfsPath) { return Array(data) }
        let files = FileManager.default
        let tree = "\(directory)/rootfs-\(getpid())"
        try? files.removeItem(atPath: tree)
        for dir in ["bin", "etc", "tmp", "proc", "sys", "dev", "root"] {
            try files.createDirectory(atPath: "\(tree)/\(dir)", withIntermediateDirectories: true)
        }
        defer { try? files.removeItem(atPath: tree) }
        try files.copyItem(atPath: busybox, toPath: "\(tree)/bin/busybox")
        try await host.run("chroot", [tree, "/bin/busybox", "--install", "-s", "/bin"])
        try Data("root:x:0:0:root:/root:/bin/sh\n".utf8).write(to: URL(fileURLWithPath: "\(tree)/etc/passwd"))
        try Data("root:x:0:\n".utf8).write(to: URL(fileURLWithPath: "\(tree)/etc/group"))
        try files.setAttributes([.posixPermissions: 0o1777], ofItemAtPath: "\(tree)/tmp")
        let partial = "\(rootfsPath).\(getpid())"
        try await host.run("tar", ["-C", tree, "-cf", partial, "."])
        guard rename(partial, rootfsPath) == 0 else { throw MagnumError(.internal, "Could not write \(rootfsPath).") }
        guard let data = files.contents(atPath: rootfsPath) else { throw MagnumError(.internal, "Could not read \(rootfsPath).") }
        return Array(data)
    }

    /// Writes `bytes` to `path` atomically.
    func write(_ bytes: [UInt8], to path: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
