#!/usr/bin/env bash
# Runs chromadb 1.5.9's own test files (shipped in its wheel) over HTTP against `mnemodb serve`,
# the way chroma tests its own server (CHROMA_INTEGRATION_TEST_ONLY). By hand, not in CI: the
# property suites take minutes.
#
#   python3 -m venv /tmp/suitevenv
#   /tmp/suitevenv/bin/pip install -r tests/requirements-http.txt "hypothesis[numpy]==6.112.2" \
#       "pytest-asyncio<1.0" psutil "fastapi>=0.115.9" "opentelemetry-instrumentation-fastapi>=0.41b0" pandas
#   cargo build -p mnemodb-server
#   PYTHON=/tmp/suitevenv/bin/python server/scripts/chroma-suite.sh property/test_embeddings.py test_api.py
#
# Each file's closing pytest line is printed; logs are left in $OUT (default: a temp dir).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
BIN=$(realpath "${MNEMODB_BIN:-target/debug/mnemodb}")
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
SP=$("$PYTHON" -c 'import chromadb, os; print(os.path.dirname(os.path.dirname(chromadb.__file__)))')
[ $# -gt 0 ] || set -- property/test_collections.py property/test_add.py property/test_embeddings.py \
    property/test_filtering.py property/test_collections_with_database_tenant.py test_api.py \
    api/test_collection.py api/test_limit_offset.py api/test_list_databases.py
"$BIN" serve --path "$OUT/data" --port 0 --allow-reset > "$OUT/server.out" 2> "$OUT/server.err" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q listening "$OUT/server.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$OUT/server.out")
for f in "$@"; do
    log="$OUT/$(echo "$f" | tr / _).log"
    # From $OUT: the suite leaves .hypothesis/ and certificate files in its working directory.
    (cd "$OUT" && ANONYMIZED_TELEMETRY=False CHROMA_HYPOTHESIS_CI_REPRODUCE_ONLY=1 \
        CHROMA_INTEGRATION_TEST_ONLY=1 CHROMA_SERVER_HOST=127.0.0.1 CHROMA_SERVER_HTTP_PORT="$port" \
        "$PYTHON" -m pytest -p no:cacheprovider --rootdir="$SP" --import-mode=importlib -q \
        -W ignore::DeprecationWarning "$SP/chromadb/test/$f" > "$log" 2>&1) || true
    echo "$f: $(tail -1 "$log")"
done
echo "logs: $OUT"
