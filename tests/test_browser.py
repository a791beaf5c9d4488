"""grader.live_server serves an app on a free local port; grader.browser drives Chromium over it."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from grader.browser import LENT_VAR, SharedBrowser, find_chromium, open_browser
from grader.live_server import ServerError, serving
from tests.conftest import boot_ticks, running_with, wait_for, zombie_children

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


def test_counts_the_requests_still_open() -> None:
    app, release = FastAPI(), threading.Event()

    @app.get("/slow")
    def slow() -> dict:  # a plain def runs in a worker thread: waiting here blocks nothing else
        release.wait(5)
        return {}

    with serving(app) as live:
        assert live.open_requests == 0
        with httpx.Client() as client:
            pending = threading.Thread(target=client.get, args=(f"{live.url}/slow",))
            pending.start()
            wait_for(lambda: live.open_requests == 1, 5, "the request to count as open")
            release.set()
            pending.join(5)
        # The client has its answer a moment before the app's call returns (which is when the
        # request stops counting as open): wait for that moment, within a bound.
        wait_for(lambda: live.open_requests == 0, 5, "the answered request to stop counting as open")


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


def test_stopping_lets_an_open_request_finish_then_runs_the_shutdown() -> None:
    """The fast stop keeps uvicorn's graceful one: answered, then the lifespan's shutdown."""
    events: list[str] = []
    entered = threading.Event()

    @asynccontextmanager
    async def lifespan(app):
        yield
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.get("/slow")
    async def slow() -> dict:
        entered.set()
        await asyncio.sleep(0.3)
        events.append("answered")
        return {"ok": True}

    answers: list[int] = []
    with serving(app) as live:
        pending = threading.Thread(target=lambda: answers.append(httpx.get(f"{live.url}/slow").status_code))
        pending.start()
        assert entered.wait(5)
    pending.join(5)
    assert answers == [200]
    assert events == ["answered", "shutdown"]


def test_a_request_that_never_ends_is_cut_off_at_the_graceful_limit() -> None:
    app = FastAPI()
    entered = threading.Event()

    @app.get("/forever")
    async def forever() -> dict:
        entered.set()
        await asyncio.sleep(60)
        return {}

    started = time.monotonic()
    with serving(app) as live:
        threading.Thread(target=lambda: httpx.get(f"{live.url}/forever", timeout=10), daemon=True).start()
        assert entered.wait(5)
    assert time.monotonic() - started < 5  # graceful limit 1 s, then cancelled, well inside stop_s


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
    profile = tmp_path / "profile"
    with serving(page_app(html)) as live, open_browser(CHROMIUM, profile, deadline=time.monotonic() + 20) as browser:
        session = browser.open(live.url + "/")
        assert browser.wait_event("Page.loadEventFired", 10)
        assert "button" in browser.ask(session, "hello there")
        assert "echo:hello there" in browser.wait_for_text(session, "echo:hello there", 10)
        assert any("undefinedFunction" in p for p in browser.page_problems())
        assert (live.url + "/", 200, "Document") in browser.responses()
        assert running_with(profile), "the browser is running inside the block"
    assert not running_with(profile), "leaving the block kills Chromium"


@needs_chromium
def test_a_closed_browser_leaves_no_process_and_nothing_in_home(tmp_path, monkeypatch) -> None:
    """Chromium's crash handler is a daemon: to a grader, a subreaper, it is a child of its own.
    Closing the browser ends and reaps it too. What Chromium keeps under $HOME (crash reports,
    caches) stays in the browser's profile, which goes with it."""
    from grader.engine import sandbox

    sandbox.become_subreaper()  # as every grading process is
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    started = boot_ticks()
    with serving(page_app("<p>hi</p>")) as live, \
            open_browser(CHROMIUM, tmp_path / "profile", deadline=time.monotonic() + 20) as browser:
        session = browser.open(live.url + "/")
        assert "hi" in browser.wait_for_text(session, "hi", 10)
    assert zombie_children(since=started) == []
    assert sorted(p.name for p in home.iterdir()) == []


@needs_chromium
@pytest.mark.parametrize(("seconds", "server_idle"), [(0.5, False), (20, True)],
                         ids=["gives up at its time", "stops once the page is still and nothing runs"])
def test_wait_for_text_without_the_text(tmp_path, seconds, server_idle) -> None:
    with serving(page_app("<p>never the answer</p>")) as live, \
            open_browser(CHROMIUM, tmp_path / "profile", deadline=time.monotonic() + 30) as browser:
        session = browser.open(live.url + "/")
        started = time.monotonic()
        text = browser.wait_for_text(session, "answer!", seconds, settled=lambda: server_idle)
        assert text.strip() == "never the answer"
        assert time.monotonic() - started < 5, "well before 20 s: the page had stopped changing"


@needs_chromium
def test_a_shared_browser_is_lent_clean_to_grade_after_grade(tmp_path, monkeypatch) -> None:
    """Each grade finds no tab, cookie or stray answer from the last one, even one killed mid-way."""
    app = page_app("<p>page</p><script>document.cookie = 'seen=yes; max-age=3600'</script>")
    shared = SharedBrowser(CHROMIUM)
    try:
        with serving(app) as live:
            lent = shared.lend()
            monkeypatch.setenv(LENT_VAR, ",".join(map(str, lent)))
            with open_browser(CHROMIUM, tmp_path / "unused", deadline=time.monotonic() + 20) as browser:
                session = browser.open(live.url + "/")
                assert "page" in browser.wait_for_text(session, "page", 10)
                assert browser.evaluate(session, "document.cookie") == "seen=yes"
                # a grade killed here leaves its tab open, an answer unread and half a message
                browser.send("Target.createTarget", {"url": "about:blank"})
                os.write(lent[0], b'{"id": 1, "method": "Browser.getVersion"}\0')
            os.write(lent[0], b'{"id": 2, "method": "Target.getTargets", "params": {}}\0')
            time.sleep(0.5)
            os.read(lent[1], 7)  # the next reader starts mid-message
            assert shared.lend() == lent, "a browser that still answers is kept"
            with open_browser(CHROMIUM, tmp_path / "unused", deadline=time.monotonic() + 20) as browser:
                pages = [t for t in browser.send("Target.getTargets")["targetInfos"] if t["type"] == "page"]
                assert len(pages) == 1 and not pages[0]["url"].startswith("http"), "one blank tab is left"
                assert browser.send("Storage.getCookies")["cookies"] == []
            shared._browser.proc.kill()
            shared._browser.proc.wait()
            monkeypatch.setenv(LENT_VAR, ",".join(map(str, shared.lend())))
            with open_browser(CHROMIUM, tmp_path / "unused", deadline=time.monotonic() + 20) as browser:
                session = browser.open(live.url + "/")
                assert "page" in browser.wait_for_text(session, "page", 10), "a dead browser is replaced"
        assert not running_with(tmp_path / "unused"), "a lent browser is never started by the grade"
    finally:
        shared.close()
    assert shared._browser is None


@needs_chromium
def test_a_page_left_between_grades_ends_rather_than_waiting_in_the_back_forward_cache(monkeypatch) -> None:
    """Blanking a lent browser ends the last grade's page: none of it stays alive, cached for a
    Back button nobody presses (which also cost every visit about twice the browser's CPU)."""
    left: list[str] = []
    app = page_app("<p>page</p><script>addEventListener('pagehide', e => "
                   "navigator.sendBeacon('/left?persisted=' + e.persisted))</script>")

    @app.post("/left")
    def leaving(persisted: str) -> dict:
        left.append(persisted)
        return {}

    shared = SharedBrowser(CHROMIUM)
    try:
        with serving(app) as live:
            monkeypatch.setenv(LENT_VAR, ",".join(map(str, shared.lend())))
            with open_browser(CHROMIUM, Path("unused"), deadline=time.monotonic() + 20) as browser:
                session = browser.open(live.url + "/")
                assert "page" in browser.wait_for_text(session, "page", 10)
            shared.lend()  # the next grade's turn: the tab is blanked
            wait_for(lambda: left, 5, "the left page's pagehide beacon")
        assert left == ["false"]
    finally:
        shared.close()


@needs_chromium
def test_a_single_grade_starts_its_browser_beside_the_sandbox_and_ends_it(monkeypatch) -> None:
    """`docchat-grade drills/streaming.py` starts Chromium at once, lends it to the browser check
    (its start-up is then off the way) and ends it with the grade."""
    from grader import browser as browsers
    from grader.api import grade
    from tests.conftest import ROOT

    lent: list[Path] = []
    real_lend = SharedBrowser.lend

    def lend(self: SharedBrowser) -> tuple[int, int]:
        fds = real_lend(self)
        lent.append(self._browser.profile)
        return fds

    monkeypatch.setattr(browsers.SharedBrowser, "lend", lend)
    report = grade(ROOT / "solutions" / "streaming.py")
    checks = {c["id"]: c["status"] for c in report["checks"]}
    assert report["status"] == "passed" and checks["streaming.browser_page"] == "passed", report
    assert len(lent) == 1, "one browser, started by the grade and lent to its browser check"
    assert not running_with(lent[0]) and not lent[0].exists(), "the browser and its profile end with the grade"


@needs_chromium
def test_a_single_grade_starts_its_browser_only_once_the_module_imports(tmp_path, monkeypatch) -> None:
    """The browser is lent at once but started when the module's first import is through: its
    start-up does not slow the sandbox's and the examiner's, and a file that cannot even be
    imported costs no browser at all."""
    from grader import browser as browsers
    from grader.api import grade
    from tests.conftest import ROOT

    started: list[float] = []
    real_start = browsers.Chromium.start

    def start(self) -> None:
        if not self.started:
            started.append(time.monotonic())
        real_start(self)

    monkeypatch.setattr(browsers.Chromium, "start", start)
    broken = tmp_path / "streaming.py"
    broken.write_text("from fastapi import FastAPI\napp = FastAPI(\n")
    report = grade(broken)
    assert report["status"] == "error" and started == [], report
    report = grade(ROOT / "solutions" / "streaming.py")
    assert report["status"] == "passed" and len(started) == 1, report


@needs_chromium
def test_a_batch_grade_gets_both_its_warm_browser_and_its_lanes_sandbox(tmp_path) -> None:
    """A browser grade is lent two things at once: the browser's pipe ends and its lane's warm
    sandbox template. The fork server once dropped the last descriptor, so every such grade
    quietly started a cold sandbox of its own (0.3 s each); one lent but not received is now the
    grader's error, so full marks here mean both arrived."""
    import json
    import shutil
    import subprocess
    import sys

    from grader.engine import isolation
    from tests.conftest import SOLUTIONS

    if isolation.available() == ("none",):
        pytest.skip("no sandbox on this machine: a batch lends no template")
    for learner in ("ada", "bo"):
        (tmp_path / "in" / learner).mkdir(parents=True)
        shutil.copy(SOLUTIONS / "streaming.py", tmp_path / "in" / learner / "streaming.py")
    done = subprocess.run([str(Path(sys.executable).with_name("docchat-grade")), "batch", str(tmp_path / "in"),
                           "--out", str(tmp_path / "out"), "--drills", "streaming", "--jobs", "1"],
                          capture_output=True, text=True, timeout=300)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    for learner in ("ada", "bo"):
        checks = {c["id"]: c["status"] for c in results[learner]["streaming"]["checks"]}
        assert set(checks.values()) == {"passed"}, (checks, done.stdout[-2000:])
    assert done.returncode == 0, done.stderr


def test_a_fork_server_refuses_more_descriptors_than_it_can_receive() -> None:
    from grader.engine.forkserver import FDS_MAX, ForkServer
    from grader.engine.runner import GraderBroke

    spare = [os.open(os.devnull, os.O_RDONLY) for _ in range(FDS_MAX)]
    try:
        with ForkServer() as server:
            server.lend(tuple(spare))
            with pytest.raises(GraderBroke, match="descriptors"):
                server.start([], channel_fd=spare[0], token="t", cwd=Path("/"), memory_mb=256, file_mb=16,
                             extra_env={})
    finally:
        for fd in spare:
            os.close(fd)
