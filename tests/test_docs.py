"""The user documentation keeps up with the code: every environment variable the shipped code
reads is in docs/configuration.md, and every relative link of README.md and docs/ resolves."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ["engine/src", "server/src", "python/src", "python/mnemodb"]
# Reads of the environment: Rust's std::env::var / var_os, clap's `env = "..."`, Python's
# os.environ.get / os.environ[...] / os.getenv.
READS = re.compile(
    r'env::var(?:_os)?\(\s*"([A-Z][A-Z0-9_]*)"'
    r'|\benv\s*=\s*"([A-Z][A-Z0-9_]*)"'
    r'|os\.environ(?:\.get)?[\(\[]\s*"([A-Z][A-Z0-9_]*)"'
    r'|os\.getenv\(\s*"([A-Z][A-Z0-9_]*)"'
    r'|EnvFilter::try_from_default_env'
)


def _variables_read() -> set:
    found = set()
    for d in SHIPPED:
        for f in (ROOT / d).rglob("*"):
            parts = f.relative_to(ROOT).parts
            # Test code (a `tests/` directory or a `tests.rs` module) is not what users run.
            if f.suffix not in (".rs", ".py") or "tests" in parts or f.name == "tests.rs":
                continue
            for m in READS.finditer(f.read_text()):
                names = [g for g in m.groups() if g]
                found.update(names or ["RUST_LOG"])  # try_from_default_env reads RUST_LOG
    return found


def test_every_environment_variable_read_is_documented() -> None:
    read = _variables_read()
    # The scan finds what it should: the ones known to be read are among them.
    assert {"MNEMODB_SIMD", "MNEMODB_TOKEN", "RUST_LOG", "ALLOW_RESET"} <= read, read
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)`", (ROOT / "docs" / "configuration.md").read_text(), re.M))
    assert read - documented == set(), f"read by the code, missing from docs/configuration.md: {sorted(read - documented)}"


def test_relative_links_resolve() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            if not (page.parent / target.split("#", 1)[0]).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []
