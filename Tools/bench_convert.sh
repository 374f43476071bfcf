#!/usr/bin/env bash
# Conversion benchmark at full size: makes the random-weight blip2-opt-2.7b checkpoint (if
# absent), then for each output type measures, right after one another, the time to read
# the input once (`cat IN/*.safetensors >/dev/null`) and the conversion's wall time, CPU time
# and peak resident memory (GNU time). Prints a Markdown table for BENCHMARKS.md.
#
# usage: Tools/bench_convert.sh [CHECKPOINT_DIR] [OUT_DIR] [TYPES...]
#   defaults: /work/fullsize/blip2-opt-2.7b-random, /work/fullsize/out, q4_0 q8_0 f16
set -euo pipefail
cd "$(dirname "$0")/.."
ckpt=${1:-/work/fullsize/blip2-opt-2.7b-random}
outdir=${2:-/work/fullsize/out}
shift $(( $# > 2 ? 2 : $# )) || true
types=("$@")
[ ${#types[@]} -eq 0 ] && types=(q4_0 q8_0 f16)

if [ ! -f "$ckpt/model.safetensors.index.json" ]; then
  py=$(bash Tools/ref_env.sh)
  "$py" Tools/make_fullsize_checkpoint.py "$ckpt"
fi
swift build -c release --product blip2-quantize >/dev/null
mkdir -p "$outdir"
insize=$(du -cb "$ckpt"/*.safetensors | tail -1 | cut -f1)

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "input: $ckpt, $(awk -v b="$insize" 'BEGIN {printf "%.2f GB", b/1e9}')"
echo
echo "| type | read input once (cat) | convert wall | ratio | CPU user+sys | peak RSS | output | bits/weight |"
echo "|---|---|---|---|---|---|---|---|"
for t in "${types[@]}"; do
  out="$outdir/blip2-opt-2.7b.$t.gguf"
  rm -f "$out"
  s=$(date +%s.%N); cat "$ckpt"/*.safetensors >/dev/null; e=$(date +%s.%N)
  cat_s=$(echo "$e - $s" | bc -l)
  log=$(mktemp)
  summary=$(/usr/bin/time -v .build/release/blip2-quantize "$ckpt" "$out" --type "$t" 2>"$log")
  bpw=$(echo "$summary" | sed -n 's/.*(\([0-9.]*\) bits\/weight).*/\1/p')
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$log")
  cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u+s}' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f MiB", $2/1024}' "$log")
  size=$(stat -c %s "$out")
  printf "| %s | %.2f s | %.2f s | %.2fx | %.1f s | %s | %.2f GB | %s |\n" "$t" "$cat_s" "$wall" "$(echo "$wall / $cat_s" | bc -l)" "$cpu" "$rss" "$(echo "$size / 1000000000" | bc -l)" "$bpw"
  rm -f "$log"
done
