import Foundation
import MagnumIdentity
import XCTest
import Yams

/// The clouds.yaml the built-in identity's first start writes and installs.
final class CloudsFileTests: XCTestCase {
    var directory: URL!

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("magnum-clouds-\(UUID().uuidString)")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: directory)
    }

    func text(password: String) -> String {
        CloudsFile.render(name: "magnum-admin", authURL: "http://127.0.0.1:9511/identity/v3", username: "admin",
                          password: password, projectName: "admin")
    }

    func testRenderedFileIsWhatTheClientReads() throws {
        let root = try XCTUnwrap(try Yams.load(yaml: text(password: "p'\"w")) as? [String: Any])
        let cloud = try XCTUnwrap((root["clouds"] as? [String: Any])?["magnum-admin"] as? [String: Any])
        let auth = try XCTUnwrap(cloud["auth"] as? [String: Any])
        XCTAssertEqual(auth["auth_url"] as? String, "http://127.0.0.1:9511/identity/v3")
        XCTAssertEqual(auth["username"] as? String, "admin")
        XCTAssertEqual(auth["password"] as? String, "p'\"w", "quoted safely")
        XCTAssertEqual(auth["project_name"] as? String, "admin")
        XCTAssertEqual(auth["user_domain_name"] as? String, "Default")
        XCTAssertEqual(cloud["region_name"] as? String, "RegionOne")
        XCTAssertEqual(cloud["identity_api_version"] as? Int, 3)
        XCTAssertTrue(text(password: "x").hasPrefix(CloudsFile.marker))
    }

    /// Created private (0600), in a directory created on the way; replaced when Magnum wrote it.
    func testInstallCreatesAndReplacesItsOwnFile() throws {
        let path = directory.appendingPathComponent(".config/openstack/clouds.yaml").path
        XCTAssertTrue(try CloudsFile.install(text(password: "one"), at: path))
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
        XCTAssertTrue(try CloudsFile.install(text(password: "two"), at: path))
        let now = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(now.contains("\"two\""))
        XCTAssertFalse(now.contains("\"one\""))
    }

    /// A clouds.yaml the user wrote is never touched.
    func testInstallLeavesAForeignFileAlone() throws {
        let path = directory.appendingPathComponent("clouds.yaml").path
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let mine = "clouds:\n  prod:\n    auth: {auth_url: https://keystone.example/v3}\n"
        try mine.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertFalse(try CloudsFile.install(text(password: "x"), at: path))
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), mine)
    }
}
