/// Pillow's bicubic resize of an 8-bit image (Resample.c), reproduced operation for
/// operation so the result is identical: filter weights in double, normalized, turned into
/// 22-bit fixed point; one pass per axis through an 8-bit intermediate; each output rounded
/// by adding half and shifting, clipped to 0...255.
/// This is what transformers' PIL-based image processors (and LAVIS) do to every image.
enum BicubicResize {
    static let precisionBits = 32 - 8 - 2
    static let support = 2.0

    static func filter(_ t: Double) -> Double {
        let a = -0.5
        let x = abs(t)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    /// Per output position: first input index, count, and fixed-point weights.
    struct Coefficients {
        let kernelSize: Int
        var bounds: [(start: Int, count: Int)]
        var weights: [Int32]   // outSize x kernelSize
    }

    static func coefficients(inSize: Int, outSize: Int) -> Coefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = Self.support * filterScale
        let kernelSize = Int(support.rounded(.up)) * 2 + 1
        var bounds: [(Int, Int)] = []
        bounds.reserveCapacity(outSize)
        var weights = [Int32](repeating: 0, count: outSize * kernelSize)
        var k = [Double](repeating: 0, count: kernelSize)
        let ss = 1 / filterScale
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let xmin = max(Int(center - support + 0.5), 0)
            let xmax = min(Int(center + support + 0.5), inSize) - xmin
            var ww = 0.0
            for x in 0..<xmax {
                let w = filter((Double(x + xmin) - center + 0.5) * ss)
                k[x] = w
                ww += w
            }
            for x in 0..<kernelSize {
                var v = x < xmax ? k[x] : 0
                if x < xmax && ww != 0 { v /= ww }
                let fixed = v * Double(1 << precisionBits)
                weights[xx * kernelSize + x] = Int32(v < 0 ? Int(-0.5 + fixed) : Int(0.5 + fixed))
            }
            bounds.append((xmin, xmax))
        }
        return Coefficients(kernelSize: kernelSize, bounds: bounds, weights: weights)
    }

    @inline(__always)
    static func clip8(_ v: Int32) -> UInt8 {
        let shifted = v >> Int32(precisionBits)
        return shifted < 0 ? 0 : shifted > 255 ? 255 : UInt8(shifted)
    }

    /// Pillow 13 resizes vertically first when the height shrinks by more than twice as
    /// many pixels as the width (a speed choice that changes the rounding of the 8-bit
    /// intermediate); found by comparing both orders with Pillow over random sizes.
    static func verticalFirst(from image: RGBImage, width: Int, height: Int) -> Bool {
        height < image.height && image.height - height > 2 * (image.width - width)
    }

    static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        let needHorizontal = image.width != width
        let needVertical = image.height != height
        if !needHorizontal && !needVertical { return image }
        if needHorizontal && needVertical && verticalFirst(from: image, width: width, height: height) {
            return horizontal(vertical(image, height: height), width: width)
        }
        var out = image
        if needHorizontal { out = horizontal(out, width: width) }
        if needVertical { out = vertical(out, height: height) }
        return out
    }

    /// One pass along rows (Pillow computes only the rows the vertical pass reads; the
    /// others are never used, so computing all of them changes nothing).
    static func horizontal(_ image: RGBImage, width: Int) -> RGBImage {
        let c = coefficients(inSize: image.width, outSize: width)
        let half = Int32(1) << Int32(precisionBits - 1)
        var out = [UInt8](repeating: 0, count: width * image.height * 3)
        image.pixels.withUnsafeBufferPointer { src in
            for y in 0..<image.height {
                let row = src.baseAddress! + y * image.width * 3
                for xx in 0..<width {
                    let (start, count) = c.bounds[xx]
                    var s0 = half, s1 = half, s2 = half
                    for x in 0..<count {
                        let w = c.weights[xx * c.kernelSize + x]
                        let p = row + (start + x) * 3
                        s0 &+= Int32(p[0]) &* w
                        s1 &+= Int32(p[1]) &* w
                        s2 &+= Int32(p[2]) &* w
                    }
                    let o = (y * width + xx) * 3
                    out[o] = clip8(s0)
                    out[o + 1] = clip8(s1)
                    out[o + 2] = clip8(s2)
                }
            }
        }
        return RGBImage(unchecked: width, image.height, out)
    }

    /// One pass along columns.
    static func vertical(_ image: RGBImage, height: Int) -> RGBImage {
        let c = coefficients(inSize: image.height, outSize: height)
        let half = Int32(1) << Int32(precisionBits - 1)
        let width = image.width
        var out = [UInt8](repeating: 0, count: width * height * 3)
        image.pixels.withUnsafeBufferPointer { src in
            for yy in 0..<height {
                let (start, count) = c.bounds[yy]
                for xx in 0..<width {
                    var s0 = half, s1 = half, s2 = half
                    for y in 0..<count {
                        let w = c.weights[yy * c.kernelSize + y]
                        let p = src.baseAddress! + ((start + y) * width + xx) * 3
                        s0 &+= Int32(p[0]) &* w
                        s1 &+= Int32(p[1]) &* w
                        s2 &+= Int32(p[2]) &* w
                    }
                    let o = (yy * width + xx) * 3
                    out[o] = clip8(s0)
                    out[o + 1] = clip8(s1)
                    out[o + 2] = clip8(s2)
                }
            }
        }
        return RGBImage(unchecked: width, height, out)
    }
}
