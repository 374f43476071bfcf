import BLIP2System
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads a whole small file (a JSON config, a tokenizer, an image) with a size limit, so a
/// huge or endless file is an error instead of an allocation sized from the input.
public enum SmallFile {
    /// Comfortably above any real input: tokenizer.json is about 2 MB, a 100-megapixel
    /// 16-bit PPM 600 MB.
    public static let defaultLimit = 1 << 30

    public static func read(_ path: String, limit: Int = defaultLimit) throws(FileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: errnoString()) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .readFailed(path: path, reason: errnoString()) }
        guard (st.st_mode & S_IFMT) != S_IFDIR else { throw .cannotOpen(path: path, reason: "is a directory") }
        var data: [UInt8] = []
        if (st.st_mode & S_IFMT) == S_IFREG {
            guard Int(st.st_size) <= limit else { throw .readFailed(path: path, reason: "larger than \(limit >> 20) MiB") }
            data.reserveCapacity(Int(st.st_size))
        }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .readFailed(path: path, reason: errnoString())
            }
            if n == 0 { break }
            data.append(contentsOf: chunk[0..<n])
            if data.count > limit { throw .readFailed(path: path, reason: "larger than \(limit >> 20) MiB") }
        }
        return data
    }
}

extension SmallFile {
    /// The first `count` bytes (fewer if the file is shorter); nil where it cannot be read.
    public static func readHead(_ path: String, count: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: count)
        let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, 0) }
        guard n >= 0 else { return nil }
        return Array(head.prefix(n))
    }

    /// Writes `bytes` to `path` through a temporary file renamed into place, so that a
    /// failed write leaves no half-written file and the old one, if any, stays whole.
    public static func write(_ bytes: [UInt8], to path: String) throws(FileError) {
        let file = try AtomicOutputFile(finalPath: path)
        let written = bytes.withUnsafeBytes { b in Result { () throws(FileError) in try file.write(b) } }
        try written.get()
        try file.commit()
    }
}
