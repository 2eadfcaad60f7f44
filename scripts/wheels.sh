#!/usr/bin/env bash
# Builds the portable Linux wheels for x86_64 and aarch64 (zig as the linker, glibc 2.17:
# manylinux2014) into target/wheels-portable/ and checks each one's tag with auditwheel. Not
# part of the test run (each target is a full release build); scripts/pyenv.sh builds and tests
# the host's wheel, and .github/workflows/release.yml builds every platform's.
#
# Needs .venv (scripts/pyenv.sh: maturin, ziglang, auditwheel) and the Rust targets
# (`rustup target add x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu`). Run one build at a
# time: two maturin builds sharing target/ can package each other's library.
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/wheels-portable
rm -rf "$out"
for target in x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu; do
    arch=${target%%-*}
    (cd python && VIRTUAL_ENV="$PWD/../.venv" PATH="$PWD/../.venv/bin:$PATH" \
        maturin build --release --zig --compatibility manylinux2014 --target "$target" --out "../$out")
    wheel=$(ls "$out"/mnemodb-*"$arch".whl)
    shown=$(.venv/bin/python -m auditwheel show "$wheel" | tr -s ' \n' ' ')
    if ! grep -q "consistent with the following platform tag: \"manylinux_2_17_$arch\"" <<<"$shown"; then
        echo "scripts/wheels.sh: $wheel is not manylinux_2_17_$arch: $shown" >&2
        exit 1
    fi
    echo "scripts/wheels.sh: $(basename "$wheel"): manylinux_2_17_$arch, $(du -k "$wheel" | cut -f1) KiB"
done
