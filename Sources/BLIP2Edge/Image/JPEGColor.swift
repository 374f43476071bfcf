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

    /// Output row `y` of this component at full size: at least `count` samples (the image
    /// width, which the upsampled row covers), in the plane itself or in `out`, which has
    /// room for max(`count`, 2 * `width`) bytes.
    func row(_ y: Int, into out: UnsafeMutablePointer<UInt8>, count: Int) -> UnsafePointer<UInt8> {
        switch method {
        case .copy:
            return UnsafePointer(samples + y * stride)
        case .replicate:
            let s = samples + min(y / vRatio, height - 1) * stride
            if hRatio == 1 { return UnsafePointer(s) }
            for x in 0..<count { out[x] = s[x / hRatio] }
        case .fancyH2V1:
            // Each output sample is 3/4 of its nearer input plus 1/4 of the farther, with the
            // library's alternating +1/+2 bias; the two outermost samples are copies.
            let s = samples + y * stride
            let n = width
            let o = out
            o[0] = s[0]
            o[1] = UInt8(truncatingIfNeeded: (3 * Int(s[0]) + Int(s[1]) + 2) >> 2)
            for i in 1..<(n - 1) {
                let here = 3 * Int(s[i])
                o[2 * i] = UInt8(truncatingIfNeeded: (here + Int(s[i - 1]) + 1) >> 2)
                o[2 * i + 1] = UInt8(truncatingIfNeeded: (here + Int(s[i + 1]) + 2) >> 2)
            }
            o[2 * n - 2] = UInt8(truncatingIfNeeded: (3 * Int(s[n - 1]) + Int(s[n - 2]) + 1) >> 2)
            o[2 * n - 1] = s[n - 1]
        case .fancyH1V2:
            let (near, far, bias) = verticalPair(y)
            for x in 0..<count { out[x] = UInt8(truncatingIfNeeded: (3 * Int(near[x]) + Int(far[x]) + bias) >> 2) }
        case .fancyH2V2:
            // Column sums 3*nearer + farther row, unrounded, then the same triangle across
            // with biases +8 and +7 (three sums in flight, none stored).
            let (near, far, _) = verticalPair(y)
            let n = width
            let o = out
            @inline(__always) func column(_ j: Int) -> Int32 { 3 * Int32(near[j]) + Int32(far[j]) }
            var previous = column(0), here = previous, next = column(1)
            o[0] = UInt8(truncatingIfNeeded: (4 * here + 8) >> 4)
            o[1] = UInt8(truncatingIfNeeded: (3 * here + next + 7) >> 4)
            for j in 1..<(n - 1) {
                previous = here
                here = next
                next = column(j + 1)
                o[2 * j] = UInt8(truncatingIfNeeded: (3 * here + previous + 8) >> 4)
                o[2 * j + 1] = UInt8(truncatingIfNeeded: (3 * here + next + 7) >> 4)
            }
            o[2 * n - 2] = UInt8(truncatingIfNeeded: (3 * next + here + 8) >> 4)
            o[2 * n - 1] = UInt8(truncatingIfNeeded: (4 * next + 7) >> 4)
        }
        return UnsafePointer(out)
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
        let rowCapacity = max(width, 2 * maxWidth)
        let rows = UnsafeMutablePointer<UInt8>.allocate(capacity: planes.count * rowCapacity)
        defer { rows.deallocate() }
        let empty = UnsafePointer(rows)
        pixels.withUnsafeMutableBufferPointer { outBuffer in
            guard let out = outBuffer.baseAddress else { return }
            for y in 0..<height {
                var c: (UnsafePointer<UInt8>, UnsafePointer<UInt8>, UnsafePointer<UInt8>, UnsafePointer<UInt8>) = (empty, empty, empty, empty)
                for (i, plane) in planes.enumerated() {
                    let r = plane.row(y, into: rows + i * rowCapacity, count: width)
                    switch i {
                    case 0: c.0 = r
                    case 1: c.1 = r
                    case 2: c.2 = r
                    default: c.3 = r
                    }
                }
                convert(space, c, out + y * width * 3, width)
            }
        }
        return pixels
    }

    /// One row of samples to RGB. YCbCr uses jdcolor.c's fixed-point terms, x = c - 128:
    /// R = Y + (91881x_r + 2^15) >> 16, B = Y + (116130x_b + 2^15) >> 16,
    /// G = Y + (-22554x_b - 46802x_r + 2^15) >> 16 (the library tabulates the same values).
    @inline(__always)
    static func convert(_ space: JPEGColorSpace, _ c: (UnsafePointer<UInt8>, UnsafePointer<UInt8>, UnsafePointer<UInt8>, UnsafePointer<UInt8>),
                        _ o: UnsafeMutablePointer<UInt8>, _ width: Int) {
        @inline(__always) func ycc(_ y: Int32, _ cb: Int32, _ cr: Int32) -> (UInt8, UInt8, UInt8) {
            let xb = cb - 128, xr = cr - 128
            return (clamp32(y + ((91881 * xr + 32768) >> 16)),
                    clamp32(y + ((-22554 * xb - 46802 * xr + 32768) >> 16)),
                    clamp32(y + ((116130 * xb + 32768) >> 16)))
        }
        switch space {
        case .gray:
            for x in 0..<width {
                let v = c.0[x]
                o[3 * x] = v
                o[3 * x + 1] = v
                o[3 * x + 2] = v
            }
        case .rgb:
            for x in 0..<width {
                o[3 * x] = c.0[x]
                o[3 * x + 1] = c.1[x]
                o[3 * x + 2] = c.2[x]
            }
        case .yCbCr:
            for x in 0..<width {
                let (r, g, b) = ycc(Int32(c.0[x]), Int32(c.1[x]), Int32(c.2[x]))
                o[3 * x] = r
                o[3 * x + 1] = g
                o[3 * x + 2] = b
            }
        case .cmyk, .ycck:
            // Pillow opens 4-component JPEGs as Adobe's inverted CMYK ("CMYK;I"), so what it
            // multiplies out is 255 - libjpeg's CMYK; for YCCK that is the RGB of the YCC
            // part. convert("RGB"): K - K * c / 255 per channel.
            for x in 0..<width {
                let k = Int(c.3[x])
                var a = 255 - Int(c.0[x]), b = 255 - Int(c.1[x]), d = 255 - Int(c.2[x])
                if space == .ycck {
                    let (r, g, bl) = ycc(Int32(c.0[x]), Int32(c.1[x]), Int32(c.2[x]))
                    (a, b, d) = (Int(r), Int(g), Int(bl))
                }
                o[3 * x] = clamp(k - mulDiv255(a, k))
                o[3 * x + 1] = clamp(k - mulDiv255(b, k))
                o[3 * x + 2] = clamp(k - mulDiv255(d, k))
            }
        }
    }

    @inline(__always)
    static func clamp32(_ v: Int32) -> UInt8 { UInt8(truncatingIfNeeded: min(max(v, 0), 255)) }
}
