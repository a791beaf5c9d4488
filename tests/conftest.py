"""Shared helpers for the workbook's own tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.api import grade

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
DRILLS = ROOT / "drills"

pytest_plugins = ["pytester"]


def wait_for(ready: Callable[[], object], timeout: float = 20.0, what: str = "the condition") -> None:
    """Poll `ready` until it holds; fail the test (never hang) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def grade_source(tmp_path: Path):
    """Grade a drill given as source text; returns the JSON report as a dict."""
    def run(source: str, drill: str, **kwargs) -> dict:
        path = tmp_path / f"{drill}.py"
        path.write_text(source)
        return grade(path, **kwargs)
    return run
