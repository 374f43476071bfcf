#!/usr/bin/env bash
# Builds the kernel benchmark and runs it; arguments go to the benchmark (--quick, --threads N).
# Compiled as SwiftPM compiles CKernels in a release build: clang -O2 (the Swift toolchain's);
# GCC makes different code of the same kernels (the Q4_0x8 tiles ran 20-40% slower with it on
# Zen 3), so the figures would not be those of the library. CC=... to compare compilers.
# OpenBLAS is optional: apt-get install -y libopenblas0.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${CK_TEST_OUT:-$root/.build/ckernels-tests}"
mkdir -p "$out"
mapfile -t srcs < <(find "$root/CKernels/src" -name '*.c' | sort)
cc=${CC:-$(command -v clang || echo cc)}
"$cc" -std=c11 -O2 -Wall -Wextra -I"$root/CKernels/include" "${srcs[@]}" "$root/Tests/CKernelsC/bench_kernels.c" \
    -o "$out/bench_kernels" -lm -lpthread -ldl
exec "$out/bench_kernels" "$@"
