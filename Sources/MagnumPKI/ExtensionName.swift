import SwiftASN1
import X509

/// The names upstream Magnum (through OpenSSL / pyca `cryptography`) gives certificate extensions:
/// the words operators write in `[x509] allowed_extensions` and clients read in
/// "Extension '<name>' not allowed".
enum ExtensionName {
    /// OpenSSL short names of the extensions a CSR realistically carries.
    static let byOID: [ASN1ObjectIdentifier: String] = [
        [2, 5, 29, 14]: "subjectKeyIdentifier",
        [2, 5, 29, 15]: "keyUsage",
        [2, 5, 29, 17]: "subjectAltName",
        [2, 5, 29, 18]: "issuerAltName",
        [2, 5, 29, 19]: "basicConstraints",
        [2, 5, 29, 30]: "nameConstraints",
        [2, 5, 29, 31]: "cRLDistributionPoints",
        [2, 5, 29, 32]: "certificatePolicies",
        [2, 5, 29, 33]: "policyMappings",
        [2, 5, 29, 35]: "authorityKeyIdentifier",
        [2, 5, 29, 36]: "policyConstraints",
        [2, 5, 29, 37]: "extendedKeyUsage",
        [2, 5, 29, 46]: "freshestCRL",
        [2, 5, 29, 54]: "inhibitAnyPolicy",
        [1, 3, 6, 1, 5, 5, 7, 1, 1]: "authorityInfoAccess",
        [1, 3, 6, 1, 5, 5, 7, 1, 11]: "subjectInfoAccess",
        [1, 3, 6, 1, 5, 5, 7, 1, 24]: "TLSFeature",
        [1, 3, 6, 1, 5, 5, 7, 48, 1, 5]: "OCSPNoCheck",
        [2, 16, 840, 1, 113_730, 1, 1]: "nsCertType",
        [2, 16, 840, 1, 113_730, 1, 13]: "nsComment",
    ]

    /// The short name of `oid`, or its dotted form when it has none.
    static func of(_ oid: ASN1ObjectIdentifier) -> String {
        byOID[oid] ?? oid.description
    }
}

/// keyUsage bits by upstream's display names (`[x509] allowed_key_usage`), in RFC 5280 bit order.
enum KeyUsageName: String, CaseIterable {
    case digitalSignature = "Digital Signature"
    case nonRepudiation = "Non Repudiation"
    case keyEncipherment = "Key Encipherment"
    case dataEncipherment = "Data Encipherment"
    case keyAgreement = "Key Agreement"
    case keyCertSign = "Certificate Sign"
    case cRLSign = "CRL Sign"
    case encipherOnly = "Encipher Only"
    case decipherOnly = "Decipher Only"

    /// Every name `[x509] allowed_key_usage` may contain.
    static let allNames: Set<String> = Set(allCases.map(\.rawValue))

    /// The usages only a CA needs; removed from the allowed set unless `[x509] allow_ca`.
    static let caOnly: Set<String> = [KeyUsageName.keyCertSign.rawValue, KeyUsageName.cRLSign.rawValue]

    /// Whether this bit is set in `usage`.
    func isSet(in usage: KeyUsage) -> Bool {
        switch self {
        case .digitalSignature: usage.digitalSignature
        case .nonRepudiation: usage.nonRepudiation
        case .keyEncipherment: usage.keyEncipherment
        case .dataEncipherment: usage.dataEncipherment
        case .keyAgreement: usage.keyAgreement
        case .keyCertSign: usage.keyCertSign
        case .cRLSign: usage.cRLSign
        case .encipherOnly: usage.encipherOnly
        case .decipherOnly: usage.decipherOnly
        }
    }

    /// Clears this bit in `usage`.
    func clear(in usage: inout KeyUsage) {
        switch self {
        case .digitalSignature: usage.digitalSignature = false
        case .nonRepudiation: usage.nonRepudiation = false
        case .keyEncipherment: usage.keyEncipherment = false
        case .dataEncipherment: usage.dataEncipherment = false
        case .keyAgreement: usage.keyAgreement = false
        case .keyCertSign: usage.keyCertSign = false
        case .cRLSign: usage.cRLSign = false
        case .encipherOnly: usage.encipherOnly = false
        case .decipherOnly: usage.decipherOnly = false
        }
    }
}
