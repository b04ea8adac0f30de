import Foundation
import MagnumAPI
import MagnumCore
import MagnumTestSupport
import XCTest

/// The local catalog through the Nova, Glance and Neutron paths real clients and tempest call.
final class LocalCatalogAPITests: XCTestCase {
    static let externalID = "3c2e1d4b-7a6f-4e58-9b0c-1d2e3f4a5b03"
    static let privateID = "6f5e4d3c-2b1a-4098-8a7b-6c5d4e3f2a04"
    static let subnetID = "9a8b7c6d-5e4f-4321-9fed-cba987654305"
    static let imageID = "b5a7c3f0-6f1e-4e4c-9a9e-0c5d3f1b2a01"

    func testEveryCatalogRouteNeedsAToken() async throws {
        try await APIHarness.withEach { h in
            for path in ["/compute/v2.1/flavors", "/compute/v2.1/flavors/detail", "/compute/v2.1/flavors/1",
                         "/compute/v2.1/os-keypairs", "/compute/v2.1/os-keypairs/kp", "/image/v2/images",
                         "/image/v2/images/\(Self.imageID)", "/network/v2.0/networks", "/network/v2.0/subnets"]
            {
                for headers in [[:], ["X-Auth-Token": "nope"]] {
                    let r = try await h.request(.get, path, token: nil, headers: headers)
                    XCTAssertEqual(r.status, 401, "\(h.label) \(path)")
                    XCTAssertEqual(r.json, ["error": ["code": 401, "title": "Unauthorized",
                                                      "message": "The request you have made requires authentication."]])
                    XCTAssertNotNil(r.header("WWW-Authenticate"))
                }
            }
            let post = try await h.request(.post, "/compute/v2.1/os-keypairs", token: nil, body: ["keypair": ["name": "x"]])
            XCTAssertEqual(post.status, 401)
            // The version documents answer without a token, as upstream's do.
            let version = try await h.request(.get, "/compute/v2.1", token: nil)
            XCTAssertEqual(version.status, 200)
            XCTAssertEqual(version.json?["version"]?["id"], "v2.1")
        }
    }

    func testFlavors() async throws {
        try await APIHarness.withEach { h in
            let list = try await h.request(.get, "/compute/v2.1/flavors")
            XCTAssertEqual(list.status, 200, h.label)
            let names = list.json?["flavors"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            XCTAssertEqual(Set(names), ["m1.tiny", "m1.small", "m1.medium", "m1.large", "ds2G", "local.small"])
            XCTAssertNil(list.json?["flavors"]?.arrayValue?.first?["ram"])
            XCTAssertNil(list.header("OpenStack-API-Version"))

            let detail = try await h.request(.get, "/compute/v2.1/flavors/detail")
            XCTAssertEqual(detail.status, 200)
            let small = detail.json?["flavors"]?.arrayValue?.first { $0["name"] == "m1.small" }
            XCTAssertEqual(small?["id"], "2")
            XCTAssertEqual(small?["ram"], 2048)
            XCTAssertEqual(small?["vcpus"], 1)
            XCTAssertEqual(small?["disk"], 20)

            let one = try await h.request(.get, "/compute/v2.1/flavors/3")
            XCTAssertEqual(one.status, 200)
            XCTAssertEqual(one.json?["flavor"]?["name"], "m1.medium")
            XCTAssertEqual(one.json?["flavor"]?["ram"], 4096)

            let missing = try await h.request(.get, "/compute/v2.1/flavors/m1.small")
            XCTAssertEqual(missing.status, 404)
            XCTAssertEqual(missing.json, ["itemNotFound": ["code": 404, "message": "Flavor m1.small could not be found."]])

            let unknown = try await h.request(.get, "/compute/v2.1/servers")
            XCTAssertEqual(unknown.status, 404)
            XCTAssertNotNil(unknown.json?["itemNotFound"])
        }
    }

    func testImages() async throws {
        try await APIHarness.withEach { h in
            let list = try await h.request(.get, "/image/v2/images")
            XCTAssertEqual(list.status, 200, h.label)
            let images = list.json?["images"]?.arrayValue ?? []
            XCTAssertEqual(Set(images.compactMap { $0["name"]?.stringValue }), ["local-swarm", "fedora-coreos-latest"])
            for i in images {
                XCTAssertEqual(i["status"], "active")
                XCTAssertEqual(i["visibility"], "public")
            }

            let named = try await h.request(.get, "/image/v2/images?name=fedora-coreos-latest")
            XCTAssertEqual(named.json?["images"]?.arrayValue?.count, 1)
            XCTAssertEqual(named.json?["images"]?.arrayValue?.first?["os_distro"], "fedora-coreos")
            let none = try await h.request(.get, "/image/v2/images?name=nothing")
            XCTAssertEqual(none.json?["images"], [])

            let one = try await h.request(.get, "/image/v2/images/\(Self.imageID)")
            XCTAssertEqual(one.status, 200)
            XCTAssertEqual(one.json?["id"], .string(Self.imageID))
            XCTAssertEqual(one.json?["name"], "local-swarm")
            XCTAssertEqual(one.json?["os_distro"], "local-swarm")

            let missing = try await h.request(.get, "/image/v2/images/local-swarm")
            XCTAssertEqual(missing.status, 404)
        }
    }

    func testNetworksAndSubnets() async throws {
        try await APIHarness.withEach { h in
            let list = try await h.request(.get, "/network/v2.0/networks")
            XCTAssertEqual(list.status, 200, h.label)
            let nets = list.json?["networks"]?.arrayValue ?? []
            XCTAssertEqual(Set(nets.compactMap { $0["name"]?.stringValue }), ["public", "private"])
            let priv = nets.first { $0["name"] == "private" }
            XCTAssertEqual(priv?["subnets"], [.string(Self.subnetID)])
            XCTAssertEqual(priv?["status"], "ACTIVE")
            XCTAssertEqual(priv?["router:external"], false)

            let external = try await h.request(.get, "/network/v2.0/networks?router:external=true")
            XCTAssertEqual(external.json?["networks"]?.arrayValue?.compactMap { $0["name"]?.stringValue }, ["public"])
            let encoded = try await h.request(.get, "/network/v2.0/networks?router%3Aexternal=false")
            XCTAssertEqual(encoded.json?["networks"]?.arrayValue?.compactMap { $0["name"]?.stringValue }, ["private"])
            let named = try await h.request(.get, "/network/v2.0/networks?name=public")
            XCTAssertEqual(named.json?["networks"]?.arrayValue?.first?["id"], .string(Self.externalID))
            let both = try await h.request(.get, "/network/v2.0/networks?name=public&router:external=false")
            XCTAssertEqual(both.json?["networks"], [])
            let bad = try await h.request(.get, "/network/v2.0/networks?router:external=maybe")
            XCTAssertEqual(bad.status, 400)

            let one = try await h.request(.get, "/network/v2.0/networks/\(Self.externalID)")
            XCTAssertEqual(one.status, 200)
            XCTAssertEqual(one.json?["network"]?["name"], "public")
            XCTAssertEqual(one.json?["network"]?["router:external"], true)
            let missing = try await h.request(.get, "/network/v2.0/networks/public")
            XCTAssertEqual(missing.status, 404)
            XCTAssertEqual(missing.json?["NeutronError"]?["type"], "NetworkNotFound")

            let subnets = try await h.request(.get, "/network/v2.0/subnets")
            XCTAssertEqual(subnets.status, 200)
            XCTAssertEqual(subnets.json?["subnets"]?.arrayValue?.compactMap { $0["name"]?.stringValue }, ["private-subnet"])
            let byNet = try await h.request(.get, "/network/v2.0/subnets?network_id=\(Self.privateID)")
            XCTAssertEqual(byNet.json?["subnets"]?.arrayValue?.count, 1)
            let otherNet = try await h.request(.get, "/network/v2.0/subnets?network_id=\(Self.externalID)")
            XCTAssertEqual(otherNet.json?["subnets"], [])
            let byName = try await h.request(.get, "/network/v2.0/subnets?name=private-subnet")
            XCTAssertEqual(byName.json?["subnets"]?.arrayValue?.first?["cidr"], "198.18.0.0/16")
            XCTAssertEqual(byName.json?["subnets"]?.arrayValue?.first?["gateway_ip"], "198.18.0.1")
            let sn = try await h.request(.get, "/network/v2.0/subnets/\(Self.subnetID)")
            XCTAssertEqual(sn.status, 200)
            XCTAssertEqual(sn.json?["subnet"]?["network_id"], .string(Self.privateID))
            let snMissing = try await h.request(.get, "/network/v2.0/subnets/nope")
            XCTAssertEqual(snMissing.status, 404)
            XCTAssertEqual(snMissing.json?["NeutronError"]?["type"], "SubnetNotFound")
        }
    }

    func testKeypairListAndShowAreTheCallersOnly() async throws {
        try await APIHarness.withEach { h in
            let created = try await h.request(.post, "/compute/v2.1/os-keypairs", token: .demo, body: ["keypair": ["name": "mine"]])
            XCTAssertEqual(created.status, 200, h.label)

            let demo = try await h.request(.get, "/compute/v2.1/os-keypairs", token: .demo)
            XCTAssertEqual(demo.status, 200)
            let names = demo.json?["keypairs"]?.arrayValue?.compactMap { $0["keypair"]?["name"]?.stringValue }
            XCTAssertEqual(names, ["kp", "mine"])
            let entry = demo.json?["keypairs"]?.arrayValue?.last?["keypair"]
            XCTAssertEqual(entry?["public_key"], created.json?["keypair"]?["public_key"])
            XCTAssertEqual(entry?["fingerprint"], created.json?["keypair"]?["fingerprint"])

            let other = try await h.request(.get, "/compute/v2.1/os-keypairs", token: .demo2)
            XCTAssertEqual(other.json?["keypairs"]?.arrayValue?.compactMap { $0["keypair"]?["name"]?.stringValue }, ["kp"])
            let notTheirs = try await h.request(.get, "/compute/v2.1/os-keypairs/mine", token: .demo2)
            XCTAssertEqual(notTheirs.status, 404)
            XCTAssertNotNil(notTheirs.json?["itemNotFound"])
            let notTheirsDelete = try await h.request(.delete, "/compute/v2.1/os-keypairs/mine", token: .other)
            XCTAssertEqual(notTheirsDelete.status, 404)

            let show = try await h.request(.get, "/compute/v2.1/os-keypairs/mine", token: .demo)
            XCTAssertEqual(show.status, 200)
            let k = show.json?["keypair"]
            XCTAssertEqual(k?["name"], "mine")
            XCTAssertEqual(k?["user_id"], "demo")
            XCTAssertEqual(k?["deleted"], false)
            XCTAssertNotNil(k?["id"]?.intValue)
            XCTAssertNotNil(k?["created_at"]?.stringValue)
            XCTAssertNil(k?["type"], "v2.1 has no type (tempest's schema forbids it)")
            let typed = try await h.request(.get, "/compute/v2.1/os-keypairs/mine", token: .demo,
                                            headers: ["OpenStack-API-Version": "compute 2.2"])
            XCTAssertEqual(typed.json?["keypair"]?["type"], "ssh")
        }
    }

    func testGeneratedKeypairIsARealOpenSSHKey() async throws {
        try await APIHarness.withEach { h in
            let r = try await h.request(.post, "/compute/v2.1/os-keypairs", body: ["keypair": ["name": "gen"]])
            XCTAssertEqual(r.status, 200, h.label)
            let k = r.json?["keypair"]
            let pub = try XCTUnwrap(k?["public_key"]?.stringValue)
            let priv = try XCTUnwrap(k?["private_key"]?.stringValue)
            XCTAssertEqual(k?["name"], "gen")
            XCTAssertEqual(k?["user_id"], "demo")
            XCTAssertTrue(pub.hasPrefix("ssh-ed25519 AAAA"), pub)
            XCTAssertTrue(pub.hasSuffix(" gen"))
            XCTAssertTrue(priv.hasPrefix("-----BEGIN OPENSSH PRIVATE KEY-----\n"))
            XCTAssertTrue(priv.hasSuffix("-----END OPENSSH PRIVATE KEY-----\n"))
            let fp = try XCTUnwrap(k?["fingerprint"]?.stringValue)
            XCTAssertEqual(fp.split(separator: ":").count, 16)
            XCTAssertEqual(fp, SSHKeys.fingerprint(publicKey: pub))

            guard let derived = try Self.sshKeygenPublicKey(priv) else { return }
            let want = pub.split(separator: " ").prefix(2).joined(separator: " ")
            XCTAssertEqual(derived.split(separator: " ").prefix(2).joined(separator: " "), want)
        }
    }

    func testImportDuplicateAndDelete() async throws {
        try await APIHarness.withEach { h in
            let given = SSHKeys.generateEd25519(comment: "laptop")
            let r = try await h.request(.post, "/compute/v2.1/os-keypairs",
                                        body: ["keypair": ["name": "imported", "public_key": .string(given.publicKey), "type": "ssh"]])
            XCTAssertEqual(r.status, 200, h.label)
            XCTAssertEqual(r.json?["keypair"]?["public_key"], .string(given.publicKey))
            XCTAssertEqual(r.json?["keypair"]?["fingerprint"], .string(given.fingerprint))
            XCTAssertNil(r.json?["keypair"]?["private_key"])

            // A real RSA key from OpenSSH imports too.
            var blob = [UInt8]()
            for part: [UInt8] in [Array("ssh-rsa".utf8), [1, 0, 1], [0] + (0..<128).map { UInt8(truncatingIfNeeded: $0 &* 37 | 0x80) }] {
                let n = UInt32(part.count)
                blob += [UInt8(n >> 24), UInt8(n >> 16 & 255), UInt8(n >> 8 & 255), UInt8(n & 255)] + part
            }
            let rsa = "ssh-rsa " + Data(blob).base64EncodedString() + " rsa@host"
            let rsaReply = try await h.request(.post, "/compute/v2.1/os-keypairs",
                                               body: ["keypair": ["name": "rsa", "public_key": .string(rsa)]])
            XCTAssertEqual(rsaReply.status, 200, rsaReply.text)

            for bad in ["ssh-ed25519 notbase64!!", "ssh-foo AAAAC3NzaC1lZDI1NTE5AAAAIA==", "garbage",
                        "ssh-ed25519 " + Data("hello".utf8).base64EncodedString()]
            {
                let refused = try await h.request(.post, "/compute/v2.1/os-keypairs",
                                                  body: ["keypair": ["name": "bad", "public_key": .string(bad)]])
                XCTAssertEqual(refused.status, 400, bad)
                XCTAssertEqual(refused.json?["badRequest"]?["code"], 400)
                XCTAssertTrue(refused.json?["badRequest"]?["message"]?.stringValue?.hasPrefix("Keypair data is invalid") ?? false)
            }
            let noName = try await h.request(.post, "/compute/v2.1/os-keypairs", body: ["keypair": ["public_key": .string(given.publicKey)]])
            XCTAssertEqual(noName.status, 400)

            let dup = try await h.request(.post, "/compute/v2.1/os-keypairs", body: ["keypair": ["name": "imported"]])
            XCTAssertEqual(dup.status, 409)
            XCTAssertEqual(dup.json?["conflictingRequest"]?["code"], 409)
            // The same name is free for another user.
            let elsewhere = try await h.request(.post, "/compute/v2.1/os-keypairs", token: .other, body: ["keypair": ["name": "imported"]])
            XCTAssertEqual(elsewhere.status, 200)

            let del = try await h.request(.delete, "/compute/v2.1/os-keypairs/imported")
            XCTAssertEqual(del.status, 202)
            let gone = try await h.request(.get, "/compute/v2.1/os-keypairs/imported")
            XCTAssertEqual(gone.status, 404)
            let again = try await h.request(.delete, "/compute/v2.1/os-keypairs/imported")
            XCTAssertEqual(again.status, 404)
            XCTAssertNotNil(again.json?["itemNotFound"])
            let stillThere = try await h.request(.get, "/compute/v2.1/os-keypairs/imported", token: .other)
            XCTAssertEqual(stillThere.status, 200)
        }
    }

    func testClusterWithAKeypairCreatedThroughCompute() async throws {
        try await APIHarness.withEach { h in
            // What tempest does: delete (404 the first time), then create, through compute.
            let pre = try await h.request(.delete, "/compute/v2.1/os-keypairs/magnum-test")
            XCTAssertEqual(pre.status, 404, h.label)
            let created = try await h.request(.post, "/compute/v2.1/os-keypairs", body: ["keypair": ["name": "magnum-test"]])
            XCTAssertEqual(created.status, 200)
            let template = try await h.createTemplate(["keypair_id": "magnum-test"])
            let uuid = try XCTUnwrap(template["uuid"]?.stringValue)
            let r = try await h.request(.post, "/v1/clusters", version: "latest",
                                        body: ["name": "k", "cluster_template_id": .string(uuid), "keypair": "magnum-test",
                                               "master_count": 1, "node_count": 1])
            XCTAssertEqual(r.status, 202, r.text)
            // Another user does not have that key pair.
            let other = try await h.request(.post, "/v1/clusters", token: .demo2, version: "latest",
                                            body: ["name": "k2", "cluster_template_id": .string(uuid), "keypair": "magnum-test",
                                                   "master_count": 1, "node_count": 1])
            XCTAssertNotEqual(other.status, 202)
        }
    }

    /// `ssh-keygen -y -f <file>` of a private key; nil when `ssh-keygen` is not installed.
    static func sshKeygenPublicKey(_ privateKey: String) throws -> String? {
        let tool = ["/usr/bin/ssh-keygen", "/usr/local/bin/ssh-keygen", "/bin/ssh-keygen"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let tool else { return nil }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("magnum-kp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("id")
        try Data(privateKey.utf8).write(to: file)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = ["-y", "-f", file.path]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, String(decoding: errData, as: UTF8.self))
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
