/// From decoded component planes to Pillow's RGB: libjpeg-turbo's upsampling with Pillow's
/// defaults ("fancy", i.e. triangle filters for 2:1 ratios, replication otherwise; jdsample.c),
/// its fixed-point colour conversion (jdcolor.c), then what Pillow's convert("RGB") does to
/// the mode it opened (L replicated, CMYK read as Adobe-inverted and multiplied out).
enum JPEGColorSpace {
    case gray, rgb, yCbCr, cmyk, ycck
}

/// One component's samples after the inverse DCT, and how it grows to the image size.
struct JPEGPlane {
    enum Method { case copy, fancyH2V1, fancyH1V2, fancyH2V2, replicate }

    let samples: UnsafeMutablePointer<UInt8>
    let stride: Int
    /// The component's real size (libjpeg's downsampled_width/height); samples past it are
    /// the encoder's padding and never used.
    let width: Int
    let height: Int
    let hRatio: Int
    let vRatio: Int

    var method: Method {
        switch (hRatio, vRatio) {
        case (1, 1): .copy
        case (2, 1): width > 2 ? .fancyH2V1 : .replicate
        case (1, 2): .fancyH1V2
        case (2, 2): width > 2 ? .fancyH2V2 : .replicate
        default: .replicate
        }
    }

    /// Output row `y` of this component at full size, `count` samples (at most the image
    /// width, which the upsampled row covers) into `out`; `sums` has room for `width` Ints and
    /// `scratch` for 2 * `width` bytes.
    func row(_ y: Int, into out: UnsafeMutablePointer<UInt8>, count: Int, sums: UnsafeMutablePointer<Int>,
             scratch: UnsafeMutablePointer<UInt8>) {
        switch method {
        case .copy:
            out.update(from: samples + y * stride, count: count)
        case .replicate:
            let s = samples + min(y / vRatio, height - 1) * stride
            if hRatio == 1 {
                out.update(from: s, count: count)
            } else {
                for x in 0..<count { out[x] = s[x / hRatio] }
            }
        case .fancyH2V1:
            // Each output sample is 3/4 of its nearer input plus 1/4 of the farther, with the
            // library's alternating +1/+2 bias; the two outermost samples are copies.
            let s = samples + y * stride
            let n = width
            do {
                let o = scratch
                o[0] = s[0]
                o[1] = UInt8(truncatingIfNeeded: (3 * Int(s[0]) + Int(s[1]) + 2) >> 2)
                for i in 1..<(n - 1) {
                    let here = 3 * Int(s[i])
                    o[2 * i] = UInt8(truncatingIfNeeded: (here + Int(s[i - 1]) + 1) >> 2)
                    o[2 * i + 1] = UInt8(truncatingIfNeeded: (here + Int(s[i + 1]) + 2) >> 2)
                }
                o[2 * n - 2] = UInt8(truncatingIfNeeded: (3 * Int(s[n - 1]) + Int(s[n - 2]) + 1) >> 2)
                o[2 * n - 1] = s[n - 1]
                out.update(from: o, count: count)
            }
        case .fancyH1V2:
            let (near, far, bias) = verticalPair(y)
            for x in 0..<count { out[x] = UInt8(truncatingIfNeeded: (3 * Int(near[x]) + Int(far[x]) + bias) >> 2) }
        case .fancyH2V2:
            // Column sums 3*nearer + farther row, unrounded, then the same triangle across
            // with biases +8 and +7.
            let (near, far, _) = verticalPair(y)
            let n = width
            for j in 0..<n { sums[j] = 3 * Int(near[j]) + Int(far[j]) }
            do {
                let o = scratch
                o[0] = UInt8(truncatingIfNeeded: (4 * sums[0] + 8) >> 4)
                o[1] = UInt8(truncatingIfNeeded: (3 * sums[0] + sums[1] + 7) >> 4)
                for j in 1..<(n - 1) {
                    let here = 3 * sums[j]
                    o[2 * j] = UInt8(truncatingIfNeeded: (here + sums[j - 1] + 8) >> 4)
                    o[2 * j + 1] = UInt8(truncatingIfNeeded: (here + sums[j + 1] + 7) >> 4)
                }
                o[2 * n - 2] = UInt8(truncatingIfNeeded: (3 * sums[n - 1] + sums[n - 2] + 8) >> 4)
                o[2 * n - 1] = UInt8(truncatingIfNeeded: (4 * sums[n - 1] + 7) >> 4)
                out.update(from: o, count: count)
            }
        }
    }

    /// For vertical 2:1: the input row nearer to output row y, the other neighbour (the edge
    /// row repeated past the top and bottom), and h1v2's bias (+1 upper, +2 lower).
    private func verticalPair(_ y: Int) -> (UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<UInt8>, Int) {
        let r = y >> 1
        if y & 1 == 0 {
            return (samples + r * stride, samples + max(r - 1, 0) * stride, 1)
        }
        return (samples + r * stride, samples + min(r + 1, height - 1) * stride, 2)
    }
}

enum JPEGColor {
    /// jdcolor.c's tables, x = c - 128: Cr->R and Cb->B rounded, the two G terms kept in
    /// 16-bit fixed point and rounded once, together.
    static let crToR: [Int] = (0..<256).map { (91881 * ($0 - 128) + 32768) >> 16 }
    static let cbToB: [Int] = (0..<256).map { (116130 * ($0 - 128) + 32768) >> 16 }
    static let crToG: [Int] = (0..<256).map { -46802 * ($0 - 128) }
    static let cbToG: [Int] = (0..<256).map { -22554 * ($0 - 128) + 32768 }

    @inline(__always)
    static func clamp(_ v: Int) -> UInt8 { UInt8(truncatingIfNeeded: min(max(v, 0), 255)) }

    /// Pillow's MULDIV255: a*b/255 rounded, in integers.
    @inline(__always)
    static func mulDiv255(_ a: Int, _ b: Int) -> Int {
        let t = a * b + 128
        return ((t >> 8) + t) >> 8
    }

    /// The whole image: each output row gathers its components' rows at full size, then
    /// converts them.
    static func rgb(planes: [JPEGPlane], space: JPEGColorSpace, width: Int, height: Int) -> [UInt8] {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let maxWidth = planes.map(\.width).max() ?? 1
        let rows = UnsafeMutablePointer<UInt8>.allocate(capacity: planes.count * width)
        let sums = UnsafeMutablePointer<Int>.allocate(capacity: maxWidth)
        let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: 2 * maxWidth)
        defer {
            rows.deallocate()
            sums.deallocate()
            scratch.deallocate()
        }
        crToR.withUnsafeBufferPointer { crR in
        cbToB.withUnsafeBufferPointer { cbB in
        crToG.withUnsafeBufferPointer { crG in
        cbToG.withUnsafeBufferPointer { cbG in
        pixels.withUnsafeMutableBufferPointer { outBuffer in
            guard let out = outBuffer.baseAddress else { return }
            for y in 0..<height {
                for (i, plane) in planes.enumerated() { plane.row(y, into: rows + i * width, count: width, sums: sums, scratch: scratch) }
                let o = out + y * width * 3
                let c0 = rows, c1 = rows + width, c2 = rows + 2 * width, c3 = rows + 3 * width
                switch space {
                case .gray:
                    for x in 0..<width {
                        let v = c0[x]
                        o[3 * x] = v
                        o[3 * x + 1] = v
                        o[3 * x + 2] = v
                    }
                case .rgb:
                    for x in 0..<width {
                        o[3 * x] = c0[x]
                        o[3 * x + 1] = c1[x]
                        o[3 * x + 2] = c2[x]
                    }
                case .yCbCr:
                    for x in 0..<width {
                        let yv = Int(c0[x]), cb = Int(c1[x]), cr = Int(c2[x])
                        o[3 * x] = clamp(yv + crR[cr])
                        o[3 * x + 1] = clamp(yv + ((cbG[cb] + crG[cr]) >> 16))
                        o[3 * x + 2] = clamp(yv + cbB[cb])
                    }
                case .cmyk, .ycck:
                    // Pillow opens 4-component JPEGs as Adobe's inverted CMYK ("CMYK;I"), so
                    // what it multiplies out is 255 - libjpeg's CMYK; for YCCK that is the
                    // RGB of the YCC part. convert("RGB"): K - K * c / 255 per channel.
                    for x in 0..<width {
                        let k = Int(c3[x])
                        var a = Int(c0[x]), b = Int(c1[x]), c = Int(c2[x])
                        if space == .ycck {
                            let yv = a, cb = b, cr = c
                            a = Int(clamp(yv + crR[cr]))
                            b = Int(clamp(yv + ((cbG[cb] + crG[cr]) >> 16)))
                            c = Int(clamp(yv + cbB[cb]))
                        } else {
                            a = 255 - a
                            b = 255 - b
                            c = 255 - c
                        }
                        o[3 * x] = clamp(k - mulDiv255(a, k))
                        o[3 * x + 1] = clamp(k - mulDiv255(b, k))
                        o[3 * x + 2] = clamp(k - mulDiv255(c, k))
                    }
                }
            }
        }
        }
        }
        }
        }
        return pixels
    }
}
