#!/usr/bin/env bash
# Retrieval at full size (issue 14), side by side with transformers fp32 in the same run.
#   Tools/bench_retrieval.sh [WORKDIR]   (default /work/fullsize; needs ~12 GB free and ~25 min)
# Makes (once) the random-weight stand-in for Salesforce/blip2-itm-vit-g, its Q4_0/Q8_0/F32
# files and 100 test photographs (crops of scikit-image's sample photos, 640x480 PNG); then
#   1. stage times, blip2-edge (blip2-bench retrieval) and transformers (Tools/bench_retrieval.py)
#      alternated twice (A B A B) on one photograph, 2 threads, medians of 5 runs each;
#   2. a search of the 100 photographs: cold (empty index), warm, and warm with --rerank 0,
#      with wall time and peak resident memory (/usr/bin/time);
#   3. Q8_0's and Q4_0's rankings against F32's (blip2-bench ranking, 24 photos x 10 texts).
# The CPU is named at the top of the output; paste the figures into BENCHMARKS.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-/work/fullsize}"
py="$(bash "$root/Tools/ref_env.sh")"
cd "$root"
swift build -c release >/dev/null
bin=.build/release
ckpt="$work/blip2-itm-vit-g"
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F)"
[ -f "$ckpt/model.safetensors" ] || "$py" Tools/make_fullsize_checkpoint.py "$ckpt" --model itm
for t in q4_0 q8_0 f32; do [ -f "$work/itm.$t" ] || "$bin/blip2-quantize" "$ckpt" "$work/itm.$t" --type "$t" --quiet; done
photos="$work/photos100"
if [ ! -d "$photos" ]; then
  mkdir -p "$photos"
  "$py" - "$photos" <<'PY'
import sys
import numpy as np
from PIL import Image
from skimage import data
photos = []
for n in ["astronaut", "coffee", "chelsea", "rocket", "cat", "immunohistochemistry", "hubble_deep_field", "retina"]:
    a = getattr(data, n)()
    photos.append((np.stack([a] * 3, -1) if a.ndim == 2 else a)[..., :3])
rng = np.random.default_rng(0)
for i in range(100):
    p = photos[i % len(photos)]
    h, w = p.shape[:2]
    y, x = rng.integers(0, h // 4), rng.integers(0, w // 4)
    img = Image.fromarray(p[y:y + h * 3 // 4, x:x + w * 3 // 4]).resize((640, 480), Image.BICUBIC)
    if i % 3 == 1:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    img.save(f"{sys.argv[1]}/photo{i:03d}.png")
PY
fi
photo="$photos/photo000.png"

echo "== 1. stage times (A B A B)"
for round in 1 2; do
  for m in q4_0 q8_0; do "$bin/blip2-bench" retrieval --model "$work/itm.$m" "$photo" --runs 5 --threads 2; done
  "$py" Tools/bench_retrieval.py --checkpoint "$ckpt" --image "$photo" --runs 5 --threads 2 2>/dev/null
done

echo "== 2. search of 100 photographs (Q4_0, 2 threads)"
index="$(mktemp -d)/search.index"
for run in cold warm; do
  /usr/bin/time -f "search $run: %e s wall, peak resident %M KB" "$bin/blip2-edge" search "a cat on a sofa" "$photos" \
      -m "$work/itm.q4_0" --index "$index" --top 3 --stats --threads 2
done
/usr/bin/time -f "search warm, --rerank 0: %e s wall, peak resident %M KB" "$bin/blip2-edge" search "a cat on a sofa" "$photos" \
    -m "$work/itm.q4_0" --index "$index" --top 3 --stats --rerank 0 --threads 2
ls -l "$index"

echo "== 3. rankings of the quantized files against F32"
texts="$(mktemp)"
printf '%s\n' "a photo of a cat" "an astronaut in a white suit" "a cup of coffee on a table" "a rocket on the launch pad" \
  "a red bicycle" "a microscope image of tissue" "stars and galaxies in deep space" "a close-up of a human eye" \
  "two people walking on a beach" "a black and white photo" >"$texts"
for m in q8_0 q4_0; do
  # shellcheck disable=SC2046
  "$bin/blip2-bench" ranking --reference "$work/itm.f32" --candidate "$work/itm.$m" --texts "$texts" \
      $(ls "$photos"/*.png | head -24) --threads 2
done
