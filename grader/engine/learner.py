"""Loading the learner's module, swapping its seams, and telling its failures from ours."""

from __future__ import annotations

import importlib.util
import inspect
import itertools
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

_counter = itertools.count()


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
    """One fresh import of the learner's module, with the grader's seams in place."""

    path: Path
    module: ModuleType
    bypassed: list[str] = field(default_factory=list)

    @property
    def app(self) -> Any:
        return self.module.app


def load(path: Path) -> ModuleType:
    """Execute the file as a brand-new module (never cached, so every check starts fresh)."""
    name = f"docchat_learner_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic and dataclasses look their module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(name, None)
        raise LearnerError(import_error(exc, path)) from exc
    return module


def check_app(module: ModuleType, path: Path) -> Any:
    from fastapi import FastAPI

    app = getattr(module, "app", None)
    if app is None:
        raise LearnerError(f"{path.name} defines no module-level `app`: add `app = FastAPI()`")
    if not isinstance(app, FastAPI):
        raise LearnerError(
            f"`app` in {path.name} is a {type(app).__name__}, not a FastAPI application "
            "(it should be `app = FastAPI(...)`)")
    return app


def swap_seams(learner: Learner, seams: dict[str, Any]) -> None:
    """Replace module globals with the grader's fakes, and booby-trap the originals.

    A learner who copied a seam at import time (`ingest = queue_ingest`, a default argument,
    a closure) still calls the original function; its code is swapped for a tripwire that
    records the call, so the check can say why the fake was never used.
    """
    module = learner.module
    for name, fake in seams.items():
        if not hasattr(module, name):
            raise LearnerError(
                f"{learner.path.name} has no module-level `{name}`: the drill needs it "
                "(the grader replaces it with its own version)")
        original = getattr(module, name)
        setattr(module, name, fake)
        _trip_original(learner, name, original)


def _trip_original(learner: Learner, name: str, original: Any) -> None:
    code = getattr(original, "__code__", None)
    if code is None or code.co_freevars:
        return
    registry = learner.module.__dict__.setdefault("__docchat_tripwires__", {})

    def tripped(*args: Any, **kwargs: Any) -> None:
        learner.bypassed.append(name)

    registry[name] = tripped
    # An async seam's stand-in must stay awaitable, so the tripwire matches its kind.
    kind = "async def" if code.co_flags & inspect.CO_COROUTINE else "def"
    namespace: dict[str, Any] = {}
    exec(f"{kind} tripwire(*args, **kwargs):\n"
         f"    return __docchat_tripwires__[{name!r}](*args, **kwargs)\n", namespace)
    wire = namespace["tripwire"].__code__
    original.__code__ = wire


class LearnerApp:
    """Wraps the learner's ASGI app so anything it raises is marked as the learner's."""

    def __init__(self, app: Any, path: Path) -> None:
        self.app, self.path = app, path

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except (SystemExit, KeyboardInterrupt) as exc:
            # Let these out as-is and they take down the test client's event loop.
            raise LearnerError(f"your code {explain(exc, self.path)}") from exc
        except LearnerError:
            raise
        except Exception as exc:
            exc.__docchat_learner__ = True  # type: ignore[attr-defined]
            raise


def is_learners(exc: BaseException) -> bool:
    return isinstance(exc, LearnerError) or getattr(exc, "__docchat_learner__", False)
