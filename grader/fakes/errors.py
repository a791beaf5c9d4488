"""The errors drill's seams: a seeded DOCUMENTS store, and routes the grader adds to the app.

The grader's routes raise inside the learner's app, so they show whether an exception
handler is registered app-wide. A learner who kept an import-time reference to DOCUMENTS
(`store = DOCUMENTS`, a default argument, `app.state.docs = DOCUMENTS`) still holds the
original dict; the grader fills it with stale stand-ins, so using it shows.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from grader.expect import fail
from grader.engine.learner import Learner, LearnerError
from grader.engine.remote import RaiseInApp, Remote

SEEDS = {
    "seed-annual-report": {"id": "seed-annual-report", "title": "Annual report 2024", "pages": 48},
    "seed-handbook": {"id": "seed-handbook", "title": "Employee handbook", "pages": 112},
}
STALE_TITLE = "(stale: a copy of DOCUMENTS taken at import)"
PROBE = "/__docchat_grader"


@dataclass
class ErrorsDrill:
    learner: Learner
    store: Any  # the app's DOCUMENTS, the grader's copy of SEEDS (a grader.engine.remote.Remote)
    stale: Any  # the learner's own DOCUMENTS, now a booby trap

    @property
    def not_found(self) -> Any:
        return self.learner.module.DocumentNotFound

    def add_route(self, path: str, endpoint: Callable[..., Any], method: str = "GET") -> str:
        """Add a grader route to the learner's app, ahead of the learner's own routes."""
        app = self.learner.app
        app.add_api_route(PROBE + path, endpoint, methods=[method], include_in_schema=False)
        routes = app.router.routes
        routes.insert(0, routes.pop())  # so no catch-all route of the learner's shadows it
        return PROBE + path

    def make_not_found(self, doc_id: str) -> BaseException:
        """An instance of the learner's DocumentNotFound for this id, raised as itself in the app."""
        for args, kwargs in (((doc_id,), {}), ((), {"doc_id": doc_id})):
            try:
                exc = self.not_found(*args, **kwargs)
                break
            except TypeError:
                continue
        else:
            raise LearnerError(f"DocumentNotFound({doc_id!r}) could not be created: the drill "
                               "needs `DocumentNotFound(doc_id)` to work")
        if getattr(exc, "doc_id", None) != doc_id:
            raise LearnerError(f"DocumentNotFound({doc_id!r}).doc_id is "
                               f"{getattr(exc, 'doc_id', '(missing)')!r}: it should keep the id")
        return RaiseInApp(exc)

    def expect_store_used(self, *, sent: str, body: Any = None) -> None:
        """Fail with the seam message if the app read or wrote its import-time DOCUMENTS."""
        shows_stale = STALE_TITLE in repr(body)
        if self.stale is not None and (shows_stale or self.stale != _stale_copy()):
            fail(sent=sent, got="the app used the DOCUMENTS dict your module had at import (kept "
                 "under another name, as a default argument or on app.state), not the one the "
                 "grader put in its place",
                 expected="DOCUMENTS looked up by its module-level name when each request runs")


def _stale_copy() -> dict[str, dict]:
    return {key: {**doc, "title": STALE_TITLE, "pages": 1} for key, doc in SEEDS.items()}


@pytest.fixture
def errors(load_learner) -> ErrorsDrill:
    learner = load_learner()
    found = getattr(learner.module, "DocumentNotFound", None)
    if not isinstance(found, Remote) or not found.facts().get("exception_class"):
        raise LearnerError(f"{learner.path.name} has no module-level exception class "
                           "`DocumentNotFound`: the drill needs it")
    original = learner.swap({"DOCUMENTS": copy.deepcopy(SEEDS)})["DOCUMENTS"]
    stale = original if isinstance(original, Remote) and original.type_name == "builtins.dict" else None
    if stale is not None:
        stale.clear()
        stale.update(_stale_copy())
    return ErrorsDrill(learner, learner.module.DOCUMENTS, stale)
