#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import BLIP2System

/// A whole file mapped read-only into memory. The mapping lives exactly as long as this
/// object; views handed out (`bytes`) must not outlive it, so holders keep a reference.
final class MappedFile: @unchecked Sendable {
    let path: String
    /// The file's bytes. Empty for an empty file (which cannot be mapped).
    let bytes: UnsafeRawBufferPointer

    init(path: String) throws(FileError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.cannotOpen(path: path, reason: errnoString()) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileError.cannotOpen(path: path, reason: errnoString()) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw FileError.cannotOpen(path: path, reason: "not a regular file")
        }
        let size = Int(st.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), base != MAP_FAILED else {
            throw FileError.cannotOpen(path: path, reason: "mmap failed: \(errnoString())")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }

    /// Tells the kernel that a range will not be needed again soon, so its pages can leave
    /// the resident set (file-backed pages are re-read on a later touch, never lost).
    func release(_ range: Range<Int>) {
        advise(range, MADV_DONTNEED)
    }

    private func advise(_ range: Range<Int>, _ advice: Int32) {
        guard let base = bytes.baseAddress, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = max(0, range.lowerBound) / page * page
        let end = min(bytes.count, range.upperBound)
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, advice)
    }
}

