#!/usr/bin/env bash
# FlanT5 benchmark at full size (random-weight stand-in for Salesforce/blip2-flan-t5-xl), in one run:
#   convert    makes the bf16 checkpoint if absent (Tools/make_fullsize_checkpoint.py --model t5-xl),
#              then for each type times `cat CKPT/*.safetensors >/dev/null` and, right after, the
#              conversion under GNU time (wall, CPU, peak RSS), as Tools/bench_convert.sh does for OPT
#   bandwidth  the read bandwidth (Tools/bench-kernels.sh --quick: stream sum over 256 MiB, 1 and 2 threads)
#   e2e        Tools/bench_t5.py run: transformers fp32 against our Q4_0 and Q8_0 files, interleaved,
#              greedy with exactly TOKENS new tokens, medians of REPS; and our F16 file's greedy ids
#              against transformers' (the full-size check of our T5 path)
#   kl         blip2-bench quality: Q8_0 vs F16 and Q4_0 vs F16 (next-token KL, teacher-forced)
#   klsim      Tools/bench_t5.py kl-sim: the same KL simulated in transformers (weights and matmul
#              inputs rounded through ggml's Q8_0/Q4_0), over the F16 ids of the e2e part: tells
#              whether the KL comes from the random model or from our code (~5 min, 16 GB)
#   report     Tools/bench_t5.py report: the Markdown section for BENCHMARKS.md (printed)
#
# usage: Tools/bench_t5.sh [--parts LIST] [--results DIR] [--types "q4_0 q8_0 f16"]
#   --parts    a comma-separated subset of convert,bandwidth,e2e,kl,klsim,report (default: all)
#   --results  where raw outputs go (default /work/fullsize/bench-t5); parts not run are read
#              from what an earlier run left there
#   --types    output types for the convert part (default "q4_0 q8_0 f16")
# environment (defaults): CKPT=/work/fullsize/blip2-flan-t5-xl  OUTDIR=/work/fullsize  STEM=t5xl
#   MODEL=t5-xl (for making CKPT)  REPS=3  TOKENS=20  THREADS=2
#   IMAGE=Tests/Fixtures/images/photo-321x187.ppm  BLIP2_BENCH=.build/release/blip2-bench
# Every measurement runs while this script holds /tmp/blip2-build.lock (it takes the lock itself),
# so no build of the shared checkout runs at the same time; `uptime` is logged before each part.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BLIP2_LOCK_HELD:-}" ]; then
  exec env BLIP2_LOCK_HELD=1 flock /tmp/blip2-build.lock "$0" "$@"
fi

parts=convert,bandwidth,e2e,kl,klsim,report results=/work/fullsize/bench-t5 types="q4_0 q8_0 f16"
while [ $# -gt 0 ]; do
  case "$1" in
    --parts) parts=$2; shift ;;
    --results) results=$2; shift ;;
    --types) types=$2; shift ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
has_part() { case ",$parts," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

CKPT=${CKPT:-/work/fullsize/blip2-flan-t5-xl} OUTDIR=${OUTDIR:-/work/fullsize} STEM=${STEM:-t5xl}
MODEL=${MODEL:-t5-xl} REPS=${REPS:-3} TOKENS=${TOKENS:-20} THREADS=${THREADS:-2}
IMAGE=${IMAGE:-Tests/Fixtures/images/photo-321x187.ppm}
PY=${PY:-$(bash Tools/ref_env.sh)}
mkdir -p "$results"
log() { echo "bench_t5: $*" >&2; }
load() { echo "$(date '+%Y-%m-%d %H:%M:%S') $1: $(uptime | sed 's/.*load average/load average/')" >> "$results/load.txt"; }
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
cpu="$cpu, family $(lscpu | sed -n 's/^CPU family: *//p') model $(lscpu | sed -n 's/^Model: *//p')$(grep -qw avx512_vnni /proc/cpuinfo && echo ', AVX-512 VNNI')"
echo "$(nproc) cores ($cpu), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r)" > "$results/machine.txt"
file() { echo "$OUTDIR/$STEM.$1"; }

if has_part convert; then
  if [ ! -f "$CKPT/config.json" ]; then
    log "making $CKPT ($MODEL, bf16)"
    "$PY" Tools/make_fullsize_checkpoint.py "$CKPT" --model "$MODEL"
  fi
  [ -x .build/release/blip2-quantize ] || swift build -c release --product blip2-quantize >/dev/null
  insize=$(du -cb "$CKPT"/*.safetensors | tail -1 | cut -f1)
  {
    echo "input: $CKPT ($MODEL), $(awk -v b="$insize" 'BEGIN {printf "%.2f GB", b/1e9}') of safetensors"
    echo
    echo "| type | read input once (cat) | convert wall | ratio | CPU user+sys | peak RSS | output | bits/weight |"
    echo "|---|---|---|---|---|---|---|---|"
  } > "$results/convert-$STEM.md"
  for t in $types; do
    load "convert $STEM $t"
    out=$(file "$t")
    rm -f "$out"
    s=$(date +%s.%N); cat "$CKPT"/*.safetensors >/dev/null; e=$(date +%s.%N)
    cat_s=$(echo "$e - $s" | bc -l)
    tlog="$results/convert-$STEM-$t.time"
    summary=$(/usr/bin/time -v -o "$tlog" .build/release/blip2-quantize "$CKPT" "$out" --type "$t")
    echo "$summary" > "$results/convert-$STEM-$t.txt"
    bpw=$(echo "$summary" | sed -n 's/.*(\([0-9.]*\) bits\/weight).*/\1/p')
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$tlog")
    cpus=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u+s}' "$tlog")
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f MiB", $2/1024}' "$tlog")
    size=$(stat -c %s "$out")
    printf "| %s | %.2f s | %.2f s | %.2fx | %.1f s | %s | %.2f GB | %s |\n" "$t" "$cat_s" "$wall" \
      "$(echo "$wall / $cat_s" | bc -l)" "$cpus" "$rss" "$(echo "$size / 1000000000" | bc -l)" "$bpw" \
      >> "$results/convert-$STEM.md"
    log "$(tail -1 "$results/convert-$STEM.md")"
  done
fi

if has_part bandwidth; then
  load bandwidth
  CK_TEST_OUT="$results/ckernels" bash Tools/bench-kernels.sh --quick > "$results/kernels.md"
  grep 'read bandwidth' "$results/kernels.md" | tee "$results/bandwidth.txt" >&2
fi

if has_part e2e; then
  load e2e
  for t in q4_0 q8_0 f16; do "$PY" Tools/bench_t5.py bytes "$(file "$t")" > "$results/bytes-$t.json"; done
  "$PY" Tools/bench_t5.py run --checkpoint "$CKPT" --q4 "$(file q4_0)" --q8 "$(file q8_0)" --f16 "$(file f16)" \
    --image "$IMAGE" --tokens "$TOKENS" --reps "$REPS" --threads "$THREADS" --out "$results/e2e.json"
  load "e2e end"
fi

if has_part kl; then
  load kl
  for t in q8_0 q4_0; do
    "${BLIP2_BENCH:-.build/release/blip2-bench}" quality --reference "$(file f16)" --candidate "$(file "$t")" "$IMAGE" \
      --tokens "$TOKENS" --threads "$THREADS" > "$results/kl-$t.txt" 2> "$results/kl-$t.err" \
      || log "blip2-bench quality $t failed (exit $?): $(tail -3 "$results/kl-$t.err")"
    cat "$results/kl-$t.txt" >&2
  done
fi

if has_part klsim; then
  load klsim
  ids=$("$PY" -c "import json, sys; print(','.join(map(str, json.load(open(sys.argv[1]))['f16_check']['ids'])))" "$results/e2e.json")
  "$PY" Tools/bench_t5.py kl-sim --checkpoint "$CKPT" --image "$IMAGE" --ids "$ids" --threads "$THREADS" \
    --out "$results/kl-sim.json"
fi

if has_part report; then
  "$PY" Tools/bench_t5.py report --results "$results"
fi
