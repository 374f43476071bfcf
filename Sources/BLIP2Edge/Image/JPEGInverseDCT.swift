/// libjpeg-turbo's accurate integer inverse DCT (jidctint.c, "ISLOW"), the one Pillow's
/// defaults select: 13-bit fixed-point constants, 2 extra bits kept between the passes,
/// floor shifts. Pillow runs the library's SIMD version, which works in 16-bit lanes: the
/// dequantised coefficient keeps its low 16 bits (vpmullw), the first pass saturates to 16
/// bits, and the output saturates to 0...255 (the C version's range table wraps instead). On
/// coefficients a real encoder makes, all of these agree; on hostile ones we follow the SIMD.
enum JPEGInverseDCT {
    // FIX(x) = round(x * 2^13).
    static let f0_298631336 = 2446, f0_390180644 = 3196, f0_541196100 = 4433, f0_765366865 = 6270
    static let f0_899976223 = 7373, f1_175875602 = 9633, f1_501321110 = 12299, f1_847759065 = 15137
    static let f1_961570560 = 16069, f2_053119869 = 16819, f2_562915447 = 20995, f3_072711026 = 25172

    /// One 8x8 block: `coefficients` in natural (row-major) order, `quant` likewise;
    /// `workspace` holds 64 Ints; the samples go to `out`, rows `stride` bytes apart.
    @inline(__always)
    static func transform(_ coefficients: UnsafePointer<Int16>, _ quant: UnsafePointer<Int32>,
                          _ workspace: UnsafeMutablePointer<Int>, _ out: UnsafeMutablePointer<UInt8>, _ stride: Int) {
        // Pass 1: columns, results scaled up by 2^2.
        for c in 0..<8 {
            @inline(__always) func dq(_ r: Int) -> Int {
                Int(Int16(truncatingIfNeeded: Int32(coefficients[r * 8 + c]) &* quant[r * 8 + c]))
            }
            if coefficients[8 + c] == 0 && coefficients[16 + c] == 0 && coefficients[24 + c] == 0
                && coefficients[32 + c] == 0 && coefficients[40 + c] == 0 && coefficients[48 + c] == 0
                && coefficients[56 + c] == 0 {
                // Only the DC term: every output of the column is the same (exactly what the
                // full computation gives).
                let v = saturate16(dq(0) << 2)
                for r in 0..<8 { workspace[r * 8 + c] = v }
                continue
            }
            var o = (0, 0, 0, 0, 0, 0, 0, 0)
            butterfly(dq(0), dq(1), dq(2), dq(3), dq(4), dq(5), dq(6), dq(7), &o)
            let bias = 1 << 10
            workspace[c] = saturate16((o.0 &+ bias) >> 11)
            workspace[8 + c] = saturate16((o.1 &+ bias) >> 11)
            workspace[16 + c] = saturate16((o.2 &+ bias) >> 11)
            workspace[24 + c] = saturate16((o.3 &+ bias) >> 11)
            workspace[32 + c] = saturate16((o.4 &+ bias) >> 11)
            workspace[40 + c] = saturate16((o.5 &+ bias) >> 11)
            workspace[48 + c] = saturate16((o.6 &+ bias) >> 11)
            workspace[56 + c] = saturate16((o.7 &+ bias) >> 11)
        }
        // Pass 2: rows, removing the 2^2 and the transform's 2^3 and adding 128.
        for r in 0..<8 {
            let w = workspace + r * 8
            let row = out + r * stride
            if w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0 && w[6] == 0 && w[7] == 0 {
                let v = sample((w[0] &+ 16) >> 5)
                for i in 0..<8 { row[i] = v }
                continue
            }
            var o = (0, 0, 0, 0, 0, 0, 0, 0)
            butterfly(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], &o)
            let bias = 1 << 17
            row[0] = sample((o.0 &+ bias) >> 18)
            row[1] = sample((o.1 &+ bias) >> 18)
            row[2] = sample((o.2 &+ bias) >> 18)
            row[3] = sample((o.3 &+ bias) >> 18)
            row[4] = sample((o.4 &+ bias) >> 18)
            row[5] = sample((o.5 &+ bias) >> 18)
            row[6] = sample((o.6 &+ bias) >> 18)
            row[7] = sample((o.7 &+ bias) >> 18)
        }
    }

    @inline(__always)
    static func saturate16(_ v: Int) -> Int { min(max(v, -32768), 32767) }

    @inline(__always)
    static func sample(_ v: Int) -> UInt8 { UInt8(truncatingIfNeeded: min(max(v &+ 128, 0), 255)) }

    /// The 1-D transform of eight inputs, scaled by 2^13 (jidctint.c's even and odd parts).
    @inline(__always)
    static func butterfly(_ c0: Int, _ c1: Int, _ c2: Int, _ c3: Int, _ c4: Int, _ c5: Int, _ c6: Int, _ c7: Int,
                          _ o: inout (Int, Int, Int, Int, Int, Int, Int, Int)) {
        // Even part.
        let z1 = (c2 &+ c6) &* f0_541196100
        let t2 = z1 &- c6 &* f1_847759065
        let t3 = z1 &+ c2 &* f0_765366865
        let t0 = (c0 &+ c4) << 13
        let t1 = (c0 &- c4) << 13
        let e10 = t0 &+ t3, e13 = t0 &- t3, e11 = t1 &+ t2, e12 = t1 &- t2
        // Odd part, with a, b, c, d = c7, c5, c3, c1.
        var a = c7, b = c5, c = c3, d = c1
        var y1 = a &+ d, y2 = b &+ c, y3 = a &+ c, y4 = b &+ d
        let y5 = (y3 &+ y4) &* f1_175875602
        a = a &* f0_298631336
        b = b &* f2_053119869
        c = c &* f3_072711026
        d = d &* f1_501321110
        y1 = y1 &* -f0_899976223
        y2 = y2 &* -f2_562915447
        y3 = y3 &* -f1_961570560
        y4 = y4 &* -f0_390180644
        y3 = y3 &+ y5
        y4 = y4 &+ y5
        a = a &+ y1 &+ y3
        b = b &+ y2 &+ y4
        c = c &+ y2 &+ y3
        d = d &+ y1 &+ y4
        o = (e10 &+ d, e11 &+ c, e12 &+ b, e13 &+ a, e13 &- a, e12 &- b, e11 &- c, e10 &- d)
    }
}
