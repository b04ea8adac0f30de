import Crypto
import Foundation
import MagnumCore
import XCTest

@testable import MagnumPKI

/// Private keys at rest: AES-GCM under a key-encryption key, bound to a context.
final class KeyVaultTests: XCTestCase {
    let plaintext = Fixtures.ecdsaSet.ca.privateKeyPEM
    let context = "cluster:5d12f6fd-a196-4bf0-ae4c-1f639a523a52:ca"

    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("magnum-kek-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    private func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    func testRoundTripAndLayout() throws {
        let vault = KeyVault(key: SymmetricKey(size: .bits256))
        let sealed = try vault.seal(plaintext, context: context)
        XCTAssertEqual(sealed.first, 1, "version byte")
        XCTAssertEqual(sealed.count, 1 + 12 + plaintext.utf8.count + 16, "version + nonce + ciphertext + tag")
        XCTAssertEqual(try vault.open(sealed, context: context), plaintext)
        XCTAssertEqual(try vault.open(try vault.seal("", context: ""), context: ""), "")
    }

    func testSealingTwiceUsesFreshNonces() throws {
        let vault = KeyVault(key: SymmetricKey(size: .bits256))
        let first = try vault.seal(plaintext, context: context)
        let second = try vault.seal(plaintext, context: context)
        XCTAssertNotEqual(first, second)
        XCTAssertNotEqual(first[1..<13], second[1..<13])
    }

    func testSealedBytesDoNotContainThePlaintext() throws {
        let vault = KeyVault(key: SymmetricKey(size: .bits256))
        let sealed = try vault.seal(plaintext, context: context)
        let needles = [Array("PRIVATE KEY".utf8), Array(plaintext.utf8.dropFirst(40).prefix(16))]
        for needle in needles {
            let found = (0...(sealed.count - needle.count)).contains { Array(sealed[$0..<($0 + needle.count)]) == needle }
            XCTAssertFalse(found)
        }
    }

    func testWrongKeyFails() throws {
        let sealed = try KeyVault(key: SymmetricKey(size: .bits256)).seal(plaintext, context: context)
        XCTAssertMagnumError(
            try KeyVault(key: SymmetricKey(size: .bits256)).open(sealed, context: context), .internal,
            "Could not decrypt the stored private key for \(context)."
        )
    }

    func testWrongContextFails() throws {
        let vault = KeyVault(key: SymmetricKey(size: .bits256))
        let sealed = try vault.seal(plaintext, context: context)
        XCTAssertMagnumError(try vault.open(sealed, context: "cluster:5d12f6fd-a196-4bf0-ae4c-1f639a523a52:etcd_ca"), .internal)
        XCTAssertMagnumError(try vault.open(sealed, context: ""), .internal)
    }

    func testEveryTamperedByteFails() throws {
        let vault = KeyVault(key: SymmetricKey(size: .bits256))
        let sealed = try vault.seal("short secret", context: context)
        for index in sealed.indices {
            var tampered = sealed
            tampered[index] ^= 0x01
            XCTAssertMagnumError(try vault.open(tampered, context: context), .internal, "Could not decrypt the stored private key for \(context).")
        }
        XCTAssertMagnumError(try vault.open(Array(sealed.dropLast()), context: context), .internal)
        XCTAssertMagnumError(try vault.open(Array(sealed.prefix(20)), context: context), .internal)
        XCTAssertMagnumError(try vault.open([], context: context), .internal)
    }

    func testErrorDescriptionsContainNoKeyMaterial() throws {
        let keyBytes = SymmetricKey(size: .bits256)
        let base64 = keyBytes.withUnsafeBytes { Data($0) }.base64EncodedString()
        let vault = try KeyVault(base64Key: base64)
        let sealed = try vault.seal(plaintext, context: context)
        var tampered = sealed
        tampered[tampered.count - 1] ^= 0xFF
        let failures: [() throws -> Any] = [
            { try vault.open(tampered, context: self.context) },
            { try vault.open(sealed, context: "other") },
            { try KeyVault(key: SymmetricKey(size: .bits256)).open(sealed, context: self.context) },
            { try KeyVault(base64Key: String(base64.dropLast(4))) },
            { try KeyVault(base64Key: "not base64 at all \(base64.prefix(10))") },
        ]
        let sealedBase64 = Data(sealed).base64EncodedString()
        for failure in failures {
            XCTAssertThrowsError(try failure()) { error in
                for text in ["\(error)", String(reflecting: error), (error as? MagnumError)?.message ?? ""] {
                    XCTAssertFalse(text.contains(base64), text)
                    XCTAssertFalse(text.contains(base64.prefix(10)), text)
                    XCTAssertFalse(text.contains("PRIVATE KEY"), text)
                    XCTAssertFalse(text.contains(sealedBase64.prefix(16)), text)
                }
            }
        }
        var dumped = ""
        dump(vault, to: &dumped)
        for text in ["\(vault)", String(reflecting: vault), dumped] {
            XCTAssertFalse(text.contains(base64), text)
            XCTAssertTrue(text.contains("<redacted>"), text)
        }
    }

    func testBase64KeyMustBe32Bytes() throws {
        XCTAssertMagnumError(try KeyVault(base64Key: Data(count: 16).base64EncodedString()), .invalid,
                             "The key-encryption key must be 32 bytes encoded in base64.")
        XCTAssertMagnumError(try KeyVault(base64Key: "%%%"), .invalid)
        let key = SymmetricKey(size: .bits256)
        let base64 = key.withUnsafeBytes { Data($0) }.base64EncodedString()
        let sealed = try KeyVault(key: key).seal(plaintext, context: context)
        XCTAssertEqual(try KeyVault(base64Key: " \(base64)\n").open(sealed, context: context), plaintext)
    }

    func testKeyFileIsCreatedWithMode0600InANewDirectoryAndReused() throws {
        let path = scratch.appendingPathComponent("nested/dir/kek").path
        let first = try KeyVault.loadOrCreate(keyFile: path)
        XCTAssertEqual(try mode(path), 0o600)
        XCTAssertEqual(try mode(scratch.appendingPathComponent("nested/dir").path) & 0o077, 0, "directory not open to others")
        let contents = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(Data(base64Encoded: contents.trimmingCharacters(in: .whitespacesAndNewlines))?.count, 32)

        let second = try KeyVault.loadOrCreate(keyFile: path)
        XCTAssertEqual(try second.open(try first.seal(plaintext, context: context), context: context), plaintext)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), contents, "the second load does not rewrite the key")
        XCTAssertEqual(try mode(path), 0o600)
    }

    func testKeyFileReadableByOthersIsRefusedAndLeftAlone() throws {
        let path = scratch.appendingPathComponent("kek").path
        _ = try KeyVault.loadOrCreate(keyFile: path)
        for loose in [0o644, 0o640, 0o604, 0o660] {
            try FileManager.default.setAttributes([.posixPermissions: loose], ofItemAtPath: path)
            XCTAssertMagnumError(
                try KeyVault.loadOrCreate(keyFile: path), .internal,
                "The key-encryption key file \(path) is accessible by group or others (mode \(String(loose, radix: 8))); run chmod 600 on it."
            )
            XCTAssertEqual(try mode(path), loose, "permissions are never changed")
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: path)
        XCTAssertNoThrow(try KeyVault.loadOrCreate(keyFile: path), "owner read-only is fine")
    }

    func testKeyFileWithGarbageIsRefusedWithoutEchoingIt() throws {
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let path = scratch.appendingPathComponent("kek").path
        _ = FileManager.default.createFile(atPath: path, contents: Data("c2VjcmV0LWJ1dC10b28tc2hvcnQ=".utf8), attributes: [.posixPermissions: 0o600])
        XCTAssertThrowsError(try KeyVault.loadOrCreate(keyFile: path)) { error in
            XCTAssertEqual((error as? MagnumError)?.code, .internal)
            XCTAssertFalse("\(error)".contains("c2VjcmV0"))
        }
    }

    func testConcurrentCreatorsAgreeOnOneKey() async throws {
        let path = scratch.appendingPathComponent("kek").path
        let vaults = try await withThrowingTaskGroup(of: KeyVault.self) { group in
            for _ in 0..<8 { group.addTask { try KeyVault.loadOrCreate(keyFile: path) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let sealed = try vaults[0].seal(plaintext, context: context)
        for vault in vaults { XCTAssertEqual(try vault.open(sealed, context: context), plaintext) }
    }
}
