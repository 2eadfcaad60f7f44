#!/usr/bin/env bash
# One command for the peer comparison: venv with the pinned peers, mnemodb's Python package
# when the repo has one, the data set, then run.py (arguments pass through).
#
#   benches/peers/run.sh --quick                          # synthetic-20k, every store, < 5 min
#   benches/peers/run.sh --set synthetic-100k             # every store, ~15-25 min
#   benches/peers/run.sh --set real-50k --stores mnemodb,hnswlib,chromadb
#
# Environment: MNEMODB_WHEEL=path.whl installs that wheel instead of building python/;
# PEERS_NO_MNEMODB=1 skips mnemodb's install (run.py then skips it if it is not importable);
# PEERS_THREADS (default 2) pins every library's thread count.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$here/.venv-peers"
py="$venv/bin/python"
log() { echo "run.sh: $*" >&2; }

# 1. The peers, pinned in requirements.txt; reinstalled when that file changes.
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$py" || "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]]; then
    log "creating $venv (once; ~1 GB)"
    python3 -m venv "$venv"
    "$py" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt"
    echo "$want" > "$venv/.requirements.sha256"
fi

# 2. mnemodb through its Python API: a given wheel, or python/ built by pip (maturin), rebuilt
#    when engine/ or python/ changed since the last build.
if [[ -z "${PEERS_NO_MNEMODB:-}" ]]; then
    if [[ -n "${MNEMODB_WHEEL:-}" ]]; then
        "$py" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps \
            "$MNEMODB_WHEEL" || log "could not install $MNEMODB_WHEEL: mnemodb will be skipped"
    elif [[ -f "$repo/python/pyproject.toml" ]]; then
        rev="$(git -C "$repo" log -1 --format=%H -- engine python 2>/dev/null || echo none)"
        dirty="$(git -C "$repo" status --porcelain -- engine python 2>/dev/null | sha256sum)"
        if [[ "$(cat "$venv/.mnemodb.rev" 2>/dev/null)" != "$rev $dirty" ]]; then
            log "building mnemodb's Python package from python/ (release; a few minutes)"
            if nice -n 10 "$py" -m pip install -q --disable-pip-version-check "$repo/python"; then
                echo "$rev $dirty" > "$venv/.mnemodb.rev"
            else
                log "building python/ failed: mnemodb will be skipped"
            fi
        fi
    else
        log "no python/pyproject.toml in this checkout: mnemodb will be skipped"
    fi
fi

# 3. The data set (bench-data/make.py makes it once, in its own venv).
set_name="synthetic-100k"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[$i]}" in
        --quick) set_name="synthetic-20k" ;;
        --set) set_name="${args[$((i + 1))]}" ;;
        --set=*) set_name="${args[$i]#--set=}" ;;
    esac
done
for ((i = 0; i < ${#args[@]}; i++)); do  # an explicit --set wins over --quick's default
    case "${args[$i]}" in
        --set) set_name="${args[$((i + 1))]}" ;;
        --set=*) set_name="${args[$i]#--set=}" ;;
    esac
done
if [[ ! -f "$repo/bench-data/out/$set_name/manifest.json" ]]; then
    log "making bench-data set $set_name"
    python3 "$repo/bench-data/make.py" --set "$set_name"
fi

# 4. The run.
exec "$py" "$here/run.py" "$@"
