import MagnumCore

/// The `[x509]` settings that shape every certificate Magnum issues or signs (contract §8.6).
public struct PKIConfiguration: Sendable {
    /// The algorithm and size of every private key Magnum generates (CAs and its client certificate).
    public enum KeyType: Sendable, Hashable {
        /// RSA with the given modulus size in bits (`[x509] rsa_key_size`): at least 2048, a multiple of 8.
        case rsa(bits: Int)
        /// ECDSA on NIST P-256.
        case ecdsaP256
    }

    /// The key type of generated keys. Default `.rsa(bits: 2048)`.
    public var keyType: KeyType
    /// Days from now until an issued certificate expires (`[x509] term_of_validity`). Default 1825.
    public var validityDays: Int
    /// Whether a CSR may obtain a CA certificate (`[x509] allow_ca`). Default false.
    public var allowCA: Bool
    /// Extensions a CSR may carry into its certificate, by OpenSSL short name (`[x509] allowed_extensions`).
    /// An extension without a short name is matched by its dotted OID.
    public var allowedExtensions: Set<String>
    /// keyUsage bits a CSR may request, by upstream's display name (`[x509] allowed_key_usage`),
    /// e.g. "Digital Signature", "Non Repudiation", "Key Encipherment", "Certificate Sign".
    public var allowedKeyUsage: Set<String>

    /// The default `[x509] allowed_extensions`.
    public static let defaultAllowedExtensions: Set<String> = [
        "keyUsage", "extendedKeyUsage", "subjectAltName", "basicConstraints", "subjectKeyIdentifier",
    ]
    /// The default `[x509] allowed_key_usage`.
    public static let defaultAllowedKeyUsage: Set<String> = [
        "Digital Signature", "Key Encipherment", "Non Repudiation",
    ]

    /// Creates a configuration; every argument defaults to upstream Magnum's default.
    public init(
        keyType: KeyType = .rsa(bits: 2048),
        validityDays: Int = 1825,
        allowCA: Bool = false,
        allowedExtensions: Set<String> = PKIConfiguration.defaultAllowedExtensions,
        allowedKeyUsage: Set<String> = PKIConfiguration.defaultAllowedKeyUsage
    ) {
        self.keyType = keyType
        self.validityDays = validityDays
        self.allowCA = allowCA
        self.allowedExtensions = allowedExtensions
        self.allowedKeyUsage = allowedKeyUsage
    }

    /// Checks the settings an operator can get wrong; throws `MagnumError(.invalid, …)` naming the option.
    public func validate() throws {
        if case .rsa(let bits) = keyType {
            guard bits >= 2048, bits <= 16384, bits % 8 == 0 else {
                throw MagnumError(.invalid, "[x509] rsa_key_size must be a multiple of 8 between 2048 and 16384, got \(bits).")
            }
        }
        guard validityDays >= 1, validityDays <= 36500 else {
            throw MagnumError(.invalid, "[x509] term_of_validity must be between 1 and 36500 days, got \(validityDays).")
        }
        let unknown = allowedKeyUsage.subtracting(KeyUsageName.allNames).sorted()
        guard unknown.isEmpty else {
            throw MagnumError(.invalid, "[x509] allowed_key_usage has unknown key usages: \(unknown.joined(separator: ", ")).")
        }
    }
}
