"""The learner's side of a grade: a loaded module, and telling its failures from ours."""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

class LearnerError(Exception):
    """The learner's code failed in a way a learner can act on; `str()` says how."""


def learner_frame(exc: BaseException, path: Path) -> str:
    """'drills/upload.py, line 12, in upload' for the innermost frame in the learner's file."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    if not frames:
        return ""
    f = frames[-1]
    return f"{path.name}, line {f.lineno}, in {f.name}"


def explain(exc: BaseException, path: Path) -> str:
    """One sentence about an exception raised by the learner's code."""
    if getattr(exc, "__docchat_learner__", False) and hasattr(exc, "type_name"):
        return str(exc)  # said by the app host, where the learner's frames are
    if isinstance(exc, SystemExit):
        what = f"called sys.exit({exc.code!r})" if exc.code is not None else "called sys.exit()"
    elif isinstance(exc, MemoryError):
        cap = os.environ.get("DOCCHAT_MEMORY_MB")
        what = (f"used more than {cap} MiB of memory (MemoryError)" if cap
                else "ran out of memory (MemoryError)")
    elif isinstance(exc, KeyboardInterrupt):
        what = "raised KeyboardInterrupt"
    else:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        what = f"raised {type(exc).__name__}" + (f": {message}" if message else "")
    where = learner_frame(exc, path)
    return what + (f" ({where})" if where else "")


def import_error(exc: BaseException, path: Path) -> str:
    """Why a module could not be imported, in a sentence a learner understands."""
    if isinstance(exc, SyntaxError) and Path(exc.filename or "") == path:
        line = (exc.text or "").rstrip("\n")
        shown = f": {line.strip()}" if line.strip() else ""
        return f"{path.name} has a syntax error on line {exc.lineno} ({exc.msg}){shown}"
    if isinstance(exc, ModuleNotFoundError):
        return (f"{path.name} imports the module '{exc.name}', which is not installed "
                f"(or is misspelled)")
    if isinstance(exc, ImportError):
        return f"{path.name} could not import a name: {exc}"
    return f"importing {path.name} {explain(exc, path)}"


@dataclass
class Learner:
    """One fresh import of the learner's module, in its own app host, with the grader's seams.

    `module` is a grader.engine.remote.Remote reference to the module; `app` the proxy ASGI
    app (attribute access goes on to the learner's FastAPI object); `originals` the seams'
    values before the grader replaced them, by reference.
    """

    path: Path
    host: Any
    module: Any
    app: Any
    originals: dict = field(default_factory=dict)
    imported: list[str] = field(default_factory=list)  # watched functions that ran on import

    def swap(self, seams: dict[str, Any]) -> dict[str, Any]:
        """Put more seams in place after the import; return what each name held before."""
        return self.host.call("swap", seams=seams)

    @property
    def bypassed(self) -> list[str]:
        """Seams the learner's code reached through a copy of the original (an app host fact)."""
        return self.host.bypassed()


def is_learners(exc: BaseException) -> bool:
    return isinstance(exc, LearnerError) or getattr(exc, "__docchat_learner__", False)
