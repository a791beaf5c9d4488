"""grader.live_server serves an app on a free local port; grader.browser drives Chromium over it."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from grader.browser import Chromium, find_chromium
from grader.live_server import ServerError, serving

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed")


def page_app(html: str) -> FastAPI:
    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return html

    @app.get("/echo")
    def echo(q: str) -> dict:
        return {"q": q}

    return app


def test_serves_on_a_free_port_and_always_stops() -> None:
    with serving(page_app("<p>hi</p>")) as live:
        assert httpx.get(f"{live.url}/echo", params={"q": "x"}).json() == {"q": "x"}
        assert httpx.get(f"{live.url}/").text == "<p>hi</p>"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{live.url}/echo", params={"q": "x"})


def test_keeps_what_the_app_raised() -> None:
    app = FastAPI()

    @app.get("/boom")
    def boom() -> None:
        raise ZeroDivisionError("no")

    with serving(app) as live:
        assert httpx.get(f"{live.url}/boom").status_code == 500
    assert [type(e) for e in live.errors] == [ZeroDivisionError]


def test_a_failing_startup_is_reported_quickly() -> None:
    @asynccontextmanager
    async def lifespan(app):
        raise RuntimeError("no database")
        yield

    started = time.monotonic()
    with pytest.raises(ServerError, match="startup"), serving(FastAPI(lifespan=lifespan)):
        pass
    assert time.monotonic() - started < 5


def test_a_hanging_startup_is_bounded() -> None:
    @asynccontextmanager
    async def lifespan(app):
        await asyncio.sleep(60)
        yield

    with pytest.raises(ServerError, match="did not start within 0.3 s"), \
            serving(FastAPI(lifespan=lifespan), start_s=0.3, stop_s=0.5):
        pass


def test_find_chromium_looks_on_path(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert find_chromium() is None


@needs_chromium
def test_reads_the_page_follows_a_form_and_reports_script_errors(tmp_path) -> None:
    html = """<form action="/"><input name="q"><button>Go</button></form><p id="out"></p>
    <script>
      const q = new URLSearchParams(location.search).get("q");
      if (q) fetch("/echo?q=" + encodeURIComponent(q)).then(r => r.json())
        .then(body => { document.getElementById("out").textContent = "echo:" + body.q; });
      undefinedFunction();
    </script>"""
    with serving(page_app(html)) as live, \
            Chromium(CHROMIUM, tmp_path / "profile", deadline=time.monotonic() + 20) as browser:
        session = browser.open(live.url + "/")
        assert browser.wait_event("Page.loadEventFired", 10)
        assert "button" in browser.ask(session, "hello there")
        assert "echo:hello there" in browser.wait_for_text(session, "echo:hello there", 10)
        assert any("undefinedFunction" in p for p in browser.page_problems())
        assert (live.url + "/", 200, "Document") in browser.responses()
        process = browser._proc
    assert process.poll() is not None, "leaving the block kills Chromium"


@needs_chromium
def test_wait_for_text_gives_up_at_its_time(tmp_path) -> None:
    with serving(page_app("<p>never the answer</p>")) as live, \
            Chromium(CHROMIUM, tmp_path / "profile", deadline=time.monotonic() + 20) as browser:
        session = browser.open(live.url + "/")
        started = time.monotonic()
        assert browser.wait_for_text(session, "answer!", 0.5).strip() == "never the answer"
        assert time.monotonic() - started < 3
