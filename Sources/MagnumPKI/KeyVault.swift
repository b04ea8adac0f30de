import Crypto
import Foundation
import MagnumCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// AES-GCM envelope for private keys at rest under a key-encryption key (KEK).
///
/// Sealed layout: `version (1 byte, 0x01) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`. The associated
/// data is the version byte followed by the UTF-8 `context`, so a sealed key moved to another
/// row or cluster (or re-labelled with another version) no longer opens. Errors never carry key
/// material, plaintext or ciphertext; `description` and reflection never show the KEK.
public struct KeyVault: Sendable {
    /// The only sealed-format version so far.
    static let version: UInt8 = 1
    /// Bytes of nonce and tag around the ciphertext.
    static let nonceSize = 12
    static let tagSize = 16

    private let key: SymmetricKey

    /// Uses a 256-bit key. A key of another size is a programming error and traps.
    public init(key: SymmetricKey) {
        precondition(key.bitCount == 256, "KeyVault needs a 256-bit key")
        self.key = key
    }

    /// Uses a base64-encoded 32-byte key (the KEK from configuration).
    /// Throws `MagnumError(.invalid, …)`, without echoing the value, when it is not one.
    public init(base64Key: String) throws {
        let trimmed = base64Key.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let bytes = Data(base64Encoded: trimmed), bytes.count == 32 else {
            throw MagnumError(.invalid, "The key-encryption key must be 32 bytes encoded in base64.")
        }
        self.init(key: SymmetricKey(data: bytes))
    }

    /// Loads the KEK from `path`, or creates it when missing: 32 random bytes, base64 with a final
    /// newline, file mode 0600 (written whole to a temporary file and linked into place, so
    /// processes racing to create it agree on one key), missing directories created with mode 0700.
    ///
    /// Refuses (`MagnumError(.internal, …)`) an existing key file that is not a regular file or that
    /// its group or others may read, write or execute — as ssh refuses such a private key — and
    /// never changes the permissions of an existing file.
    public static func loadOrCreate(keyFile path: String) throws -> KeyVault {
        if let vault = try load(path) { return vault }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700]
                )
            } catch {
                throw MagnumError(.internal, "Could not create the directory of the key-encryption key file \(path).")
            }
        }
        let key = SymmetricKey(size: .bits256)
        let encoded = Array((key.withUnsafeBytes { Data($0) }.base64EncodedString() + "\n").utf8)
        // Write a complete private temporary file, then link(2) it into place: link never replaces
        // an existing file, so concurrent creators agree on the first key, and nobody ever reads a
        // half-written one.
        let temporary = "\(path).\(UUID().uuidString).tmp"
        let descriptor = openExclusively(temporary)
        guard descriptor >= 0 else {
            throw MagnumError(.internal, "Could not create the key-encryption key file \(path) (errno \(errno)).")
        }
        defer { unlink(temporary) }
        let written = encoded.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == encoded.count, synced else {
            throw MagnumError(.internal, "Could not write the key-encryption key file \(path).")
        }
        if link(temporary, path) == 0 { return KeyVault(key: key) }
        let linkError = errno
        if linkError == EEXIST, let vault = try load(path) { return vault }  // another process won the race
        throw MagnumError(.internal, "Could not create the key-encryption key file \(path) (errno \(linkError)).")
    }

    /// The vault in `path`, nil when the file does not exist.
    private static func load(_ path: String) throws -> KeyVault? {
        var status = stat()
        guard lstat(path, &status) == 0 else {
            if errno == ENOENT { return nil }
            throw MagnumError(.internal, "Could not inspect the key-encryption key file \(path) (errno \(errno)).")
        }
        guard status.st_mode & 0o170000 == 0o100000 else {
            throw MagnumError(.internal, "The key-encryption key file \(path) is not a regular file.")
        }
        let mode = status.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw MagnumError(
                .internal,
                "The key-encryption key file \(path) is accessible by group or others (mode \(String(mode, radix: 8))); run chmod 600 on it."
            )
        }
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw MagnumError(.internal, "Could not read the key-encryption key file \(path).")
        }
        do {
            return try KeyVault(base64Key: String(decoding: contents, as: UTF8.self))
        } catch {
            throw MagnumError(.internal, "The key-encryption key file \(path) does not hold 32 bytes encoded in base64.")
        }
    }

    /// Encrypts `plaintext` bound to `context` (e.g. "cluster:<uuid>:ca") as associated data; output is
    /// self-describing (version byte + nonce + ciphertext + tag).
    public func seal(_ plaintext: String, context: String) throws -> [UInt8] {
        do {
            let box = try AES.GCM.seal(
                Array(plaintext.utf8), using: key, nonce: AES.GCM.Nonce(),
                authenticating: Self.associatedData(context)
            )
            return [Self.version] + Array(box.nonce) + Array(box.ciphertext) + Array(box.tag)
        } catch {
            throw MagnumError(.internal, "Could not encrypt the private key for \(context).")
        }
    }

    /// Decrypts; wrong key, wrong context, an unknown version or any altered byte throws
    /// `MagnumError(.internal, …)` naming only the context.
    public func open(_ sealed: [UInt8], context: String) throws -> String {
        let failure = MagnumError(.internal, "Could not decrypt the stored private key for \(context).")
        guard sealed.count >= 1 + Self.nonceSize + Self.tagSize, sealed[0] == Self.version else { throw failure }
        do {
            let nonce = try AES.GCM.Nonce(data: sealed[1..<(1 + Self.nonceSize)])
            let box = try AES.GCM.SealedBox(
                nonce: nonce,
                ciphertext: sealed[(1 + Self.nonceSize)..<(sealed.count - Self.tagSize)],
                tag: sealed[(sealed.count - Self.tagSize)...]
            )
            let plaintext = try AES.GCM.open(box, using: key, authenticating: Self.associatedData(context))
            guard let text = String(bytes: plaintext, encoding: .utf8) else { throw failure }
            return text
        } catch {
            throw failure
        }
    }

    private static func associatedData(_ context: String) -> [UInt8] {
        [version] + Array(context.utf8)
    }
}

extension KeyVault: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// "KeyVault(key: <redacted>)".
    public var description: String { "KeyVault(key: <redacted>)" }
    /// Same as ``description``.
    public var debugDescription: String { description }
    /// A mirror without the key.
    public var customMirror: Mirror { Mirror(self, children: ["key": "<redacted>"]) }
}

/// `open(2)` with `O_CREAT | O_EXCL` and mode 0600 (the umask can only narrow it).
/// A free function because `KeyVault.open(_:context:)` hides the C function inside the type.
private func openExclusively(_ path: String) -> Int32 {
    open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
}
