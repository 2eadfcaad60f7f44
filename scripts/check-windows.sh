#!/usr/bin/env bash
# Type-checks the engine, the server and the Python module for Windows (x86_64-pc-windows-gnu)
# from Linux, with zig (from .venv, scripts/pyenv.sh) as the C compiler for SQLite. Not part of
# the test run: it needs the Windows standard library (`rustup target add
# x86_64-pc-windows-gnu`), and it proves the code compiles there, not that it works there
# (docs/install.md says what is untested). .github/workflows/release.yml builds the real
# Windows wheel with MSVC.
set -euo pipefail
cd "$(dirname "$0")/.."

shims=$(mktemp -d)
trap 'rm -rf "$shims"' EXIT
python=$PWD/.venv/bin/python
# cc passes clang's --target=...; zig takes its own -target instead.
cat >"$shims/cc" <<SH
#!/usr/bin/env bash
args=()
for a in "\$@"; do case "\$a" in --target=*) ;; *) args+=("\$a") ;; esac; done
exec "$python" -m ziglang cc -target x86_64-windows-gnu "\${args[@]}"
SH
printf '#!/bin/sh\nexec "%s" -m ziglang ar "$@"\n' "$python" >"$shims/ar"
chmod +x "$shims/cc" "$shims/ar"

CC_x86_64_pc_windows_gnu=$shims/cc AR_x86_64_pc_windows_gnu=$shims/ar PYO3_CROSS_PYTHON_VERSION=3.11 \
    cargo check --target x86_64-pc-windows-gnu -p mnemodb -p mnemodb-server -p mnemodb-python
echo "scripts/check-windows.sh: the engine, the server and the Python module compile for Windows"
