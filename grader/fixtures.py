"""Fixtures every check (built-in or an instructor's hidden one) can use.

- `workdir`: a fresh scratch directory, the working directory for the whole check (`work`
  in a folder of the check's own: `workdir.parent` holds nothing of any other check's).
- `load_learner(seams, watch=())`: a fresh import of the learner's module, in an app host
  of its own (grader.engine.remote), working in `workdir`, seams swapped; `watch` names
  functions of the learner's file whose running during the import is reported.
- `serve(learner)`: a running app: a TestClient whose lifespan has started, which can also
  drive the app directly (`client.drive(...)`) for memory, byte counts and message timing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient  # FastAPI's is this one; importing fastapi costs 0.1 s

from grader.asgi import Exchange, drive
from grader.engine.learner import Learner
from grader.engine.remote import RemoteApp
from grader.engine.session import LEARNER, session_of


class GraderClient(TestClient):
    """A TestClient that tells the grader what it is sending (for time-limit messages)."""

    def __init__(self, learner: Learner, progress: Callable[[str], None], **kwargs: Any) -> None:
        self._lifespan_state: dict = {}
        # Starlette reads `app_state` while it sets up (for its transport, and for the lifespan's
        # scope). An app host hands the lifespan and each request its state itself, so there
        # the local dict will do, without a round trip for each read.
        self._setting_up = True
        super().__init__(learner.app, **kwargs)
        self._setting_up = False
        self._progress = progress

    def __enter__(self) -> GraderClient:
        self._setting_up = True
        try:
            return super().__enter__()
        finally:
            self._setting_up = False

    @property
    def app_state(self) -> Any:
        """The state the app's lifespan yielded, as the app host holds it."""
        if isinstance(self.app, RemoteApp) and not self._setting_up:
            return self.app.lifespan_state
        return self._lifespan_state

    @app_state.setter
    def app_state(self, value: dict) -> None:
        self._lifespan_state = value

    @property
    def request_state(self) -> dict:
        """What `drive` copies into a request's scope as the lifespan's state, as the TestClient
        does: the local dict the lifespan filled (for an app host's app it stays empty: the app
        host hands each request the state itself)."""
        return self._lifespan_state

    def request(self, method: str, url: Any, **kwargs: Any) -> Any:
        self._progress(f"waiting for the answer to {method} {url}")
        return super().request(method, url, **kwargs)

    def drive(self, method: str, path: str, **kwargs: Any) -> Exchange:
        """Send one request through the direct ASGI driver, on this client's event loop."""
        self._progress(f"waiting for the answer to {method} {path}")
        return self.portal.call(partial(drive, self.app, method, path, state=self.request_state, **kwargs))


@pytest.fixture
def workdir(request: pytest.FixtureRequest) -> Iterator[Path]:
    path = session_of(request.config).workdir(request.node.name)
    before = os.getcwd()
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(before)


@pytest.fixture
def load_learner(request: pytest.FixtureRequest, workdir: Path) -> Iterator[Callable[..., Learner]]:
    session = session_of(request.config)
    hosts = []

    def load_with(seams: dict[str, Any] | None = None, *, watch: tuple[str, ...] = ()) -> Learner:
        host, loaded = session.load(workdir, seams or {}, tuple(watch))
        hosts.append(host)
        learner = Learner(session.target, host, loaded["module"],
                          RemoteApp(host, loaded["app"], session.target),
                          originals=loaded.get("originals") or {}, imported=list(loaded.get("ran") or []))
        request.node.stash[LEARNER] = learner
        return learner

    yield load_with
    for host in hosts:
        host.close()


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
