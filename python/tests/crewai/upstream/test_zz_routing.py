"""Runs after crewai's suites (file order): they must have run, and built their Memory on mnemodb."""

from pathlib import Path

from .conftest import ROUTED


def test_crewai_suites_ran_on_mnemodb() -> None:
    fetched = Path(__file__).parent / "crewai_sdist"
    assert fetched.is_dir(), "crewai's tests are missing: run scripts/fetch-crewai-tests.sh (scripts/pyenv.sh does)"
    print(f"crewai's suites built {len(ROUTED)} Memory stores on mnemodb")
    assert len(ROUTED) >= 60, len(ROUTED)
