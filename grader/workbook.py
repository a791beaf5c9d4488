"""Where the learner's workbook is: the folder that holds `drills/` and `pyproject.toml`."""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR = ".docchat"  # small learner-side state (hint counts); never progress


class NoWorkbook(Exception):
    """No workbook here, or `--workbook` names a folder that is not one."""


def is_workbook(folder: Path) -> bool:
    return (folder / "drills").is_dir() and (folder / "pyproject.toml").is_file()


def find(explicit: str | Path | None = None, start: Path | None = None) -> Path:
    """`--workbook DIR` if given, else the nearest folder at or above `start` (the cwd) that is one."""
    if explicit is not None:
        folder = Path(explicit).resolve()
        if not is_workbook(folder):
            raise NoWorkbook(f"{explicit} is not a workbook: it needs a drills/ folder and a pyproject.toml")
        return folder
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if is_workbook(folder):
            return folder
    raise NoWorkbook("no workbook here: run this inside your workbook (the folder with drills/ and "
                     "pyproject.toml, or any folder below it), or pass --workbook DIR")


def drill_file(root: Path, drill: str) -> Path:
    return root / "drills" / f"{drill}.py"


def shown(path: Path) -> str:
    """`path` as the learner would type it from here: relative to the cwd when it is below the
    cwd or in the same workbook (`../notebooks/01_uploads.ipynb` from drills/), else absolute."""
    path, here = Path(path).resolve(), Path.cwd().resolve()
    try:
        root = find(start=here)
    except NoWorkbook:
        root = here
    if path.is_relative_to(here) or path.is_relative_to(root):
        return os.path.relpath(path, here)
    return os.fspath(path)


def lesson(drill: str, near: Path | None = None) -> str:
    """The lesson notebook of `drill`, shown from the cwd, in the workbook at or above `near` (or the cwd)."""
    from grader import manifest

    relative = manifest.load().drill(drill).lesson
    try:
        root = find(start=Path(near).resolve().parent if near else None)
    except NoWorkbook:
        return relative
    return shown(root / relative)


def suggestion(given: Path) -> str | None:
    """What the learner meant by a path that is not a drill file: a lesson notebook, or a typo
    of a drill file's name (`upload`, `drills/uploads.py`); None when nothing fits."""
    import difflib

    from grader import manifest

    drills = {d.name: d for d in manifest.load().drills}
    try:
        root = find(start=given.resolve().parent)
    except NoWorkbook:
        root = None

    def drill_shown(name: str) -> str:
        return shown(drill_file(root, name)) if root else f"drills/{name}.py"

    if given.suffix == ".ipynb":
        drill = next((d for d in drills.values() if Path(d.lesson).name == given.name), None)
        practice = f"; its drill is {drill_shown(drill.name)}" if drill else ""
        return f"{given} is a lesson, not a drill: open it in Jupyter and run its cells{practice}"
    close = difflib.get_close_matches(given.stem, list(drills), n=1, cutoff=0.6)
    if given.is_file() or not close:
        return None
    for candidate in (given.parent / f"{close[0]}.py", given.parent / "drills" / f"{close[0]}.py"):
        if candidate.is_file():
            return f"no such file: {given}; did you mean {candidate}?"
    return f"no such file: {given}; did you mean {drill_shown(close[0])}?"
