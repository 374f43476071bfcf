import BLIP2System

// The converter's I/O runs beside its computation: a reader fills one buffer while the
// previous chunk converts, a writer drains one while the next converts. Two buffers each.

/// Reads chunks on a background thread into two alternating buffers.
final class ChunkReader: @unchecked Sendable {
    private let files: [SafetensorsFile]
    private let buffers: [UnsafeMutableRawBufferPointer]
    private let done = [Semaphore(), Semaphore()]
    private var failures: [Error?] = [nil, nil]
    private var pending = [false, false]
    private let queue = SerialWorker()

    init(files: [SafetensorsFile], bufferBytes: Int) {
        self.files = files
        buffers = (0..<2).map { _ in .allocate(byteCount: max(1, bufferBytes), alignment: 64) }
    }

    deinit {
        drain()
        buffers.forEach { $0.deallocate() }
    }

    func start(_ chunk: Converter.Chunk, slot: Int) {
        pending[slot] = true
        queue.submit { [self] in
            do {
                var at = 0
                for piece in chunk.pieces {
                    let target = UnsafeMutableRawBufferPointer(rebasing: buffers[slot][at..<(at + piece.bytes)])
                    switch piece {
                    case let .file(file, offset, _): try files[file].read(at: offset, into: target)
                    case .zeros: target.initializeMemory(as: UInt8.self, repeating: 0)
                    }
                    at += piece.bytes
                }
                failures[slot] = nil
            } catch {
                failures[slot] = error
            }
            done[slot].signal()
        }
    }

    func wait(slot: Int) throws -> UnsafeMutableRawPointer {
        done[slot].wait()
        pending[slot] = false
        if let e = failures[slot] { throw e }
        return buffers[slot].baseAddress!
    }

    /// Waits for reads in flight, so no buffer is freed under them.
    func drain() {
        for slot in 0..<2 where pending[slot] {
            done[slot].wait()
            pending[slot] = false
        }
    }
}

/// Writes converted chunks on a background thread from two alternating buffers, each
/// preceded by the zero padding that aligns a tensor's start.
final class ChunkWriter: @unchecked Sendable {
    private let out: AtomicOutputFile
    private let buffers: [UnsafeMutableRawBufferPointer]
    private let done = [Semaphore(), Semaphore()]
    private var failure: Error?
    private var pending = [false, false]
    private let queue = SerialWorker()

    init(out: AtomicOutputFile, bufferBytes: Int) {
        self.out = out
        buffers = (0..<2).map { _ in .allocate(byteCount: max(1, bufferBytes), alignment: 64) }
    }

    deinit {
        drain()
        buffers.forEach { $0.deallocate() }
    }

    /// The slot's buffer once its previous write is done; throws that write's error.
    func buffer(slot: Int) throws -> UnsafeMutableRawPointer {
        if pending[slot] {
            done[slot].wait()
            pending[slot] = false
        }
        if let failure { throw failure }
        return buffers[slot].baseAddress!
    }

    func start(slot: Int, padding: Int, bytes: Int) {
        pending[slot] = true
        queue.submit { [self] in
            if failure == nil {
                do {
                    try out.writeZeros(padding)
                    try out.write(UnsafeRawBufferPointer(rebasing: buffers[slot][0..<bytes]))
                } catch {
                    failure = error
                }
            }
            done[slot].signal()
        }
    }

    /// Waits for every write; throws the first error.
    func finish() throws {
        drain()
        if let failure { throw failure }
    }

    func drain() {
        for slot in 0..<2 where pending[slot] {
            done[slot].wait()
            pending[slot] = false
        }
    }
}
