#!/usr/bin/env bash
# Fetches crewai's own memory tests for the pinned crewai (python/requirements-crewai.txt) from
# its source distribution on PyPI into python/tests/crewai/upstream/crewai_sdist/ (ignored by
# git: the repository holds only our code). python/tests/crewai/upstream/conftest.py routes
# them to mnemodb. Idempotent; called by scripts/pyenv.sh (needs the network the first time).
set -euo pipefail
cd "$(dirname "$0")/.."

pin=$(grep -E '^crewai==' python/requirements-crewai.txt)
dest=python/tests/crewai/upstream/crewai_sdist
# The suites that build a crewai Memory (routed to MnemoStorage) and the backend-level suite
# (written for Qdrant Edge, pointed at MnemoStorage by the conftest).
files=(__init__.py test_dimension_mismatch.py test_memory_root_scope.py test_unified_memory.py
    test_qdrant_edge_storage.py)
if [ "$(cat "$dest/.version" 2>/dev/null)" = "$pin" ]; then
    exit 0
fi
echo "scripts/fetch-crewai-tests.sh: fetching crewai's tests/memory from the $pin sdist"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python -m pip download --quiet --no-binary :all: --no-deps -d "$tmp" "$pin"
sdist=("$tmp"/crewai-*.tar.gz)
version=${pin#crewai==}
rm -rf "$dest"
mkdir -p "$dest"
tar -xzf "${sdist[0]}" -C "$dest" --strip-components=3 \
    "${files[@]/#/crewai-$version/tests/memory/}"
printf '%s\n' "$pin" >"$dest/.version"
