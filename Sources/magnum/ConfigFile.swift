import ArgumentParser
import Foundation
import Yams

/// `--config-file PATH` (or `MAGNUM_CONFIG_FILE`): a YAML mapping of the commands' long option
/// names to values, read before the command line is parsed, so a deployment keeps its settings
/// in one file shared by `magnum api`, `magnum conductor` and `magnum db upgrade`:
///
///     keystone-url: https://keystone.example:5000/v3
///     service-user: magnum
///     heat-environment: [/etc/magnum/octavia-ovn.yaml, /etc/magnum/flavors.yaml]
///     allow-redelegation: false
///
/// A scalar becomes `--name value`, a list one `--name item` per item (repeatable options), a
/// boolean `true` the flag `--name` (`false` leaves it off). The command line wins: an option it
/// gives is not taken from the file. An option the running command does not have is skipped
/// with a note on stderr (one file serves every command).
enum ConfigFile {
    /// The arguments with the config file's options inserted after the subcommand's name.
    static func expand(_ arguments: [String], environment: [String: String]) throws -> [String] {
        var given = arguments
        var path = environment["MAGNUM_CONFIG_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        if let i = given.firstIndex(of: "--config-file") {
            guard i + 1 < given.count else { throw ValidationError("--config-file needs a path.") }
            path = given[i + 1]
            given.removeSubrange(i...(i + 1))
        } else if let i = given.firstIndex(where: { $0.hasPrefix("--config-file=") }) {
            path = String(given[i].dropFirst("--config-file=".count))
            given.remove(at: i)
        }
        guard let path else { return given }
        let options = try options(in: path).filter { name, _ in
            !given.contains { $0 == "--" + name || $0.hasPrefix("--" + name + "=") }
        }
        let commandEnd = given.firstIndex { $0.hasPrefix("-") } ?? given.count
        var inserted = options.flatMap(\.1)
        // Drop what the command does not know, one option at a time, as the parser names them.
        while true {
            var attempt = given
            attempt.insert(contentsOf: inserted, at: commandEnd)
            do {
                _ = try Magnum.parseAsRoot(attempt)
                return attempt
            } catch {
                let message = Magnum.message(for: error)
                guard let unknown = message.firstMatch(of: /Unknown option '--([a-z0-9-]+)'/)?.1,
                      let (name, _) = options.first(where: { $0.0 == String(unknown) && inserted.contains("--" + $0.0) })
                else { return attempt }   // any other error: the real parse reports it
                FileHandle.standardError.write(Data("magnum: \(path): '\(name)' does not apply to this command; skipped\n".utf8))
                inserted = stripping(name, from: inserted)
            }
        }
    }

    /// The file's options in its order: each name with its command-line words.
    static func options(in path: String) throws -> [(String, [String])] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ValidationError("The config file \(path) could not be read: \(error.localizedDescription)")
        }
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch {
            throw ValidationError("The config file \(path) is not YAML: \(error)")
        }
        guard let node else { return [] }
        guard let mapping = node.mapping else { throw ValidationError("The config file \(path) must be a mapping of option names to values.") }
        return try mapping.map { key, value in
            guard let name = key.string, name.range(of: "^[a-z0-9][a-z0-9-]*$", options: .regularExpression) != nil else {
                throw ValidationError("The config file \(path) has a key that is not an option name: \(key.string ?? "\(key)").")
            }
            if let list = value.sequence {
                return (name, try list.flatMap { item -> [String] in
                    guard let s = item.string else { throw ValidationError("\(path): '\(name)' lists something that is not a value.") }
                    return ["--" + name, s]
                })
            }
            guard let scalar = value.scalar else { throw ValidationError("\(path): '\(name)' must be a value or a list of values.") }
            if scalar.style == .plain, let flag = Bool.construct(from: scalar) {
                return (name, flag ? ["--" + name] : [])
            }
            return (name, ["--" + name, scalar.string])
        }
    }

    /// `words` without the occurrences of `--name` and the value that follows each.
    static func stripping(_ name: String, from words: [String]) -> [String] {
        var out: [String] = []
        var skipValue = false
        for (i, word) in words.enumerated() {
            if skipValue { skipValue = false; continue }
            if word == "--" + name {
                skipValue = i + 1 < words.count && !words[i + 1].hasPrefix("--")
                continue
            }
            out.append(word)
        }
        return out
    }
}
