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

run_offline cargo test --workspace --offline
