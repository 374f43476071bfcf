import BLIP2System

/// Where the model file comes from: --model, else $BLIP2_MODEL, else the default path.
enum ModelLocation {
    static let captioningName = "blip2-opt-2.7b"
    static let retrievalName = "blip2-itm-vit-g"

    static func defaultPath(_ name: String) -> String {
        let data = SystemInfo.environment("XDG_DATA_HOME").flatMap { $0.isEmpty ? nil : $0 }
            ?? ((SystemInfo.environment("HOME") ?? "~") + "/.local/share")
        return data + "/blip2-edge/\(name).q4"
    }

    /// The path to open, or an error that says where we looked and how to make a model.
    static func resolve(_ option: String?, defaultName: String = captioningName) throws -> String {
        if let option { return option }
        if let env = SystemInfo.environment("BLIP2_MODEL"), !env.isEmpty { return env }
        let path = defaultPath(defaultName)
        guard FilePaths.exists(path) else {
            throw ModelNotFound(path: path, name: defaultName)
        }
        return path
    }

    struct ModelNotFound: Error, CustomStringConvertible {
        let path: String
        let name: String
        var description: String {
            "no model: give --model FILE or set BLIP2_MODEL (the default \(path) does not exist); "
                + "make one with: blip2-quantize \(name)/ \(path)"
        }
    }
}
