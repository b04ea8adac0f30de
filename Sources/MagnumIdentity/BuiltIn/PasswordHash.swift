import Crypto
import Foundation
import _CryptoExtras

/// Salted, slow password hashes: PBKDF2-HMAC-SHA256 with a random 16-byte salt, stored as
/// `pbkdf2-sha256$<rounds>$<salt base64>$<hash base64>` so the parameters travel with the hash
/// and can be raised later without invalidating stored passwords.
public enum PasswordHash {
    /// The algorithm tag of the stored form.
    public static let algorithm = "pbkdf2-sha256"
    /// Rounds used for new hashes unless configured otherwise (OWASP's floor for PBKDF2-SHA256
    /// is 600 000; a password check costs a few hundred milliseconds on one core).
    public static let defaultRounds = 600_000

    /// Hashes `password` with a fresh salt.
    public static func make(_ password: String, rounds: Int = defaultRounds) throws -> String {
        var salt = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for i in salt.indices { salt[i] = generator.next() }
        let hash = try derive(password, salt: salt, rounds: rounds)
        return "\(algorithm)$\(rounds)$\(Data(salt).base64EncodedString())$\(Data(hash).base64EncodedString())"
    }

    /// True when `password` matches the stored form (constant-time comparison); false for
    /// anything unreadable.
    public static func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == algorithm, let rounds = Int(parts[1]), rounds > 0, rounds <= 10_000_000,
              let salt = Data(base64Encoded: String(parts[2])), let expected = Data(base64Encoded: String(parts[3])),
              expected.count == 32,
              let actual = try? derive(password, salt: [UInt8](salt), rounds: rounds)
        else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(actual, expected) { difference |= a ^ b }
        return difference == 0
    }

    static func derive(_ password: String, salt: [UInt8], rounds: Int) throws -> [UInt8] {
        let key = try KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32, unsafeUncheckedRounds: rounds)
        return key.withUnsafeBytes { [UInt8]($0) }
    }
}
