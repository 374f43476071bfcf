import BLIP2System

/// A search's cache of image features: per image file content (its SHA-256), the ITC features
/// a model computed, so a second search over the same images runs no vision tower. One file per
/// model, bound to it by a fingerprint of the model file; a file that is damaged, truncated, of
/// another model or another version is never trusted: it is reported and rebuilt.
///
/// Layout (little-endian): "B2IX", version u32, model fingerprint [32], queries u32, width u32,
/// count u32; count x (key [32], features f32 [queries x width]); SHA-256 of all of it [32].
public final class ImageIndex {
    public let path: String
    let fingerprint: [UInt8]
    let queryCount: Int
    let width: Int
    private var entries: [[UInt8]: [Float]] = [:]
    private var order: [[UInt8]] = []
    /// Why an existing file was discarded; nil when it was read or absent.
    public private(set) var problem: String?
    public private(set) var isModified = false

    static let magic = Array("B2IX".utf8)
    static let version: UInt32 = 1
    /// Far above any real index (30,000 images of blip2-itm-vit-g are 1 GB): a bound on what is read.
    static let maxBytes = 4 << 30

    public var count: Int { entries.count }

    /// The index for `model` at `path`, read if it is there and sound.
    public init(path: String, model: RetrievalModel) {
        self.path = path
        fingerprint = Self.fingerprint(model.gguf)
        queryCount = model.config.queryTokenCount
        width = model.config.imageTextHiddenSize
        guard FilePaths.exists(path) else { return }
        do {
            try load(try SmallFile.read(path, limit: Self.maxBytes))
        } catch let e as FileError {
            problem = e.description
        } catch {
            problem = "\(error)"
        }
        if problem != nil {
            entries = [:]
            order = []
        }
    }

    /// A model file's identity: its size and its first and last MiB (the header with all the
    /// metadata, and weights of the first and last towers). Another quantization or another
    /// checkpoint differs there.
    static func fingerprint(_ f: GGUFFile) -> [UInt8] {
        let bytes = f.file.bytes, n = bytes.count, part = min(n, 1 << 20)
        var h = SHA256()
        h.update(withUnsafeBytes(of: UInt64(n).littleEndian) { Array($0) })
        h.update(Array(bytes[0..<part]))
        h.update(Array(bytes[(n - part)..<n]))
        return h.finish()
    }

    public func features(for key: [UInt8]) -> [Float]? { entries[key] }

    public func insert(_ features: [Float], for key: [UInt8]) {
        precondition(features.count == queryCount * width, "features of another model size")
        if entries[key] == nil { order.append(key) }
        entries[key] = features
        isModified = true
    }

    private struct Damaged: Error, CustomStringConvertible {
        let description: String
    }

    private func load(_ b: [UInt8]) throws {
        var p = 0
        func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, p + n <= b.count else { throw Damaged(description: "\(path): the index is truncated") }
            defer { p += n }
            return b[p..<(p + n)]
        }
        func u32() throws -> Int {
            let s = try take(4)
            return s.reversed().reduce(0) { $0 << 8 | Int($1) }
        }
        guard b.count >= 32, Array(b[(b.count - 32)...]) == SHA256.hash(Array(b[..<(b.count - 32)])) else {
            throw Damaged(description: "\(path): the index is damaged (checksum)")
        }
        guard Array(try take(4)) == Self.magic, try u32() == Int(Self.version) else {
            throw Damaged(description: "\(path): not an index of this version")
        }
        guard Array(try take(32)) == fingerprint else { throw Damaged(description: "\(path): the index belongs to another model file") }
        guard try u32() == queryCount, try u32() == width else { throw Damaged(description: "\(path): the index has features of another size") }
        let n = try u32(), floats = queryCount * width
        guard b.count - 32 - p == n * (32 + 4 * floats) else { throw Damaged(description: "\(path): the index's length does not match its count") }
        for _ in 0..<n {
            let key = Array(try take(32))
            let raw = try take(4 * floats)
            let values = raw.withUnsafeBytes { r in (0..<floats).map { Float(bitPattern: UInt32(littleEndian: r.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) } }
            guard values.allSatisfy(\.isFinite) else { throw Damaged(description: "\(path): the index holds non-finite features") }
            if entries[key] == nil { order.append(key) }
            entries[key] = values
        }
    }

    /// Writes the whole index to a temporary file beside `path` and renames it into place.
    public func save() throws {
        var b: [UInt8] = Self.magic
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { b += $0 } }
        u32(Int(Self.version))
        b += fingerprint
        u32(queryCount)
        u32(width)
        u32(order.count)
        for key in order {
            b += key
            for v in entries[key] ?? [] { withUnsafeBytes(of: v.bitPattern.littleEndian) { b += $0 } }
        }
        b += SHA256.hash(b)
        let out = try AtomicOutputFile(finalPath: path)
        try b.withUnsafeBytes { try out.write($0) }
        try out.commit()
        isModified = false
    }
}
