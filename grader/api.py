"""The grader's Python API: what the CLI, the notebooks and batch grading all call."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from grader import manifest
from grader.report import Report
from grader.engine.isolation import SandboxUnavailable, choose
from grader.engine.runner import Limits
from grader.engine.runner import grade as run_grade

if TYPE_CHECKING:  # only `--watch` and batch grade in a warm lane: a single grade never loads it
    from grader.engine.warm import WarmLane


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
                 extra_checks: list[Path] = (), isolation: str = "auto", warm: WarmLane | None = None) -> Report:
    """`isolation`: the sandbox for the learner's code (grader.engine.isolation), or "auto".
    `warm`: grade in this lane, kept warm from one grade to the next, with its sandbox and limits."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    name = resolve_drill(path, drill)
    if warm is not None:
        return warm.grade(path, name, extra_checks=list(extra_checks), shown_as=str(path))
    return run_grade(path, name, limits=limits, extra_checks=list(extra_checks), shown_as=str(path),
                     isolation=sandbox(isolation))


def sandbox(isolation: str = "auto") -> str:
    """The sandbox backend `isolation` names ("auto": the strongest here), or a UsageError."""
    try:
        return choose(isolation)
    except SandboxUnavailable as exc:
        raise UsageError(str(exc)) from None


def grade(path: str | Path, drill: str | None = None, **kwargs) -> dict:
    """Grade a drill file in a separate, limited process; return the JSON report as a dict."""
    return grade_report(path, drill, **kwargs).document()
