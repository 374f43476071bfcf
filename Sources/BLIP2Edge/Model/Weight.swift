/// A weight as it lies in the mapped file: any storage type, never copied.
struct Weight: @unchecked Sendable {
    let type: GGMLType
    let data: UnsafeRawPointer
    /// Outermost first.
    let shape: [Int]

    /// As a matrix, one row per output: a convolution's rows are its flattened kernels.
    var rows: Int { shape.first ?? 1 }
    var columns: Int { shape.dropFirst().reduce(1, *) }
    var elementCount: Int { shape.reduce(1, *) }
}
