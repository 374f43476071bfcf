/// Reads little-endian values from a byte buffer, checking every read against its end, so
/// that no number found in a file can make us read outside it.
struct ByteCursor {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    /// Thrown when a read would pass the end; `what` says which field was being read.
    struct Truncated: Error {
        let what: String
        let offset: Int
    }

    mutating func skip(_ n: Int, _ what: @autoclosure () -> String) throws(Truncated) {
        guard n >= 0, n <= remaining else { throw Truncated(what: what(), offset: offset) }
        offset += n
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws(Truncated) -> T {
        let size = MemoryLayout<T>.size
        guard size <= remaining else { throw Truncated(what: what(), offset: offset) }
        let v = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: v)
    }

    mutating func readFloat(_ what: @autoclosure () -> String) throws(Truncated) -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    mutating func readDouble(_ what: @autoclosure () -> String) throws(Truncated) -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }

    /// Returns a view of the next `n` bytes.
    mutating func slice(_ n: Int, _ what: @autoclosure () -> String) throws(Truncated) -> UnsafeRawBufferPointer {
        guard n >= 0, n <= remaining else { throw Truncated(what: what(), offset: offset) }
        let s = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
        offset += n
        return s
    }
}
