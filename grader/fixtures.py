"""Fixtures every check (built-in or an instructor's hidden one) can use.

- `workdir`: a fresh scratch directory, the working directory for the whole check.
- `load_learner(seams, around_import=None)`: a fresh import of the learner's module there,
  seams swapped; `around_import` (a context manager) is entered for the import alone, so a
  drill can observe what importing the module does.
- `serve(learner)`: a running app: a TestClient whose lifespan has started, which can also
  drive the app directly (`client.drive(...)`) for memory, byte counts and message timing.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from grader.asgi import Exchange, drive
from grader.engine.learner import Learner, LearnerApp, check_app, load, swap_seams
from grader.engine.session import LEARNER, session_of

class GraderClient(TestClient):
    """A TestClient that tells the grader what it is sending (for time-limit messages)."""

    def __init__(self, learner: Learner, progress: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(LearnerApp(learner.app, learner.path), **kwargs)
        self._progress = progress

    def request(self, method: str, url: Any, **kwargs: Any) -> Any:
        self._progress(f"waiting for the answer to {method} {url}")
        return super().request(method, url, **kwargs)

    def drive(self, method: str, path: str, **kwargs: Any) -> Exchange:
        """Send one request through the direct ASGI driver, on this client's event loop."""
        self._progress(f"waiting for the answer to {method} {path}")
        return self.portal.call(partial(drive, self.app, method, path, state=self.app_state, **kwargs))


@pytest.fixture
def workdir(request: pytest.FixtureRequest) -> Iterator[Path]:
    session = session_of(request.config)
    # unique across the restarts of a run, which share the scratch directory
    path = Path(tempfile.mkdtemp(prefix=f"{request.node.name}-", dir=session.scratch))
    before = os.getcwd()
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(before)


@pytest.fixture
def load_learner(request: pytest.FixtureRequest, workdir: Path) -> Callable[..., Learner]:
    target = session_of(request.config).target

    def load_with(seams: dict[str, Any] | None = None, *,
                  around_import: AbstractContextManager | None = None) -> Learner:
        with around_import or nullcontext():
            module = load(target)
        check_app(module, target)
        learner = Learner(target, module)
        request.node.stash[LEARNER] = learner
        swap_seams(learner, seams or {})
        return learner

    return load_with


@pytest.fixture
def serve(request: pytest.FixtureRequest) -> Callable[..., Any]:
    progress = session_of(request.config).progress

    @contextmanager
    def running(learner: Learner, **kwargs: Any) -> Iterator[GraderClient]:
        progress("waiting for the app to start (lifespan startup)")
        with GraderClient(learner, progress, **kwargs) as client:
            yield client
            progress("waiting for the app to shut down (lifespan shutdown)")

    return running
