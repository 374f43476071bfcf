#!/usr/bin/env bash
# Builds the libFuzzer targets (Tests/Fuzz/targets) with AddressSanitizer and runs each for a
# given time, starting from the committed seed corpora (Tests/Fuzz/corpus/<target>); new
# inputs go to .build-fuzz/corpus, crashes to .build-fuzz/crashes. Exits non-zero if any
# target crashes.
#   Tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s, all targets)
#   Tools/fuzz.sh --build-only
# Targets: gguf safetensors json pnm jpeg tokenizer args http
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out="$root/.build-fuzz"
all=(gguf safetensors json pnm jpeg tokenizer args http)
build_only=0
secs=60
if [ "${1:-}" = --build-only ]; then build_only=1; shift; elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then secs=$1; shift; fi
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

mkdir -p "$out/obj" "$out/module" "$out/lib" "$out/corpus" "$out/crashes"
san=(-sanitize=fuzzer,address)
csan=(-fsanitize=fuzzer-no-link,address)

echo "== building the library with coverage and ASan"
objs=()
while read -r c; do
    rel=${c#CKernels/src/}
    o="$out/obj/${rel//\//_}.o" # ref/ops.c -> ref_ops.c.o: ops.c is another file
    clang -std=c11 -O1 -g "${csan[@]}" -I CKernels/include -c "$c" -o "$o"
    objs+=("$o")
done < <(find CKernels/src -name '*.c' | sort)
cat > "$out/module/module.modulemap" <<MAP
module CKernels {
    umbrella header "$root/CKernels/include/CKernels.h"
    export *
}
MAP
swiftc_common=(-O -g "${san[@]}" -parse-as-library -Xcc -fmodule-map-file="$out/module/module.modulemap"
               -Xcc -I"$root/CKernels/include" -I "$out/lib")
# BLIP2System (files, threads, JSON) under the library, instrumented like it.
mapfile -t system_sources < <(find Sources/BLIP2System -name '*.swift' | sort)
swiftc "${swiftc_common[@]}" -module-name BLIP2System -emit-module -emit-module-path "$out/lib/BLIP2System.swiftmodule" \
    -emit-library -static -o "$out/lib/libBLIP2System.a" "${system_sources[@]}"
mapfile -t lib_sources < <(find Sources/BLIP2Edge -name '*.swift' | sort)
swiftc "${swiftc_common[@]}" -enable-testing -module-name BLIP2Edge -emit-module -emit-module-path "$out/lib/BLIP2Edge.swiftmodule" \
    -emit-library -static -o "$out/lib/libBLIP2Edge.a" "${lib_sources[@]}"

# The args target compiles blip2-edge's Options.swift, which imports the executables' shared parser.
cli_sources=(Sources/BLIP2CommandLine/*.swift)
swiftc "${swiftc_common[@]}" -module-name BLIP2CommandLine -emit-module -emit-module-path "$out/lib/BLIP2CommandLine.swiftmodule" \
    -emit-library -static -o "$out/lib/libBLIP2CommandLine.a" "${cli_sources[@]}"

for t in "${targets[@]}"; do
    extra=()
    [ "$t" = args ] && extra=(Sources/blip2-edge/Options.swift "$out/lib/libBLIP2CommandLine.a")
    # The http target compiles the server's connection code: request heads, body framing
    # (sized and chunked), limits, error responses, streaming, multipart forms.
    [ "$t" = http ] && extra=(Sources/blip2-edge/Server/{HTTPConnection,HTTPRequest,HTTPError,HTTPResponse,Socket,Multipart}.swift)
    echo "== building fuzz-$t"
    swiftc "${swiftc_common[@]}" -module-name "Fuzz_${t}" Tests/Fuzz/targets/FuzzSupport.swift "Tests/Fuzz/targets/$t.swift" \
        "${extra[@]}" "$out/lib/libBLIP2Edge.a" "$out/lib/libBLIP2System.a" "${objs[@]}" -o "$out/fuzz-$t" 2> >(grep -v "Cannot export local symbol" >&2)
done
[ $build_only = 1 ] && exit 0

status=0
# A Swift runtime failure (a trap) must reach libFuzzer as a crash, not wait on the backtracer.
export SWIFT_BACKTRACE=enable=no
export FUZZ_SCRATCH="${TMPDIR:-/tmp}" FUZZ_VOCABULARY="$root/Tests/Fixtures/gpt2-sized-tokenizer" \
       FUZZ_WORDPIECE="$root/Tests/Fixtures/tiny-itm-a" FUZZ_UNIGRAM="$root/Tests/Fixtures/t5-tokenizer"
for t in "${targets[@]}"; do
    mkdir -p "$out/corpus/$t" "$out/crashes/$t"
    dict=()
    [ -f "Tests/Fuzz/$t.dict" ] && dict=(-dict="Tests/Fuzz/$t.dict")
    echo "== fuzz-$t for ${secs}s"
    if ! "$out/fuzz-$t" "$out/corpus/$t" "Tests/Fuzz/corpus/$t" "${dict[@]}" -max_total_time="$secs" -max_len=65536 \
            -rss_limit_mb=4096 -timeout=20 -artifact_prefix="$out/crashes/$t/" -print_final_stats=1 2>"$out/$t.log"; then
        echo "fuzz-$t FAILED: see $out/$t.log and $out/crashes/$t/"
        tail -n 30 "$out/$t.log"
        status=1
    else
        grep -E "^(stat::number_of_executed_units|Done)" "$out/$t.log" | tr '\n' ' '
        echo
    fi
done
exit $status
