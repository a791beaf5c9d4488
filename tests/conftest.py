"""Shared helpers for the workbook's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.api import grade

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
DRILLS = ROOT / "drills"

pytest_plugins = ["pytester"]


@pytest.fixture
def grade_source(tmp_path: Path):
    """Grade a drill given as source text; returns the JSON report as a dict."""
    def run(source: str, drill: str, **kwargs) -> dict:
        path = tmp_path / f"{drill}.py"
        path.write_text(source)
        return grade(path, **kwargs)
    return run
