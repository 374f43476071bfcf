import BLIP2System
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A file written under a temporary name in its final folder and renamed into place only
/// when complete, so a failed, crashed or interrupted run never leaves a partial file
/// under the final name. SIGINT and SIGTERM remove the temporary file before exiting.
final class AtomicOutputFile {
    let finalPath: String
    let temporaryPath: String
    private var fd: Int32
    private var finished = false

    init(finalPath: String) throws(FileError) {
        self.finalPath = finalPath
        let folder = FilePaths.folder(of: finalPath)
        // The name is registered for removal before the file exists (unlike mkstemp, which
        // creates first): a signal at any moment then removes the file or finds none.
        var attempts = 0
        while true {
            let candidate = FilePaths.join(folder, ".\(FilePaths.lastComponent(of: finalPath)).partial-\(Self.randomSuffix())")
            InterruptCleanup.register(candidate)
            let fd = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 {
                _ = fchmod(fd, 0o644)
                self.fd = fd
                self.temporaryPath = candidate
                return
            }
            let err = errno
            InterruptCleanup.unregister()
            attempts += 1
            guard err == EEXIST, attempts < 100 else { throw .cannotWrite(path: finalPath, reason: errnoString(err)) }
        }
    }

    private static func randomSuffix() -> String {
        let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return String((0..<12).map { _ in letters[Int.random(in: 0..<letters.count)] })
    }

    deinit { discard() }

    func write(_ bytes: UnsafeRawBufferPointer) throws(FileError) {
        if let e = writeFully(fd, bytes) { throw .cannotWrite(path: finalPath, reason: errnoString(e)) }
    }

    func writeZeros(_ count: Int) throws(FileError) {
        guard count > 0 else { return }
        let zeros = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 1)
        defer { zeros.deallocate() }
        zeros.initializeMemory(as: UInt8.self, repeating: 0)
        try write(UnsafeRawBufferPointer(zeros))
    }

    /// Moves the complete file to its final name.
    func commit() throws(FileError) {
        guard close(fd) == 0 else {
            let reason = errnoString()
            fd = -1
            discard()
            throw .cannotWrite(path: finalPath, reason: reason)
        }
        fd = -1
        guard rename(temporaryPath, finalPath) == 0 else {
            let reason = errnoString()
            discard()
            throw .cannotWrite(path: finalPath, reason: reason)
        }
        finished = true
        InterruptCleanup.unregister()
    }

    /// Removes the temporary file (a no-op once committed).
    func discard() {
        if fd >= 0 { close(fd); fd = -1 }
        if !finished {
            unlink(temporaryPath)
            finished = true
            InterruptCleanup.unregister()
        }
    }
}

/// The one temporary file a signal must remove. Kept as a C string made before the signal
/// can arrive, because a handler may only call async-signal-safe functions (unlink, raise).
enum InterruptCleanup {
    nonisolated(unsafe) private static var path: UnsafeMutablePointer<CChar>?
    private static let lock = Lock()

    static func register(_ p: String) {
        lock.lock()
        defer { lock.unlock() }
        let old = path
        path = strdup(p)
        free(old)
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        signal(SIGHUP, handler)
    }

    static func unregister() {
        lock.lock()
        defer { lock.unlock() }
        let old = path
        path = nil
        free(old)
    }

    private static let handler: @convention(c) (Int32) -> Void = { sig in
        if let p = InterruptCleanup.path { unlink(p) }
        signal(sig, SIG_DFL)
        raise(sig)
    }
}
