import BLIP2System

public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    case notFound(path: String)
    case noWeights(directory: String)
    case invalidIndex(path: String, reason: String)
    case missingFile(path: String, neededFor: String)
    case duplicateTensor(name: String, files: [String])

    public var description: String {
        switch self {
        case let .notFound(path):
            "\(path): no such file or directory"
        case let .noWeights(directory):
            "\(directory): no model.safetensors or model.safetensors.index.json found"
        case let .invalidIndex(path, reason):
            "\(path): bad sharded-checkpoint index: \(reason)"
        case let .missingFile(path, neededFor):
            "\(path) is missing (needed for \(neededFor))"
        case let .duplicateTensor(name, files):
            "tensor \(name) appears in more than one file: \(files.joined(separator: ", "))"
        }
    }
}

/// A HuggingFace checkpoint on disk: its safetensors shards, and the folder holding the
/// config and tokenizer files that travel with it.
struct Checkpoint: Sendable {
    let directory: String
    let files: [SafetensorsFile]
    /// Every tensor by name, with the index of the file that holds it.
    let tensors: [String: (file: Int, tensor: SafetensorsTensor)]

    /// Opens a `.safetensors` file, a sharded checkpoint's `model.safetensors.index.json`, or
    /// a model directory holding either.
    init(path: String) throws {
        guard let kind = FilePaths.kind(path) else { throw CheckpointError.notFound(path: path) }
        let shardPaths: [String]
        if kind == .directory {
            directory = path
            let index = FilePaths.join(path, "model.safetensors.index.json")
            let single = FilePaths.join(path, "model.safetensors")
            if FilePaths.exists(index) {
                shardPaths = try Self.shards(fromIndex: index)
            } else if FilePaths.exists(single) {
                shardPaths = [single]
            } else {
                throw CheckpointError.noWeights(directory: path)
            }
        } else {
            let folder = FilePaths.folder(of: path)
            directory = folder.isEmpty ? "." : folder
            shardPaths = path.hasSuffix(".json") ? try Self.shards(fromIndex: path) : [path]
        }
        var files: [SafetensorsFile] = []
        var tensors: [String: (file: Int, tensor: SafetensorsTensor)] = [:]
        for shard in shardPaths {
            guard FilePaths.exists(shard) else {
                throw CheckpointError.missingFile(path: shard, neededFor: "the weights listed in the index")
            }
            let file = try SafetensorsFile(path: shard)
            for t in file.tensors {
                if let other = tensors[t.name] {
                    throw CheckpointError.duplicateTensor(name: t.name, files: [files[other.file].path, shard])
                }
                tensors[t.name] = (files.count, t)
            }
            files.append(file)
        }
        self.files = files
        self.tensors = tensors
    }

    /// Path of a file that sits beside the weights (config.json, vocab.json, ...).
    func sidecar(_ name: String) -> String {
        FilePaths.join(directory, name)
    }

    /// The shard files an index names, sorted. Names must be plain file names in the
    /// index's folder: an index cannot point us elsewhere on the disk. Which shard the index
    /// says holds a tensor does not matter: each shard's own header says what it holds.
    private static func shards(fromIndex indexPath: String) throws -> [String] {
        let data = try SmallFile.read(indexPath)
        guard let weightMap = (try? JSONValue.parse(data))?.object?["weight_map"]?.stringObject else {
            throw CheckpointError.invalidIndex(path: indexPath, reason: "expected a JSON object with a weight_map of tensor name to file name")
        }
        let folder = FilePaths.folder(of: indexPath)
        var files = Set<String>()
        for (name, file) in weightMap {
            guard !file.isEmpty, !file.contains("/"), file != ".", file != ".." else {
                throw CheckpointError.invalidIndex(path: indexPath, reason: "tensor \(name) maps to \"\(file)\", which is not a file name in the index's folder")
            }
            files.insert(file)
        }
        guard !files.isEmpty else {
            throw CheckpointError.invalidIndex(path: indexPath, reason: "weight_map is empty")
        }
        return files.sorted().map { FilePaths.join(folder, $0) }
    }
}
