#!/usr/bin/env bash
# Runs a caption in --low-ram mode inside a memory cgroup (v1) capped at the language model's
# weight bytes plus 300 MB, the low-RAM goal; reports whether it finished and the peaks.
# Needs root and the cgroup v1 memory controller.
#   Tools/lowram_cgroup.sh MODEL.gguf IMAGE [EXTRA_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1 image=$2 extra_mb=${3:-300}
bin=.build/release/blip2-edge
[ -x "$bin" ] || swift build -c release --product blip2-edge >/dev/null
# Bytes of the language model's tensors (t.*), from the file's own tensor table.
lm=$(python3 - "$model" <<'PY'
import struct, sys
# GGUF tensor table: sum the byte sizes of tensors whose names start with "t." (no gguf needed).
f = open(sys.argv[1], "rb"); rd = lambda fmt: struct.unpack("<" + fmt, f.read(struct.calcsize(fmt)))
assert f.read(4) == b"GGUF"; rd("I"); nt, nk = rd("QQ")
def s(): (n,) = rd("Q"); return f.read(n)
def skip(t):
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    if t == 8: s()
    elif t == 9:
        et, n = rd("I")[0], rd("Q")[0]
        for _ in range(n): skip(et)
    else: f.read(sizes[t])
for _ in range(nk): s(); skip(rd("I")[0])
block = {0: (1, 4), 1: (1, 2), 2: (32, 18), 8: (32, 34)}
total = 0
for _ in range(nt):
    name = s().decode(); nd = rd("I")[0]; dims = rd("Q" * nd); t = rd("I")[0]; rd("Q")
    n = 1
    for d in dims: n *= d
    be, bb = block[t]
    if name.startswith("t."): total += n // be * bb
print(total)
PY
)
limit=$((lm + extra_mb * 1000 * 1000))
cg=/sys/fs/cgroup/memory/blip2-lowram-$$
mkdir "$cg"
trap 'rmdir "$cg" 2>/dev/null || true' EXIT
echo "$limit" > "$cg/memory.limit_in_bytes"
echo 0 > "$cg/memory.swappiness" 2>/dev/null || true
printf 'language model weights %.1f MB; cgroup limit %.1f MB (+%d MB)\n' "$(echo "$lm/1000000" | bc -l)" "$(echo "$limit/1000000" | bc -l)" "$extra_mb"
# Drop this file's cached pages first so the run starts cold and every page is charged here.
dd if="$model" iflag=nocache count=0 status=none 2>/dev/null || true
sh -c "echo \$\$ > $cg/cgroup.procs && exec $bin caption '$image' --model '$model' --greedy --max-tokens 20 --min-tokens 20 --low-ram --stats" \
  && status=0 || status=$?
printf 'exit %d; cgroup peak %.1f MB; failcnt %s\n' "$status" "$(echo "$(cat "$cg/memory.max_usage_in_bytes")/1000000" | bc -l)" "$(cat "$cg/memory.failcnt")"
exit "$status"
