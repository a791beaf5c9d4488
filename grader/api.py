"""The grader's Python API: what the CLI, the notebooks and batch grading all call."""

from __future__ import annotations

from pathlib import Path

from grader import manifest
from grader.report import Report
from grader.engine.isolation import SandboxUnavailable, choose
from grader.engine.runner import Limits
from grader.engine.runner import grade as run_grade


class UsageError(Exception):
    """The request to grade cannot be carried out as asked (exit code 2)."""


def resolve_drill(path: Path, drill: str | None = None) -> str:
    """The drill to grade `path` against: `--drill`, or the file's name."""
    known = manifest.load().names
    name = drill or path.stem
    if name not in known:
        if drill:
            raise UsageError(f"unknown drill '{drill}': choose one of {', '.join(known)}")
        raise UsageError(f"can't tell which drill {path.name} is: name the file after its drill "
                         f"({', '.join(n + '.py' for n in known)}) or pass --drill NAME")
    return name


def grade_report(path: str | Path, drill: str | None = None, *, limits: Limits = Limits(),
                 extra_checks: list[Path] = (), isolation: str = "auto") -> Report:
    """`isolation`: the sandbox for the learner's code (grader.engine.isolation), or "auto"."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    try:
        backend = choose(isolation)
    except SandboxUnavailable as exc:
        raise UsageError(str(exc)) from None
    return run_grade(path, resolve_drill(path, drill), limits=limits,
                     extra_checks=list(extra_checks), shown_as=str(path), isolation=backend)


def grade(path: str | Path, drill: str | None = None, **kwargs) -> dict:
    """Grade a drill file in a separate, limited process; return the JSON report as a dict."""
    return grade_report(path, drill, **kwargs).document()
