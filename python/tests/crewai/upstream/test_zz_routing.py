"""Runs after the copied suites (file order): they must have built their Memory on mnemodb."""

from .conftest import ROUTED


def test_copied_suites_ran_on_mnemodb() -> None:
    print(f"copied suites built {len(ROUTED)} Memory stores on mnemodb")
    assert len(ROUTED) >= 60, len(ROUTED)
