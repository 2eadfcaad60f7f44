"""The native module's stub matches the module (mypy.stubtest), and the package type-checks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(os.path.dirname(HERE), "mnemodb")


def _mypy(*args: str) -> subprocess.CompletedProcess:
    pytest.importorskip("mypy")
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=os.path.dirname(HERE))


def test_native_stub_matches_module() -> None:
    r = _mypy("mypy.stubtest", "mnemodb._native")
    assert r.returncode == 0, r.stdout + r.stderr


def test_package_type_checks() -> None:
    r = _mypy("mypy", "--no-incremental", PACKAGE)
    assert r.returncode == 0, r.stdout + r.stderr


def test_typing_files_ship_with_the_package() -> None:
    assert os.path.exists(os.path.join(PACKAGE, "py.typed"))
    assert os.path.exists(os.path.join(PACKAGE, "_native.pyi"))
