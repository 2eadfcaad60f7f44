#!/usr/bin/env bash
# Sets up and runs every test of the project. The one command the README gives for tests,
# and what .ci/run calls.
#
# Builds first (this may download crates), then runs the tests with the network cut off
# (a private network namespace, when the machine allows one), so no test can reach out.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
    echo "scripts/test.sh: cargo not found; install Rust (https://rustup.rs) first" >&2
    exit 1
fi

cargo test --workspace --no-run --quiet

run_offline() {
    if unshare --net true 2>/dev/null; then
        echo "scripts/test.sh: running tests with the network blocked (unshare --net)"
        unshare --net -- "$@"
    else
        echo "scripts/test.sh: cannot make a network namespace here; tests run offline by cargo only"
        "$@"
    fi
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
run_offline cargo test --workspace --offline 2>&1 | tee "$log" || status=$?

# One closing line for the whole run (cargo prints one `test result:` line per test binary,
# the last of which is often a crate with no doc-tests).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;/) p += $(i-1); if ($i ~ /^failed;/) f += $(i-1); if ($i ~ /^ignored;/) g += $(i-1) } }
     END { printf "ignored (child-process entry points run by other tests, generators run by hand): %d\n", g;
           printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
