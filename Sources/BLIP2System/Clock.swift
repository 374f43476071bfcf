#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Time as the C library gives it.
public enum Clock {
    /// Seconds on the monotonic clock: for durations (never goes back, counts from boot).
    public static func monotonicSeconds() -> Double {
        Double(monotonicNanoseconds()) / 1e9
    }

    public static func monotonicNanoseconds() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    /// Whole seconds since 1970 (UTC), for timestamps a client reads.
    public static func unixTime() -> Int {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return t.tv_sec
    }
}
