import BLIP2System
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Element types named in safetensors headers.
enum SafetensorsDType: String, Sendable, CaseIterable {
    case bool = "BOOL", u8 = "U8", i8 = "I8", f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32", f64 = "F64", i64 = "I64", u64 = "U64"

    var size: Int {
        switch self {
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3: 1
        case .i16, .u16, .f16, .bf16: 2
        case .i32, .u32, .f32: 4
        case .f64, .i64, .u64: 8
        }
    }

    /// The floating-point types a BLIP-2 checkpoint is published in, which we convert.
    var isConvertible: Bool { self == .f32 || self == .f16 || self == .bf16 }
}

struct SafetensorsTensor: Sendable, Equatable {
    let name: String
    let dtype: SafetensorsDType
    let shape: [Int]
    /// Absolute offset of the data in the file.
    let fileOffset: Int
    let byteCount: Int

    var elementCount: Int { shape.reduce(1, *) }
}

public enum SafetensorsError: Error, Equatable, CustomStringConvertible {
    case notSafetensors(path: String, reason: String)
    case invalidHeader(path: String, reason: String)
    case invalidTensor(path: String, tensor: String, reason: String)

    public var description: String {
        switch self {
        case let .notSafetensors(path, reason): "\(path): not a safetensors file: \(reason)"
        case let .invalidHeader(path, reason): "\(path): bad safetensors header: \(reason)"
        case let .invalidTensor(path, tensor, reason): "\(path): tensor \(tensor): \(reason)"
        }
    }
}

/// One safetensors file: its header parsed and checked against the file size. Data is read
/// with positioned reads into caller buffers, so a converter's memory stays bounded however
/// large the file is.
final class SafetensorsFile: @unchecked Sendable {
    /// The safetensors library's own limit on the JSON header.
    static let maxHeaderBytes = 100_000_000

    let path: String
    let tensors: [SafetensorsTensor]
    let metadata: [String: String]
    private let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.cannotOpen(path: path, reason: errnoString()) }
        do {
            (tensors, metadata) = try Self.parseHeader(fd: fd, path: path)
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Reads `buffer.count` bytes at absolute offset `offset`.
    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
        try Self.preadFully(fd: fd, path: path, offset: offset, into: buffer)
    }

    private static func preadFully(fd: Int32, path: String, offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError.readFailed(path: path, reason: errnoString())
            }
            if n == 0 { throw FileError.readFailed(path: path, reason: "file ended early (was it truncated while being read?)") }
            done += n
        }
    }

    private static func parseHeader(fd: Int32, path: String) throws -> ([SafetensorsTensor], [String: String]) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileError.cannotOpen(path: path, reason: errnoString()) }
        let fileSize = Int(st.st_size)
        guard fileSize >= 8 else {
            throw SafetensorsError.notSafetensors(path: path, reason: "only \(fileSize) bytes, too short for the 8-byte header length")
        }
        var lengthLE: UInt64 = 0
        try withUnsafeMutableBytes(of: &lengthLE) { try preadFully(fd: fd, path: path, offset: 0, into: $0) }
        let headerLength = UInt64(littleEndian: lengthLE)
        guard headerLength <= UInt64(maxHeaderBytes) else {
            throw SafetensorsError.notSafetensors(path: path, reason: "header length \(headerLength) exceeds the \(maxHeaderBytes)-byte limit")
        }
        guard headerLength >= 2, Int(headerLength) <= fileSize - 8 else {
            throw SafetensorsError.notSafetensors(path: path, reason: "header length \(headerLength) does not fit in the \(fileSize)-byte file")
        }
        var header = [UInt8](repeating: 0, count: Int(headerLength))
        try header.withUnsafeMutableBytes { try preadFully(fd: fd, path: path, offset: 8, into: $0) }
        guard header.first == UInt8(ascii: "{") else {
            throw SafetensorsError.notSafetensors(path: path, reason: "header does not start with a JSON object")
        }
        guard let root = (try? JSONValue.parse(header))?.object,
              case let entries = root.compactMapValues(HeaderEntry.init), entries.count == root.count else {
            throw SafetensorsError.invalidHeader(path: path, reason: "header is not the JSON object of tensor entries safetensors requires")
        }
        let dataStart = 8 + Int(headerLength)
        let dataSize = fileSize - dataStart
        var metadata: [String: String] = [:]
        var tensors: [SafetensorsTensor] = []
        for (name, entry) in entries {
            switch entry {
            case let .metadata(m):
                guard name == "__metadata__" else {
                    throw SafetensorsError.invalidTensor(path: path, tensor: name, reason: "entry is not a tensor (dtype, shape, data_offsets)")
                }
                metadata = m
            case let .tensor(t):
                guard name != "__metadata__" else {
                    throw SafetensorsError.invalidHeader(path: path, reason: "__metadata__ must map strings to strings")
                }
                tensors.append(try checkTensor(name: name, entry: t, path: path, dataStart: dataStart, dataSize: dataSize))
            }
        }
        tensors.sort { $0.fileOffset < $1.fileOffset || ($0.fileOffset == $1.fileOffset && $0.name < $1.name) }
        var previousEnd = dataStart
        var previousName = ""
        for t in tensors {
            guard t.fileOffset >= previousEnd || t.byteCount == 0 else {
                throw SafetensorsError.invalidTensor(path: path, tensor: t.name, reason: "data overlaps tensor \(previousName)")
            }
            previousEnd = t.fileOffset + t.byteCount
            previousName = t.name
        }
        return (tensors, metadata)
    }

    private static func checkTensor(name: String, entry: HeaderEntry.Tensor, path: String, dataStart: Int, dataSize: Int) throws -> SafetensorsTensor {
        func bad(_ reason: String) -> SafetensorsError { .invalidTensor(path: path, tensor: name, reason: reason) }
        guard let dtype = SafetensorsDType(rawValue: entry.dtype) else { throw bad("unknown dtype \(entry.dtype)") }
        var elements = 1
        for n in entry.shape {
            guard n >= 0 else { throw bad("shape \(entry.shape) has a negative size") }
            let (p, overflow) = elements.multipliedReportingOverflow(by: n)
            guard !overflow else { throw bad("shape \(entry.shape) has too many elements") }
            elements = p
        }
        guard entry.data_offsets.count == 2, entry.data_offsets[0] >= 0, entry.data_offsets[1] >= entry.data_offsets[0] else {
            throw bad("data_offsets must be [begin, end] with 0 <= begin <= end")
        }
        let begin = entry.data_offsets[0], end = entry.data_offsets[1]
        let (expected, overflow) = elements.multipliedReportingOverflow(by: dtype.size)
        guard !overflow, end - begin == expected else {
            throw bad("shape \(entry.shape) of \(entry.dtype) needs \(overflow ? "too many" : String(expected)) bytes but data_offsets span \(end - begin)")
        }
        guard end <= dataSize else {
            throw bad("data [\(begin), \(end)) lies outside the file's \(dataSize) data bytes")
        }
        guard begin % dtype.size == 0 else {
            throw bad("data offset \(begin) is not aligned to its \(dtype.size)-byte elements")
        }
        return SafetensorsTensor(name: name, dtype: dtype, shape: entry.shape, fileOffset: dataStart + begin, byteCount: end - begin)
    }

    /// A header value: a tensor entry, or the string map under "__metadata__".
    private enum HeaderEntry {
        struct Tensor {
            let dtype: String
            let shape: [Int]
            let data_offsets: [Int]
        }
        case tensor(Tensor)
        case metadata([String: String])

        /// Nil for a value that is neither (other keys in a tensor entry are ignored, as
        /// the safetensors crate does).
        init?(_ v: JSONValue) {
            guard let o = v.object else { return nil }
            if let dtype = o["dtype"]?.string,
               let shape = o["shape"]?.intArray, let offsets = o["data_offsets"]?.intArray {
                self = .tensor(Tensor(dtype: dtype, shape: shape, data_offsets: offsets))
            } else if let strings = v.stringObject {
                self = .metadata(strings)
            } else {
                return nil
            }
        }
    }
}
