#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Unbuffered writes to the standard streams (stdout through `print` is buffered; these
/// flush it first so that the two never interleave out of order).
public enum StandardStreams {
    public static func writeError(_ text: String) { writeText(2, text) }
    public static func writeOutput(_ text: String) { writeText(1, text) }

    public static func writeText(_ fd: Int32, _ text: String) {
        fflush(nil)
        _ = Array(text.utf8).withUnsafeBytes { writeFully(fd, $0) }
    }
}

/// Writes all of `bytes` to `fd`, retrying after EINTR and short writes; the errno of the
/// first other failure, or nil when everything was written.
@discardableResult
public func writeFully(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32? {
    var done = 0
    while done < bytes.count {
        let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
        if n < 0 {
            if errno == EINTR { continue }
            return errno
        }
        done += n
    }
    return nil
}
