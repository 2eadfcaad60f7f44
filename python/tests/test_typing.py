"""The native module's stub matches the module (mypy.stubtest), and the package type-checks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any, Dict, List

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(os.path.dirname(HERE), "mnemodb")


def _mypy(*args: str, cwd: str = os.path.dirname(HERE)) -> subprocess.CompletedProcess:
    pytest.importorskip("mypy")
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=cwd)


def test_native_stub_matches_module(tmp_path: Any) -> None:
    # Run away from python/: there ``mnemodb`` would be the source directory, which holds no
    # native module when the package is installed from its wheel (as scripts/pyenv.sh does).
    r = _mypy("mypy.stubtest", "mnemodb._native", cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr


def test_package_type_checks() -> None:
    r = _mypy("mypy", "--no-incremental", PACKAGE)
    assert r.returncode == 0, r.stdout + r.stderr


def test_typing_files_ship_with_the_package() -> None:
    assert os.path.exists(os.path.join(PACKAGE, "py.typed"))
    assert os.path.exists(os.path.join(PACKAGE, "_native.pyi"))


CASES = os.path.join(HERE, "typing_cases")
_ERROR = re.compile(r"^[^:]+:(\d+): error: (.*)$")


def _errors(output: str) -> Dict[int, List[str]]:
    """mypy's errors by line number."""
    found: Dict[int, List[str]] = {}
    for line in output.splitlines():
        m = _ERROR.match(line)
        if m:
            found.setdefault(int(m.group(1)), []).append(m.group(2))
    return found


def test_chroma_program_type_checks_and_runs(tmp_path: Any) -> None:
    """A program using chromadb's usual imports (``from mnemodb import Documents, ...``,
    ``mnemodb.api.ClientAPI``, ``mnemodb.api.models.Collection``, ``mnemodb.api.types``)
    passes mypy and runs."""
    program = os.path.join(CASES, "chroma_program.py")
    r = _mypy("mypy", "--no-incremental", program)
    assert r.returncode == 0, r.stdout + r.stderr
    run = subprocess.run([sys.executable, program, str(tmp_path / "db")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["[['c']]", "apples 3"]  # only c is a ripe fruit


def test_chroma_program_type_checks_against_chromadb_too(tmp_path: Any) -> None:
    """The same program with ``chromadb`` in place of ``mnemodb`` type-checks against
    chromadb 1.5.9 but for the lines marked "chromadb rejects": mnemodb's types are not
    stricter than chromadb's on it."""
    pytest.importorskip("chromadb")
    with open(os.path.join(CASES, "chroma_program.py")) as f:
        source = f.read()
    swapped = re.sub(r"^import mnemodb$", "import chromadb as mnemodb", source, flags=re.M)
    swapped = re.sub(r"^from mnemodb", "from chromadb", swapped, flags=re.M)
    assert swapped.count("chromadb") > source.count("chromadb") + 3
    program = tmp_path / "chroma_program.py"
    program.write_text(swapped)
    r = _mypy("mypy", "--no-incremental", "--follow-imports=silent", str(program))
    rejected = {i for i, line in enumerate(source.splitlines(), 1) if "# chromadb rejects" in line}
    assert rejected and set(_errors(r.stdout)) == rejected, r.stdout


def test_mistakes_are_caught() -> None:
    """Misspelt names and attributes, wrong argument types and unknown result keys are mypy
    errors (no ``Any`` hides them): exactly the lines marked ``# E:``, with those messages."""
    path = os.path.join(CASES, "mistakes.py")
    with open(path) as f:
        expected = {i: line.split("# E: ", 1)[1].strip() for i, line in enumerate(f.read().splitlines(), 1) if "# E: " in line}
    r = _mypy("mypy", "--no-incremental", path)
    assert r.returncode == 1, r.stdout + r.stderr
    found = _errors(r.stdout)
    assert set(found) == set(expected), r.stdout
    for line, text in expected.items():
        assert any(text in message for message in found[line]), (line, text, found[line])
