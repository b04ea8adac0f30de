import Foundation
import HummingbirdTesting
import MagnumAPI
import MagnumCore
@testable import MagnumIdentity
import MagnumStore
import MagnumTestSupport
import XCTest

/// `CloudCatalog` over real HTTP: Magnum's own Glance-, Nova- and Neutron-compatible endpoints
/// (served live by an API harness on a port of its own) stand for the cloud's services, another
/// store's local catalog is the fallback.
final class CloudCatalogTests: XCTestCase {
    /// Runs `body` with a catalog whose token catalog points at a live server over `cloud`'s store.
    private func withCloud(_ body: @escaping @Sendable (CloudCatalog, RequestContext, APIHarness) async throws -> Void) async throws {
        try await TestDatabases.withSQLite { cloudStore in
            try await TestDatabases.withSQLite { localStore in
                let cloud = try await APIHarness.make(store: cloudStore, label: "cloud")
                try await LocalCatalog.seedIfEmpty(localStore)
                try await localStore.write { s in
                    try await s.insert(Image(id: "local-only-image", name: "only-local", osDistro: "local-swarm"))
                }
                let app = APIApplication.make(env: cloud.env, host: "127.0.0.1", port: 0)
                try await app.test(.live) { client in
                    let base = "http://127.0.0.1:\(client.port!)"
                    var ctx = RequestContext(userID: "demo", projectID: "demo-project", roles: ["member"], authToken: APIHarness.Token.demo.rawValue)
                    ctx.serviceEndpoints = ["image": base + "/image", "compute": base + "/compute/v2.1", "network": base + "/network"]
                    try await body(CloudCatalog(fallback: LocalCatalog(store: localStore)), ctx, cloud)
                }
            }
        }
    }

    func testLookupsByIDAndNameThroughTheCloudsServices() async throws {
        try await withCloud { catalog, ctx, cloud in
            try await cloud.store.write { s in
                try await s.insert(Image(id: "img-1", name: "fcos-40", osDistro: "fedora-coreos", magnumDriver: "heat_fedora_coreos"))
                try await s.insert(Flavor(id: "fl-9", name: "gpu.large", vcpus: 8, ramMB: 65536, diskGB: 200))
                try await s.insert(Network(id: "net-ext", name: "ext-net", isExternal: true))
            }
            let image = try await catalog.image("fcos-40", ctx)
            XCTAssertEqual(image, Image(id: "img-1", name: "fcos-40", osDistro: "fedora-coreos", magnumDriver: "heat_fedora_coreos"))
            let byID = try await catalog.image("img-1", ctx)
            XCTAssertEqual(byID.name, "fcos-40")
            let flavor = try await catalog.flavor("gpu.large", ctx)
            XCTAssertEqual(flavor, Flavor(id: "fl-9", name: "gpu.large", vcpus: 8, ramMB: 65536, diskGB: 200))
            let flavorByID = try await catalog.flavor("fl-9", ctx)
            XCTAssertEqual(flavorByID.name, "gpu.large")
            let external = try await catalog.externalNetwork("ext-net", ctx)
            XCTAssertEqual(external.id, "net-ext")
            let fixed = try await catalog.fixedNetwork("net-ext", ctx)
            XCTAssertEqual(fixed.name, "ext-net")
            let keypair = try await catalog.keypair("kp", ctx)
            XCTAssertEqual(keypair.name, "kp")
        }
    }

    func testTheContractsErrorsComeBackFromTheCloud() async throws {
        try await withCloud { catalog, ctx, cloud in
            try await cloud.store.write { s in
                try await s.insert(Image(id: "a-1", name: "twin", osDistro: "fedora-coreos"))
                try await s.insert(Image(id: "a-2", name: "twin", osDistro: "fedora-coreos"))
            }
            await CloudCatalogTests.assertThrows(try await catalog.image("nope", ctx), .invalid, "Image nope could not be found.")
            await CloudCatalogTests.assertThrows(try await catalog.image("twin", ctx), .conflict,
                                    "Multiple images exist with same name 'twin'. Please use the image ID instead.")
            await CloudCatalogTests.assertThrows(try await catalog.flavor("nope", ctx), .invalid, "Unable to find flavor nope.")
            // `private` exists but is not external.
            await CloudCatalogTests.assertThrows(try await catalog.externalNetwork("private", ctx), .invalid, "Unable to find external network private.")
            await CloudCatalogTests.assertThrows(try await catalog.fixedSubnet("nope", ctx), .invalid, "Unable to find fixed subnet nope.")
            await CloudCatalogTests.assertThrows(try await catalog.keypair("nope", ctx), .notFound, "Unable to find keypair nope.")
        }
    }

    func testWhatOnlyTheLocalCatalogHasIsFoundThere() async throws {
        try await withCloud { catalog, ctx, _ in
            let localImage = try await catalog.image("only-local", ctx)
            XCTAssertEqual(localImage.id, "local-only-image")
            var bare = ctx
            bare.serviceEndpoints = [:]
            let localFlavor = try await catalog.flavor("local.small", bare)
            XCTAssertEqual(localFlavor.id, "6", "no compute service in the token: the local catalog answers")
        }
    }

    func testAServiceThatCannotBeReachedIsUnavailable() async throws {
        try await TestDatabases.withSQLite { localStore in
            let catalog = CloudCatalog(fallback: LocalCatalog(store: localStore), timeout: .seconds(5))
            var ctx = RequestContext(userID: "demo", projectID: "p", roles: ["member"], authToken: "t")
            ctx.serviceEndpoints = ["image": "http://127.0.0.1:1/image"]
            await CloudCatalogTests.assertThrows(try await catalog.image("anything", ctx), .unavailable, nil)
        }
    }

    private static func assertThrows<T>(_ expression: @autoclosure () async throws -> T, _ code: MagnumError.Code, _ message: String?,
                                 file: StaticString = #filePath, line: UInt = #line) async {
        do {
            _ = try await expression()
            XCTFail("expected \(code)", file: file, line: line)
        } catch let error as MagnumError {
            XCTAssertEqual(error.code, code, error.message, file: file, line: line)
            if let message { XCTAssertEqual(error.message, message, file: file, line: line) }
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
    }
}
