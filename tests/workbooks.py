"""Throwaway learner workbooks for the learner-loop tests: a folder with drills/ and pyproject.toml."""

from __future__ import annotations

from pathlib import Path

from grader import manifest
from grader.report import CheckResult, Report
from tests.conftest import DRILLS, SOLUTIONS


def make_workbook(root: Path, **drills: str) -> Path:
    """A workbook at `root` whose drills/ holds `drills` (name -> source)."""
    (root / "drills").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "my-docchat-workbook"\n')
    for name, source in drills.items():
        (root / "drills" / f"{name}.py").write_text(source)
    return root


def skeleton(drill: str = "upload") -> str:
    return (DRILLS / f"{drill}.py").read_text()


def solution(drill: str = "upload") -> str:
    return (SOLUTIONS / f"{drill}.py").read_text()


def made_up_report(drill: manifest.Drill, target: str, failing: set[str] = frozenset(),
                   error: str | None = None) -> Report:
    """A report on `drill` in which every check passes except those in `failing`."""
    return Report(drill.name, target, error=error, checks=[
        CheckResult(c.id, c.level, c.title, "failed" if c.id in failing else "passed", "", c.hint, 0.1)
        for c in drill.checks])
