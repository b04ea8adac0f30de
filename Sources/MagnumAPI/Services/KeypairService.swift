import Crypto
import Foundation
import MagnumCore
import MagnumStore

/// OpenSSH key material for Nova-style key pairs: Ed25519 generation in OpenSSH's own formats,
/// public-key validation and Nova's MD5 fingerprint.
public enum SSHKeys {
    /// A freshly generated key pair.
    public struct Generated: Sendable {
        /// `ssh-ed25519 AAAA… comment`.
        public var publicKey: String
        /// `-----BEGIN OPENSSH PRIVATE KEY-----` (openssh-key-v1, unencrypted).
        public var privateKey: String
        /// MD5 colon hex of the public key blob.
        public var fingerprint: String
    }

    /// Key types accepted on import.
    static let knownTypes: Set<String> = ["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"]

    /// Generates an Ed25519 key pair whose public key carries `comment`.
    public static func generateEd25519(comment: String) -> Generated {
        let key = Curve25519.Signing.PrivateKey()
        let seed = [UInt8](key.rawRepresentation)
        let pub = [UInt8](key.publicKey.rawRepresentation)
        var blob = [UInt8]()
        putString(&blob, Array("ssh-ed25519".utf8))
        putString(&blob, pub)

        var priv = [UInt8]()
        let check = UInt32.random(in: .min ... .max)
        putUInt32(&priv, check)
        putUInt32(&priv, check)
        putString(&priv, Array("ssh-ed25519".utf8))
        putString(&priv, pub)
        putString(&priv, seed + pub)
        putString(&priv, Array(comment.utf8))
        var pad: UInt8 = 1
        while priv.count % 8 != 0 {
            priv.append(pad)
            pad += 1
        }

        var file = Array("openssh-key-v1".utf8) + [0]
        putString(&file, Array("none".utf8))
        putString(&file, Array("none".utf8))
        putString(&file, [])
        putUInt32(&file, 1)
        putString(&file, blob)
        putString(&file, priv)

        let b64 = Data(file).base64EncodedString()
        var lines = [String]()
        var rest = Substring(b64)
        while !rest.isEmpty {
            lines.append(String(rest.prefix(70)))
            rest = rest.dropFirst(70)
        }
        let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + lines.joined(separator: "\n") + "\n-----END OPENSSH PRIVATE KEY-----\n"
        let publicKey = "ssh-ed25519 " + Data(blob).base64EncodedString() + (comment.isEmpty ? "" : " " + comment)
        return Generated(publicKey: publicKey, privateKey: pem, fingerprint: fingerprint(blob: blob))
    }

    /// Nova's fingerprint: MD5 of the decoded key blob as colon-separated hex.
    public static func fingerprint(blob: [UInt8]) -> String {
        Insecure.MD5.hash(data: blob).map { String(format: "%02x", $0) }.joined(separator: ":")
    }

    /// Validates an OpenSSH public key line (`type base64 [comment]`) and returns its
    /// fingerprint, or nil when it is not a well-formed `ssh-ed25519`, `ssh-rsa` or `ecdsa-…` key.
    public static func fingerprint(publicKey: String) -> String? {
        let parts = publicKey.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
        guard parts.count >= 2, knownTypes.contains(String(parts[0])),
              let data = Data(base64Encoded: String(parts[1])) else { return nil }
        let blob = [UInt8](data)
        var reader = Reader(bytes: blob)
        guard let type = reader.string(), String(decoding: type, as: UTF8.self) == parts[0] else { return nil }
        switch String(parts[0]) {
        case "ssh-ed25519":
            guard let key = reader.string(), key.count == 32 else { return nil }
        case "ssh-rsa":
            guard let e = reader.string(), !e.isEmpty, let n = reader.string(), n.count >= 64 else { return nil }
        default:
            let curve = String(parts[0].dropFirst("ecdsa-sha2-".count))
            let sizes = ["nistp256": 65, "nistp384": 97, "nistp521": 133]
            guard let name = reader.string(), String(decoding: name, as: UTF8.self) == curve,
                  let point = reader.string(), point.count == sizes[curve], point.first == 4 else { return nil }
        }
        guard reader.atEnd else { return nil }
        return fingerprint(blob: blob)
    }

    static func putUInt32(_ out: inout [UInt8], _ v: UInt32) {
        out += [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }

    static func putString(_ out: inout [UInt8], _ s: [UInt8]) {
        putUInt32(&out, UInt32(s.count))
        out += s
    }

    struct Reader {
        let bytes: [UInt8]
        var at = 0
        var atEnd: Bool { at == bytes.count }

        mutating func string() -> [UInt8]? {
            guard bytes.count - at >= 4 else { return nil }
            let n = bytes[at ..< at + 4].reduce(0) { $0 << 8 | Int($1) }
            at += 4
            guard bytes.count - at >= n else { return nil }
            defer { at += n }
            return Array(bytes[at ..< at + n])
        }
    }
}

/// Nova's key-pair use cases over the local catalog: the caller's key pairs, import and
/// generation, deletion. Errors are `NovaError`s.
struct KeypairService: Sendable {
    let store: any Store

    /// The caller's key pairs, by name.
    func list(_ ctx: RequestContext) async throws -> [Keypair] {
        let user = ctx.userID ?? ""
        return try await store.read { try await $0.keypairs(userID: user) }
    }

    /// One of the caller's key pairs; 404 when absent.
    func show(_ name: String, _ ctx: RequestContext) async throws -> Keypair {
        guard let k = try await list(ctx).first(where: { $0.name == name }) else {
            throw CatalogError.nova(404, "Keypair \(name) not found for user \(ctx.userID ?? "")")
        }
        return k
    }

    /// Imports `publicKey`, or generates a key pair when it is nil; returns the stored record
    /// and the private key of a generated pair.
    func create(name: String, publicKey: String?, _ ctx: RequestContext) async throws -> (Keypair, String?) {
        let user = ctx.userID ?? ""
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: " _-.@"))
        guard !trimmed.isEmpty, name.count <= 255, name.unicodeScalars.allSatisfy({ $0.isASCII && allowed.contains($0) }) else {
            throw CatalogError.nova(400, "Invalid input for field/attribute name. Value: \(name). Keypair name contains unsafe characters")
        }
        var record: Keypair
        var privateKey: String? = nil
        if let publicKey {
            guard let fp = SSHKeys.fingerprint(publicKey: publicKey) else {
                throw CatalogError.nova(400, "Keypair data is invalid: failed to generate fingerprint")
            }
            record = Keypair(name: name, userID: user, publicKey: publicKey.trimmingCharacters(in: .whitespacesAndNewlines), fingerprint: fp)
        } else {
            let g = SSHKeys.generateEd25519(comment: name)
            record = Keypair(name: name, userID: user, publicKey: g.publicKey, fingerprint: g.fingerprint)
            privateKey = g.privateKey
        }
        record.createdAt = Date()
        let stored = record
        do {
            try await store.write { session in
                if try await session.keypairs(userID: user).contains(where: { $0.name == name }) {
                    throw CatalogError.nova(409, "Key pair '\(name)' already exists.")
                }
                try await session.insert(stored)
            }
        } catch let e as MagnumError where e.code == .conflict {
            throw CatalogError.nova(409, "Key pair '\(name)' already exists.")
        }
        return (stored, privateKey)
    }

    /// Deletes one of the caller's key pairs; 404 when absent.
    func delete(_ name: String, _ ctx: RequestContext) async throws {
        let user = ctx.userID ?? ""
        try await store.write { session in
            guard try await session.keypairs(userID: user).contains(where: { $0.name == name }) else {
                throw CatalogError.nova(404, "Keypair \(name) not found for user \(user)")
            }
            try await session.deleteKeypair(name: name, userID: user)
        }
    }
}
