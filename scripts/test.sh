#!/usr/bin/env bash
# Sets up and runs every test of the project. The one command the README gives for tests,
# and what .ci/run calls.
#
# Setup first, with the network: builds the Rust tests (this may download crates) and makes
# the Python environment (`scripts/pyenv.sh`: .venv with the pinned test requirements, the
# real chromadb among them, and mnemodb built into it). Then every test runs with the network
# cut off (a private network namespace, when the machine allows one), so no test can reach
# out: the Rust tests, then the Python tests (`python/tests`, and `tests/`, which drive the
# wheel's `mnemodb` server through chromadb's own HttpClient on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
    echo "scripts/test.sh: cargo not found; install Rust (https://rustup.rs) first" >&2
    exit 1
fi

cargo test --workspace --no-run --quiet
./scripts/pyenv.sh

run_offline() {
    if unshare --net true 2>/dev/null; then
        # A new namespace has its loopback down; the server tests need it up.
        unshare --net -- sh -c 'ip link set lo up 2>/dev/null || true; exec "$@"' sh "$@"
    else
        "$@"
    fi
}
if unshare --net true 2>/dev/null; then
    echo "scripts/test.sh: running tests with the network blocked (unshare --net)"
else
    echo "scripts/test.sh: cannot make a network namespace here; tests run offline by cargo only"
fi

log=$(mktemp)
pylog=$(mktemp)
trap 'rm -f "$log" "$pylog"' EXIT
status=0
run_offline cargo test --workspace --offline 2>&1 | tee "$log" || status=$?

# The server under test is the wheel's `mnemodb` console script (pyenv.sh installed the release
# wheel): the program users install, and no second release build of the server.
# Two pytest runs: each directory has its own conftest.py network guard (python/tests blocks
# every socket; tests/ allows loopback, where it starts the server).
for dir in python/tests tests; do
    MNEMODB_BIN="$PWD/.venv/bin/mnemodb" run_offline .venv/bin/python -m pytest -q \
        -p no:cacheprovider "$dir" 2>&1 | tee -a "$pylog" || status=$?
done

# One closing line for the whole run: cargo prints one `test result:` line per test binary,
# pytest one summary line.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;/) p += $(i-1); if ($i ~ /^failed;/) f += $(i-1); if ($i ~ /^ignored;/) g += $(i-1) } }
     END { printf "%d %d %d\n", p, f, g }' "$log" >"$log.sum"
read -r rust_passed rust_failed rust_ignored <"$log.sum"
rm -f "$log.sum"
py_summary=$(grep -E '^=*[ ]*[0-9]+ (passed|failed|error|skipped).* in [0-9.]+s' "$pylog" || true)
count() { echo "$py_summary" | { grep -oE "[0-9]+ $1" || true; } | awk '{ s += $1 } END { print s + 0 }'; }
py_passed=$(count passed)
py_failed=$(( $(count failed) + $(count error) ))
py_skipped=$(count skipped)
echo "rust: $rust_passed passed, $rust_failed failed, $rust_ignored ignored (child-process entry points run by other tests, generators run by hand)"
echo "python: $py_passed passed, $py_failed failed, $py_skipped skipped"
echo "tests: $((rust_passed + py_passed)) passed, $((rust_failed + py_failed)) failed"
exit "$status"
