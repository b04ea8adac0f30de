import MagnumCore
import MagnumStore
import MagnumTestSupport
import XCTest

/// A session opened inside another must fail at once instead of waiting forever for SQLite's
/// single connection.
final class NestedSessionTests: XCTestCase {
    func testNestedSessionIsRefusedNotDeadlocked() async throws {
        try await TestDatabases.withEach { store, label in
            do {
                _ = try await store.write { _ in
                    try await store.read { try await $0.flavors() }
                }
                XCTFail("nested session accepted on \(label)")
            } catch let e as MagnumError {
                XCTAssertEqual(e.code, .internal, label)
            }
            // The outer transaction rolled back and the store still works.
            let flavors = try await store.read { try await $0.flavors() }
            XCTAssertEqual(flavors, [], label)
        }
    }
}
