import Foundation
import MagnumCore
import Yams

/// The driver's HOT templates (one flat directory per COE under `Templates/`, plus the node
/// bootstrap scripts under `Templates/bootstrap/`) and the operator's environment files, read
/// once when the driver starts.
struct StackTemplates: Sendable {
    /// The template files of a COE by file name (`cluster.yaml`, `workers.yaml`, …).
    let coeFiles: [String: [String: String]]
    /// The bootstrap scripts by file name (`kubernetes-master.sh`, `common.sh`).
    let bootstrapScripts: [String: String]
    /// The operator's environment files and the files they reference, by the names they use.
    let operatorFiles: [String: String]
    /// The operator's environment files' names, in the order given.
    let operatorEnvironments: [String]

    /// The COEs the templates cover.
    static let coes = ["kubernetes", "swarm-mode"]
    /// The driver's own environment, first in every stack's `environment_files`.
    static let ownEnvironment = "environment.yaml"

    /// Reads the templates under `directory` and the operator's `environments` (paths); throws
    /// `.invalid` for a missing or unreadable file or a name that clashes with a template's.
    init(directory: String, environments: [String]) throws {
        var coeFiles: [String: [String: String]] = [:]
        for coe in Self.coes {
            coeFiles[coe] = try Self.readDirectory(directory + "/" + coe, suffixes: [".yaml", ".yml"])
            for required in ["cluster.yaml", "workers.yaml", Self.ownEnvironment] where coeFiles[coe]?[required] == nil {
                throw MagnumError(.invalid, "The Heat templates in \(directory)/\(coe) lack \(required).")
            }
        }
        self.coeFiles = coeFiles
        bootstrapScripts = try Self.readDirectory(directory + "/bootstrap", suffixes: [".sh"])
        let reserved = Set(coeFiles.values.flatMap(\.keys))
        var files: [String: String] = [:]
        var names: [String] = []
        for path in environments {
            let url = URL(fileURLWithPath: path)
            let name = url.lastPathComponent
            guard !reserved.contains(name), files[name] == nil else {
                throw MagnumError(.invalid, "Heat environment \(path): the name \(name) is already used by the driver's templates or another environment; rename the file.")
            }
            let text = try Self.read(path)
            files[name] = text
            names.append(name)
            for referenced in try Self.referencedFiles(environment: text, path: path) {
                let refPath = url.deletingLastPathComponent().appendingPathComponent(referenced).path
                guard !reserved.contains(referenced) else {
                    throw MagnumError(.invalid, "Heat environment \(path) references \(referenced), a name the driver's templates use; rename the file.")
                }
                files[referenced] = try Self.read(refPath)
            }
        }
        operatorFiles = files
        operatorEnvironments = names
    }

    /// The document of a stack of `coe` whose top template is `top` (`cluster.yaml` or
    /// `workers.yaml`): every template file of the COE, then the operator's files; the driver's
    /// environment first, the operator's after it.
    func document(coe: String, top: String) throws -> StackDocument {
        guard let files = coeFiles[coe], let template = files[top] else {
            throw MagnumError(.notSupported, "The Heat driver has no \(top) template for COE \(coe).")
        }
        return StackDocument(template: template, files: files.merging(operatorFiles) { own, _ in own },
                             environmentFiles: [Self.ownEnvironment] + operatorEnvironments)
    }

    /// The file names an environment's `resource_registry` maps types (or, under `resources`,
    /// single resources) onto: the values that name a template file rather than a type.
    static func referencedFiles(environment text: String, path: String) throws -> [String] {
        let doc: Any?
        do { doc = try Yams.load(yaml: text) } catch {
            throw MagnumError(.invalid, "Heat environment \(path) is not valid YAML: \(error)")
        }
        guard let root = doc as? [String: Any] else {
            if doc == nil { return [] }
            throw MagnumError(.invalid, "Heat environment \(path) is not a mapping.")
        }
        var found: [String] = []
        func collect(_ registry: [String: Any]) {
            for (key, value) in registry.sorted(by: { $0.key < $1.key }) {
                if key == "resources", let nested = value as? [String: Any] {
                    for case let inner as [String: Any] in nested.values { collect(inner) }
                } else if let target = value as? String, isTemplateFile(target), !found.contains(target) {
                    found.append(target)
                }
            }
        }
        if let registry = root["resource_registry"] as? [String: Any] { collect(registry) }
        return found
    }

    /// True for a registry value naming a local template file (not a type, not a URL).
    static func isTemplateFile(_ s: String) -> Bool {
        !s.contains("://") && !s.hasPrefix("/") && [".yaml", ".yml", ".template"].contains { s.hasSuffix($0) }
    }

    /// Every file with one of `suffixes` directly in `directory`, by name.
    static func readDirectory(_ directory: String, suffixes: [String]) throws -> [String: String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw MagnumError(.invalid, "The Heat templates directory \(directory) cannot be read: \(error.localizedDescription)")
        }
        var files: [String: String] = [:]
        for name in names where suffixes.contains(where: { name.hasSuffix($0) }) {
            files[name] = try read(directory + "/" + name)
        }
        return files
    }

    /// A file's text.
    static func read(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw MagnumError(.invalid, "The file \(path) cannot be read.")
        }
        return text
    }
}
