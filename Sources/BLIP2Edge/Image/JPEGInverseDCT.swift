/// libjpeg-turbo's accurate integer inverse DCT ("ISLOW", jidctint.c), the one Pillow's
/// defaults select, computed as its AVX2 version (jidctint-avx2.asm) computes it, because that
/// is what Pillow runs on x86-64: 13-bit fixed-point constants, 2 extra bits between the
/// passes, floor shifts. The SIMD code works in 16-bit lanes: the dequantised coefficient
/// keeps its low 16 bits, the sums in0 +- in4, in7 + in3 and in5 + in1 wrap at 16 bits, each
/// pass saturates its results to 16 bits, the output saturates to 0...255, and a block whose
/// rows 1...7 are all zero takes a shortcut whose shift wraps. On coefficients real encoders
/// make, this equals the C code exactly (the doc's "trap 12"); on hostile ones it equals
/// Pillow, where the C code's range table would wrap instead.
enum JPEGInverseDCT {
    // FIX(x) = round(x * 2^13), combined as the SIMD tables combine them.
    static let f0298: Int32 = 2446, f0390: Int32 = 3196, f0541: Int32 = 4433, f0765: Int32 = 6270
    static let f0899: Int32 = 7373, f1175: Int32 = 9633, f1501: Int32 = 12299, f1847: Int32 = 15137
    static let f1961: Int32 = 16069, f2053: Int32 = 16819, f2562: Int32 = 20995, f3072: Int32 = 25172

    /// One 8x8 block: `coefficients` in natural (row-major) order, `quant` likewise;
    /// `workspace` holds 64 Int16s; the samples go to `out`, rows `stride` bytes apart.
    @inline(__always)
    static func transform(_ coefficients: UnsafePointer<Int16>, _ quant: UnsafePointer<Int32>,
                          _ workspace: UnsafeMutablePointer<Int16>, _ out: UnsafeMutablePointer<UInt8>, _ stride: Int) {
        @inline(__always) func dq(_ i: Int) -> Int32 {
            Int32(Int16(truncatingIfNeeded: Int32(coefficients[i]) &* quant[i]))
        }
        var acRows = false
        for i in 8..<64 where coefficients[i] != 0 {
            acRows = true
            break
        }
        if !acRows && coefficients[1] == 0 && coefficients[2] == 0 && coefficients[3] == 0 && coefficients[4] == 0
            && coefficients[5] == 0 && coefficients[6] == 0 && coefficients[7] == 0 {
            // Only the DC: one value everywhere (what both passes below give).
            let v = sample((Int32(Int16(truncatingIfNeeded: dq(0) << 2)) &+ 16) >> 5)
            for r in 0..<8 { (out + r * stride).update(repeating: v, count: 8) }
            return
        }
        if !acRows {
            // Only row 0: each column is its DC shifted by 2 bits in a 16-bit lane.
            for c in 0..<8 {
                let v = Int16(truncatingIfNeeded: dq(c) << 2)
                for r in 0..<8 { workspace[r * 8 + c] = v }
            }
        } else {
            for c in 0..<8 {
                if coefficients[8 + c] == 0 && coefficients[16 + c] == 0 && coefficients[24 + c] == 0
                    && coefficients[32 + c] == 0 && coefficients[40 + c] == 0 && coefficients[48 + c] == 0
                    && coefficients[56 + c] == 0 {
                    // What the full transform gives for a DC-only column.
                    let v = saturate16(dq(c) << 2)
                    for r in 0..<8 { workspace[r * 8 + c] = v }
                    continue
                }
                var o = (Int32(0), Int32(0), Int32(0), Int32(0), Int32(0), Int32(0), Int32(0), Int32(0))
                butterfly(dq(c), dq(8 + c), dq(16 + c), dq(24 + c), dq(32 + c), dq(40 + c), dq(48 + c), dq(56 + c), &o)
                let bias: Int32 = 1 << 10
                workspace[c] = saturate16((o.0 &+ bias) >> 11)
                workspace[8 + c] = saturate16((o.1 &+ bias) >> 11)
                workspace[16 + c] = saturate16((o.2 &+ bias) >> 11)
                workspace[24 + c] = saturate16((o.3 &+ bias) >> 11)
                workspace[32 + c] = saturate16((o.4 &+ bias) >> 11)
                workspace[40 + c] = saturate16((o.5 &+ bias) >> 11)
                workspace[48 + c] = saturate16((o.6 &+ bias) >> 11)
                workspace[56 + c] = saturate16((o.7 &+ bias) >> 11)
            }
        }
        for r in 0..<8 {
            let w = workspace + r * 8
            let row = out + r * stride
            if w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0 && w[6] == 0 && w[7] == 0 {
                // Exactly the full transform's result for a DC-only row.
                let v = sample((Int32(w[0]) &+ 16) >> 5)
                for i in 0..<8 { row[i] = v }
                continue
            }
            var o = (Int32(0), Int32(0), Int32(0), Int32(0), Int32(0), Int32(0), Int32(0), Int32(0))
            butterfly(Int32(w[0]), Int32(w[1]), Int32(w[2]), Int32(w[3]), Int32(w[4]), Int32(w[5]), Int32(w[6]), Int32(w[7]), &o)
            let bias: Int32 = 1 << 17
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
    static func saturate16(_ v: Int32) -> Int16 { Int16(min(max(v, -32768), 32767)) }

    @inline(__always)
    static func wrap16(_ v: Int32) -> Int32 { Int32(Int16(truncatingIfNeeded: v)) }

    /// 16-bit saturation, then 8-bit saturation around 128 (vpackssdw, vpacksswb, +128).
    @inline(__always)
    static func sample(_ v: Int32) -> UInt8 { UInt8(truncatingIfNeeded: min(max(v, -128), 127) &+ 128) }

    /// The 1-D transform of eight 16-bit inputs, scaled by 2^13, in 32-bit lanes.
    @inline(__always)
    static func butterfly(_ c0: Int32, _ c1: Int32, _ c2: Int32, _ c3: Int32, _ c4: Int32, _ c5: Int32, _ c6: Int32, _ c7: Int32,
                          _ o: inout (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32)) {
        // Even part.
        let t3 = c2 &* (f0541 + f0765) &+ c6 &* f0541
        let t2 = c2 &* f0541 &+ c6 &* (f0541 - f1847)
        let t0 = wrap16(c0 &+ c4) << 13
        let t1 = wrap16(c0 &- c4) << 13
        let e10 = t0 &+ t3, e13 = t0 &- t3, e11 = t1 &+ t2, e12 = t1 &- t2
        // Odd part: z3 = c7 + c3 and z4 = c5 + c1 in 16 bits; the rest folded into constants.
        let z3 = wrap16(c7 &+ c3), z4 = wrap16(c5 &+ c1)
        let y3 = z3 &* (f1175 - f1961) &+ z4 &* f1175
        let y4 = z3 &* f1175 &+ z4 &* (f1175 - f0390)
        let a = c7 &* (f0298 - f0899) &+ c1 &* -f0899 &+ y3
        let b = c5 &* (f2053 - f2562) &+ c3 &* -f2562 &+ y4
        let d = c7 &* -f0899 &+ c1 &* (f1501 - f0899) &+ y4
        let c = c5 &* -f2562 &+ c3 &* (f3072 - f2562) &+ y3
        o = (e10 &+ d, e11 &+ c, e12 &+ b, e13 &+ a, e13 &- a, e12 &- b, e11 &- c, e10 &- d)
    }
}
