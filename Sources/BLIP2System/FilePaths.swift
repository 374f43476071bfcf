#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Paths and file-system questions, answered by the C library: what the library and tools
/// need of the file system is small, and Foundation's answer to it is most of a binary.
public enum FilePaths {
    /// `name` inside `folder`, as a shell would join them ("" and "." leave `name` alone).
    public static func join(_ folder: String, _ name: String) -> String {
        if folder.isEmpty || name.hasPrefix("/") { return name }
        return folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    /// The folder part of a path: "a/b" -> "a", "b" -> "", "/b" -> "/".
    public static func folder(of path: String) -> String {
        let trimmed = trailingSlashesRemoved(path)
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        let head = trailingSlashesRemoved(String(trimmed[..<slash]))
        return head.isEmpty ? "/" : head
    }

    /// The last component: "a/b.gguf" -> "b.gguf", "a/b/" -> "b".
    public static func lastComponent(of path: String) -> String {
        let trimmed = trailingSlashesRemoved(path)
        guard let slash = trimmed.lastIndex(of: "/") else { return trimmed }
        let tail = String(trimmed[trimmed.index(after: slash)...])
        return tail.isEmpty ? "/" : tail
    }

    private static func trailingSlashesRemoved(_ path: String) -> String {
        var p = Substring(path)
        while p.count > 1, p.hasSuffix("/") { p = p.dropLast() }
        return String(p)
    }

    public enum Kind { case file, directory, other }

    /// What is at `path` (following symbolic links), or nil where nothing is.
    public static func kind(_ path: String) -> Kind? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .file
        case S_IFDIR: return .directory
        default: return .other
        }
    }

    public static func exists(_ path: String) -> Bool { kind(path) != nil }

    public static func isDirectory(_ path: String) -> Bool { kind(path) == .directory }

    /// The absolute path with every symbolic link resolved, or nil where it does not exist.
    public static func resolved(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// The names in a folder (without "." and ".."), unsorted; nil where it cannot be read.
    public static func contents(ofDirectory path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

/// The C library's text for an errno value.
public func errnoString(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
