#!/usr/bin/env bash
# Builds the CKernels sources with their C tests and runs them.
#   Tools/test-kernels.sh           host: -O2, then -O1 with AddressSanitizer + UBSan
#                                   (CC=clang Tools/test-kernels.sh: with clang, as SwiftPM)
#   Tools/test-kernels.sh aarch64   cross-compiles with aarch64-linux-gnu-gcc and runs under
#                                   qemu-aarch64 as a Cortex-A53 (NEON, no dot product) and as
#                                   "max" (NEON with dot product and I8MM), checking which variant
#                                   runs (and on a Cortex-A76: dot product without I8MM).
# Needs (Debian): gcc; for aarch64 also gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${CK_TEST_OUT:-$root/.build/ckernels-tests}"
mkdir -p "$out"
mapfile -t srcs < <(find "$root/CKernels/src" -name '*.c' | sort) # as SwiftPM: every .c below src
tests=(test_matmul test_ops)
cflags=(-std=c11 -Wall -Wextra -Werror -I"$root/CKernels/include")

build() { # build <cc> <dir> <flags...>
    local cc=$1 dir=$2; shift 2
    mkdir -p "$dir"
    for t in "${tests[@]}"; do
        "$cc" "${cflags[@]}" "$@" "${srcs[@]}" "$root/Tests/CKernelsC/$t.c" -o "$dir/$t" -lm -lpthread
    done
}

run_all() { # run_all <label> <runner...>: every test, its last line must say "0 failed"
    local label=$1; shift
    for t in "${tests[@]}"; do
        echo "== $label: $t"
        "$@" "$dir/$t" | tee "$out/$t.log" | grep -E '^(variants|FAIL)' || true
        tail -n 1 "$out/$t.log"
        tail -n 1 "$out/$t.log" | grep -qE '^[0-9]+ passed, 0 failed$'
    done
}

expect_variant() { # expect_variant <expected active> <runner...>
    local want=$1; shift
    local got
    got=$("$@" "$dir/test_matmul" | head -n 1)
    echo "   $got"
    echo "$got" | grep -q "active $want," || { echo "expected active variant $want"; exit 1; }
}

case "${1:-host}" in
host)
    hostcc="${CC:-cc}" # e.g. CC=clang, the compiler SwiftPM uses
    dir="$out/host-O2"; build "$hostcc" "$dir" -O2
    run_all "host -O2"
    dir="$out/host-asan"; build "$hostcc" "$dir" -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
    run_all "host asan+ubsan"
    if [ "$(uname -m)" = x86_64 ]; then
        dir="$out/host-O2"
        expect_variant ref env BLIP2_KERNELS=ref
    fi
    ;;
aarch64)
    cc=aarch64-linux-gnu-gcc
    command -v "$cc" >/dev/null && command -v qemu-aarch64 >/dev/null ||
        { echo "needs gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"; exit 1; }
    dir="$out/aarch64"; build "$cc" "$dir" -O2
    # SwiftPM builds the kernels with clang on ARM64 boards: compile them so too (no link,
    # no run), as the target attributes and NEON intrinsics differ between the compilers.
    if command -v clang >/dev/null; then
        for f in "${srcs[@]}"; do
            clang --target=aarch64-linux-gnu --sysroot=/usr/aarch64-linux-gnu "${cflags[@]}" -O2 -c "$f" -o /dev/null
        done
        echo "== clang --target=aarch64-linux-gnu: ${#srcs[@]} files compile"
    fi
    q=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
    run_all "qemu cortex-a53 (no dotprod)" "${q[@]}" -cpu cortex-a53
    expect_variant neon "${q[@]}" -cpu cortex-a53
    expect_variant neon env BLIP2_KERNELS=neondot "${q[@]}" -cpu cortex-a53 # cannot go higher
    expect_variant neon env BLIP2_KERNELS=neon_i8mm "${q[@]}" -cpu cortex-a53
    expect_variant neondot "${q[@]}" -cpu cortex-a76
    run_all "qemu max (dotprod, i8mm)" "${q[@]}" -cpu max
    expect_variant neon_i8mm "${q[@]}" -cpu max
    expect_variant neondot env BLIP2_KERNELS=neondot "${q[@]}" -cpu max
    expect_variant neon env BLIP2_KERNELS=neon "${q[@]}" -cpu max
    expect_variant ref env BLIP2_KERNELS=ref "${q[@]}" -cpu max
    ;;
*) echo "usage: $0 [host|aarch64]"; exit 2 ;;
esac
echo "all kernel tests passed"
