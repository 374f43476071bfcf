#!/usr/bin/env bash
# Builds the kernel benchmark (-O2, host compiler) and runs it; arguments go to the benchmark
# (--quick, --threads N). OpenBLAS is optional: apt-get install -y libopenblas0.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${CK_TEST_OUT:-$root/.build/ckernels-tests}"
mkdir -p "$out"
mapfile -t srcs < <(find "$root/CKernels/src" -name '*.c' | sort)
cc -std=c11 -O2 -Wall -Wextra -I"$root/CKernels/include" "${srcs[@]}" "$root/Tests/CKernelsC/bench_kernels.c" \
    -o "$out/bench_kernels" -lm -lpthread -ldl
exec "$out/bench_kernels" "$@"
