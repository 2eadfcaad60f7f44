"""mnemodb never requires mem0: ``import mnemodb`` (and ``mnemodb.integrations``) leaves it
unimported, and the integration says what to install when mem0 is missing."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_mnemodb_does_not_import_mem0():
    r = _run(
        "import sys, mnemodb, mnemodb.integrations\n"
        "c = mnemodb.EphemeralClient()\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'mem0'], 'mem0 imported'\n"
    )
    assert r.returncode == 0, r.stderr


def test_without_mem0_the_error_names_the_package():
    r = _run("import sys\nsys.modules['mem0'] = None\nimport mnemodb.integrations.mem0\n")
    assert r.returncode != 0
    assert "ImportError: mnemodb.integrations.mem0 needs mem0: pip install mem0ai" in r.stderr
