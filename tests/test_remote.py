"""What a check's client asks the app host: each request goes over the wire once, and nothing
else does (every round trip is a few hundred microseconds, paid per request of every check)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from starlette.testclient import TestClient

from grader.engine import isolation
from grader.engine.remote import RemoteApp
from grader.fixtures import GraderClient

APP = b'''
from contextlib import asynccontextmanager
from fastapi import FastAPI, Request

@asynccontextmanager
async def lifespan(app):
    yield {"answer": 42}

app = FastAPI(lifespan=lifespan)

@app.get("/answer")
async def answer(request: Request) -> dict:
    return {"answer": request.state.answer}
'''


@pytest.fixture
def counted(tmp_path: Path):
    """The app above in an app host, and a count of the operations sent to that host."""
    template = isolation.Template(isolation.available()[0], tmp_path, memory_mb=512, file_mb=64)
    work = tmp_path / "work"
    work.mkdir()
    host = template.spawn(work)
    sent: Counter = Counter()
    request = host.peer.request

    def counting(op: str, **args):
        sent[op] += 1
        return request(op, **args)

    try:
        loaded = host.load(APP, "app.py", work, {})
        host.peer.request = counting
        yield RemoteApp(host, loaded["app"], work / "app.py"), sent
    finally:
        host.close()
        template.close()


def test_making_a_test_client_asks_the_app_host_nothing(counted) -> None:
    """TestClient asks whether its app is an async callable (`__name__`, `_is_coroutine`):
    the proxy answers for itself."""
    app, sent = counted
    TestClient(app)
    assert sent == Counter()
    with pytest.raises(AttributeError):
        app._anything_private
    assert app.title == "FastAPI"  # public names are still the learner's app's
    assert sent == Counter({"look": 1})


def test_each_request_is_one_call_with_the_lifespan_state_given_by_the_app_host(counted) -> None:
    app, sent = counted
    with GraderClient(SimpleNamespace(app=app), progress=lambda text: None) as client:
        assert sent["state"] == sent["look"] == 0, "setting up fetches no state either"
        sent.clear()
        assert client.get("/answer").json() == {"answer": 42}
        assert json.loads(client.drive("GET", "/answer").body) == {"answer": 42}
        assert sent["asgi"] == 2 and sent["state"] == sent["look"] == 0, sent
        assert client.app_state["answer"] == 42  # still there for a check that asks for it
