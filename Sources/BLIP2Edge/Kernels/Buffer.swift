/// A float buffer owned by whoever holds it, sized once and reused.
final class Buffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(_ count: Int) {
        self.count = max(count, 1)
        pointer = .allocate(capacity: self.count)
        pointer.initialize(repeating: 0, count: self.count)
    }

    deinit { pointer.deallocate() }

    var const: UnsafePointer<Float> { UnsafePointer(pointer) }
}

/// Hands a tower its scratch buffers. A tower asks for each buffer once, in its initialiser;
/// the counting arena answers the same requests without allocating, so a session can add up
/// what the towers will need before it allocates anything.
final class ScratchArena {
    private let allocates: Bool
    private(set) var floats = 0

    private init(allocates: Bool) { self.allocates = allocates }

    static func allocating() -> ScratchArena { ScratchArena(allocates: true) }
    static func counting() -> ScratchArena { ScratchArena(allocates: false) }

    var bytes: Int { floats * MemoryLayout<Float>.stride }

    func buffer(_ count: Int) -> Buffer {
        floats += max(count, 1)
        return allocates ? Buffer(count) : Self.placeholder
    }

    /// What a counting arena hands out: the tower it belongs to is measured, never run.
    private static let placeholder = Buffer(1)
}
