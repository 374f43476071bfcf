#!/usr/bin/env bash
# Interleaved A/B of two blip2-edge binaries on one model file: the same caption (greedy, a fixed
# number of tokens) with each in turn, ROUNDS times in ABBA order, and each stage's median per
# binary with the ratio B/A. Interleaving puts both under the same host drift, which on shared
# machines moves more than most code changes do; ABBA, because the second of a pair ran slower.
#   Tools/bench_ab.sh A_BINARY B_BINARY MODEL IMAGE [ROUNDS=5] [TOKENS=20] [THREADS=2]
# BEAMS=N in the environment: beam search with N beams instead of greedy (decodePerToken is then
# the cost of one step of all beams). MODEL_B=FILE: B runs on FILE instead of MODEL (one binary as A
# and B then compares two files, e.g. a layout against the default).
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
a=$1 b=$2 model=$3 image=$4 rounds=${5:-5} tokens=${6:-20} threads=${7:-2}
model_b=${MODEL_B:-$model}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
search="--greedy"; [ -n "${BEAMS:-}" ] && search="--beams $BEAMS"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $rounds rounds, $tokens tokens, $threads threads, $search"
for r in $(seq "$rounds"); do
  order="a b"; [ $((r % 2)) -eq 0 ] && order="b a"   # ABBA: neither binary always runs second
  for side in $order; do
    bin=$a file=$model; [ "$side" = b ] && bin=$b file=$model_b
    "$bin" caption "$image" --model "$file" $search --max-tokens "$tokens" --min-tokens "$tokens" \
      --threads "$threads" --json --stats 2>/dev/null | head -n 1 >> "$out/$side.jsonl"
  done
done
python3 - "$out/a.jsonl" "$out/b.jsonl" <<'PY'
import json, statistics, sys
runs = [[json.loads(l) for l in open(p)] for p in sys.argv[1:3]]
same = all(x["tokens"] == y["tokens"] for x, y in zip(*runs))
print(f"{'stage':<16}{'A median':>12}{'B median':>12}{'B/A':>8}")
for key in ["vision", "qformer", "prefill", "decodePerToken", "total"]:
    m = [statistics.median(r["stats"]["timings"][key] for r in side) for side in runs]
    if m[0] > 0:
        print(f"{key:<16}{m[0]*1e3:>10.1f}ms{m[1]*1e3:>10.1f}ms{m[1]/m[0]:>8.3f}")
print("peak resident MiB: A %.0f, B %.0f" % tuple(statistics.median(r["stats"]["peakResidentBytes"] for r in side) / 2**20 for side in runs))
print("same tokens in every run:", same)
PY
