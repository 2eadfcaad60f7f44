#!/usr/bin/env bash
# Checks that the x86_64 distance kernels emit the instructions they are written for.
#
# The AVX2 and AVX-512 kernels (engine/src/distance/x86.rs) are `#[target_feature]` functions
# with `std::arch` intrinsics; a wrong attribute, an inlining surprise or a lost feature would
# silently fall back to SSE and still pass every test. So this script builds the engine in
# release (the release profile keeps symbols: `debug = 1`), disassembles its rlib, finds the
# kernels by their demangled symbol names and requires:
#   * mnemodb::distance::x86::avx2::*   : `vfmadd...ps` on ymm registers and a `vmaskmovps` tail
#   * mnemodb::distance::x86::avx512::* : `vfmadd...ps` on zmm registers and a zmm load masked
#                                         by a k register (the tail)
#   * the 8-bit rows' kernels (distance/sq8.rs): `vfmadd...ps` on ymm / zmm for a query against
#     codes, `vpmaddwd` on ymm and `vpdpbusd` (AVX-512 VNNI) on zmm for two rows of codes
# It exits 1 with a message when a symbol or an instruction is missing, and prints one summary
# line when everything is there. Needs: cargo, objdump (GNU binutils), awk, grep.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail() {
    echo "check-simd-disasm: FAIL: $*" >&2
    exit 1
}

host=$(rustc -vV | sed -n 's/^host: //p')
case "$host" in
    x86_64-*) ;;
    *)
        # The x86 kernels are compiled only for x86_64 (cfg(target_arch)); nothing to check.
        echo "check-simd-disasm: SKIPPED: host $host is not x86_64, the AVX kernels are not built here"
        exit 0
        ;;
esac

command -v objdump >/dev/null || fail "objdump not found (install binutils)"

# Build and take the rlib path from cargo itself (respects CARGO_TARGET_DIR).
build_json=$(cargo build --release -p mnemodb --message-format=json-render-diagnostics) ||
    fail "cargo build --release -p mnemodb failed"
rlib=$(printf '%s\n' "$build_json" | grep '"reason":"compiler-artifact"' | grep '"name":"mnemodb"' |
    grep -o '"[^"]*/libmnemodb[^"/]*\.rlib"' | tr -d '"' | head -n 1 || true)
[[ -n "$rlib" && -f "$rlib" ]] || fail "could not find the mnemodb rlib in cargo's build output"

disasm=$(mktemp)
trap 'rm -f "$disasm"' EXIT
# One line per instruction, prefixed by the demangled name of the function that holds it.
objdump -d -C --no-show-raw-insn "$rlib" 2>/dev/null | awk '
    /^[0-9a-f]+ <.*>:$/ { fn = $0; sub(/^[0-9a-f]+ </, "", fn); sub(/>:$/, "", fn); next }
    /^$/ { fn = ""; next }
    fn != "" && /^ +[0-9a-f]+:\t/ { print fn "\t" $0 }
' >"$disasm"
[[ -s "$disasm" ]] || fail "objdump produced no disassembly for $rlib"

# check <label> <symbol prefix> <register> <tail regex> <tail description>
summary=()
check() {
    local label=$1 prefix=$2 reg=$3 tail_re=$4 tail_desc=$5
    local body fns fmas tails
    # The function name (first field) starts with the prefix: symbols may carry a suffix such
    # as `.llvm.123` after local LTO, and a `call` to a kernel elsewhere must not count.
    body=$(awk -F'\t' -v p="$prefix" 'index($1, p) == 1' "$disasm")
    [[ -n "$body" ]] || fail "$label: no function named ${prefix}* in $rlib (renamed, inlined away, or not compiled?)"
    grep -qE "^${prefix//./\\.}distances(\.[^[:space:]]*)?"$'\t' <<<"$body" ||
        fail "$label: entry point ${prefix}distances not found in $rlib"
    fns=$(cut -f1 <<<"$body" | sort -u | wc -l)
    fmas=$(grep -cE "vfmadd[0-9]{3}ps[[:space:]].*%${reg}[0-9]+" <<<"$body" || true)
    ((fmas > 0)) || fail "$label: no vfmadd...ps on ${reg} registers in ${prefix}* ($fns functions)"
    tails=$(grep -cE "$tail_re" <<<"$body" || true)
    ((tails > 0)) || fail "$label: no ${tail_desc} in ${prefix}*"
    summary+=("$label: $fmas vfmadd on $reg, $tails $tail_desc in $fns fn")
}

check avx2 "mnemodb::distance::x86::avx2::" ymm "vmaskmovps[[:space:]].*%ymm" "masked tail loads (vmaskmovps)"
check avx512 "mnemodb::distance::x86::avx512::" zmm "%zmm[0-9]+\{%k[1-7]\}" "k-masked zmm ops"

# require <label> <symbol prefix> <instruction regex> <description>: the 8-bit rows' kernels
# (engine/src/distance/sq8.rs), one function each.
require() {
    local label=$1 prefix=$2 re=$3 desc=$4 body count
    body=$(awk -F'\t' -v p="$prefix" 'index($1, p) == 1' "$disasm")
    [[ -n "$body" ]] || fail "$label: no function named ${prefix}* in $rlib"
    count=$(grep -cE "$re" <<<"$body" || true)
    ((count > 0)) || fail "$label: no ${desc} in ${prefix}*"
    summary+=("$label: $count $desc")
}

require sq8-avx2 "mnemodb::distance::sq8::x86::avx2_dot" "vfmadd[0-9]{3}ps[[:space:]].*%ymm" "vfmadd on ymm"
require sq8-avx2-pair "mnemodb::distance::sq8::x86::avx2_pair" "vpmaddwd[[:space:]].*%ymm" "vpmaddwd on ymm"
require sq8-avx512 "mnemodb::distance::sq8::x86::avx512_dot" "vfmadd[0-9]{3}ps[[:space:]].*%zmm" "vfmadd on zmm"
require sq8-vnni-pair "mnemodb::distance::sq8::x86::avx512_vnni_pair" "vpdpbusd[[:space:]].*%zmm" "vpdpbusd on zmm"

joined=$(printf '%s; ' "${summary[@]}")
echo "check-simd-disasm: ok: ${joined%; } ($(basename "$rlib"))"
