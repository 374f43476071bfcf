#!/usr/bin/env bash
# JPEG decoding speed against Pillow: makes 4000x3000 JPEGs with Pillow (scikit-image's
# astronaut upscaled, with noise; quality 90; 4:2:0, 4:4:4 and progressive 4:2:0), compiles
# the JPEG reader with -O together with a small driver (.build-bench/), and prints for each
# file the median of 5 decodes by us (JPEGReader.read, checked equal to Pillow's RGB) and by
# Pillow (`Image.open(p).convert("RGB")`), measured one after the other.
#   Tools/bench_jpeg.sh [OUT_DIR]     (default .build-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.build-bench}
mkdir -p "$out"
py=${PY:-$(bash Tools/ref_env.sh)}
"$py" - "$out" <<'PYEOF'
import sys
import numpy as np
from PIL import Image
from skimage import data
out = sys.argv[1]
src = np.asarray(Image.fromarray(data.astronaut()).resize((4000, 3000), Image.BICUBIC)).astype(np.int16)
noisy = (src + np.random.default_rng(0).integers(-6, 7, src.shape)).clip(0, 255).astype(np.uint8)
for name, kw in (("420", {}), ("444", {"subsampling": 0}), ("420-progressive", {"progressive": True})):
    Image.fromarray(noisy).save(f"{out}/big-{name}.jpg", quality=90, **kw)
    np.asarray(Image.open(f"{out}/big-{name}.jpg").convert("RGB")).tofile(f"{out}/big-{name}.rgb")
PYEOF
cat > "$out/bench_jpeg_main.swift" <<'SWIFT'
import Foundation
@main struct Bench {
    static func main() throws {
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: CommandLine.arguments[1])))
        let want = [UInt8](try Data(contentsOf: URL(fileURLWithPath: CommandLine.arguments[2])))
        var times: [Double] = []
        for _ in 0..<5 {
            let t = Date()
            let image = try JPEGReader.read(data)
            times.append(Date().timeIntervalSince(t))
            guard image.pixels == want else { fatalError("the RGB differs from Pillow's") }
        }
        print(String(format: "%.0f", times.sorted()[2] * 1000))
    }
}
SWIFT
swiftc -O -wmo -module-name BLIP2Edge Sources/BLIP2Edge/Image/JPEG*.swift Sources/BLIP2Edge/Image/RGBImage.swift \
    "$out/bench_jpeg_main.swift" -o "$out/bench-jpeg"
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
echo "| file (4000x3000, q90) | bytes | ours (median of 5) | Pillow 13.0.0 (median of 5) | ratio |"
echo "|---|---|---|---|---|"
for name in 420 444 420-progressive; do
    f="$out/big-$name.jpg"
    ours=$("$out/bench-jpeg" "$f" "$out/big-$name.rgb")
    pil=$("$py" -c "
import sys, time
from PIL import Image
ts = []
for _ in range(5):
    t = time.perf_counter(); Image.open(sys.argv[1]).convert('RGB'); ts.append(time.perf_counter() - t)
print(round(sorted(ts)[2] * 1000))" "$f")
    echo "| $name | $(stat -c %s "$f") | $ours ms | $pil ms | $(awk -v a="$ours" -v b="$pil" 'BEGIN {printf "%.2f", a / b}') |"
done
