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
    """`path` as the learner would type it from here: relative when it is below the cwd."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return os.fspath(path)
