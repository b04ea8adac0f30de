import Foundation
import MagnumCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the conductor's notifications go: each is one oslo.messaging envelope (contract §8.9).
public protocol NotificationSink: Sendable {
    /// Delivers one notification; throws when it could not be delivered.
    func deliver(_ notification: JSON) async throws
}

/// A JSON-lines file of notifications: one envelope per line, appended. The file is opened
/// with `O_APPEND`, and each line is written with one `write`, so several processes may share
/// it; within a process the actor serializes writers. Lines are not fsynced.
public actor JSONLinesNotificationFile: NotificationSink {
    /// The file's path.
    public nonisolated let path: String
    private var descriptor: Int32 = -1

    /// A sink appending to `path` (created, with its directory, on the first notification).
    public init(path: String) {
        self.path = path
    }

    public func deliver(_ notification: JSON) async throws {
        let fd = try openedDescriptor()
        let bytes = Array((notification.serialized() + "\n").utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                write(fd, buffer.baseAddress! + written, buffer.count - written)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw MagnumError(.internal, "writing notification file \(path) failed (errno \(errno))")
            }
            written += n
        }
    }

    private func openedDescriptor() throws -> Int32 {
        if descriptor >= 0 { return descriptor }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            throw MagnumError(.internal, "opening notification file \(path) failed (errno \(errno))")
        }
        descriptor = fd
        return fd
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }
}
