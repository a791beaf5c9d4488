"""The background drill's seams and a client for its two routes.

`ingest` is the grader's: it can be held on a gate (is the app still answering while it
runs?), made to raise, or to fail once per job, and it records each call, including whether
it ran on the event loop's own thread (which stops the app answering anyone).
`send_confirmation` records its calls on a timeline shared with the request driver.
Every request has a time limit enforced from outside the app (grader.deadline), and every
gate opens before the app shuts down, so a blocked app fails a check instead of hanging it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import wait as wait_futures
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from grader.asgi import Exchange, Timeline
from grader.deadline import NoAnswer, within
from grader.expect import describe, fail, json_body, size
from grader.fixtures import GraderClient
from grader.engine.learner import Learner
from grader.engine.remote import CALLER
from grader.files import read_regular

POST_LIMIT = 2.0  # seconds an upload may take, even while ingest is busy
GET_LIMIT = 1.0  # seconds a job lookup may take
SETTLE_LIMIT = 3.0  # seconds a job may take to finish once ingest is free
QUIET_S = 0.5  # a job that ingest has returned for, unchanged this long, is stuck
GATE_LIMIT = 6.0  # a held ingest lets go by itself after this, whatever happens
SHUTDOWN_GRACE = 1.0  # how long a held ingest waits for the app to finish shutting down
LIFESPAN_LIMIT = 3.0  # seconds the app may take to start, or to stop
FINAL = ("done", "failed")
BOUNDARY = "docchat-grader-form-5c1e"
EMAIL = "ana@example.com"
STUCK_STARTING = ("the lifespan must reach its `yield` for the app to start: start the worker "
                  "as a task (`asyncio.create_task(...)`) instead of awaiting it")
STUCK_STOPPING = ("after its `yield`, the lifespan should cancel the worker task before it "
                  "waits for it: a worker waiting on an empty queue never ends by itself")


class IngestFailed(Exception):
    """What the grader's `ingest` raises when a check tells it to fail."""


@dataclass(frozen=True)
class IngestCall:
    job_id: object
    path: Path
    data: bytes | None  # the file's bytes when ingest was called; None if there was no file
    on_event_loop: bool
    request: object  # the tag of the request it ran on behalf of (None: a worker of the app's own)


class FakeIngest:
    """Stands in for `ingest`: records each call; can hold it on a gate, or make it raise."""

    def __init__(self) -> None:
        self.calls: list[IngestCall] = []
        self.running: list[IngestCall] = []
        self.fail_always = False
        self.fail_first = False  # each job's first call raises, later calls succeed
        self._gate = threading.Event()
        self._gate.set()
        self._changed = threading.Condition()

    def hold(self) -> None:
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def __call__(self, job_id: object, path: object) -> None:
        resolved = Path(os.path.abspath(str(path)))
        caller = CALLER.get()  # told by the app host: it can only explain a failure, never pass
        call = IngestCall(job_id, resolved, read_regular(resolved), caller.on_event_loop, caller.request)
        with self._changed:
            self.calls.append(call)
            self.running.append(call)
            self._changed.notify_all()
        try:
            self._gate.wait(GATE_LIMIT)
            if self.fail_always or (self.fail_first and len(self.calls_for(job_id)) == 1):
                raise IngestFailed("the embedding service timed out (raised by the grader's ingest)")
        finally:
            with self._changed:
                self.running.remove(call)

    def holding_up(self, request: object = None) -> str:
        """Why a request (tagged `request`) cannot be answered while ingest is held: '' if it can."""
        if self._gate.is_set():
            return ""
        for call in list(self.running):
            if call.on_event_loop:
                return "ingest, which the grader is holding, is running on the app's event loop"
            if request is not None and call.request is request:
                return "the request is waiting for ingest to return, and the grader is holding it"
        return ""

    def calls_for(self, job_id: object) -> list[IngestCall]:
        return [c for c in self.calls if c.job_id == job_id]

    def wait_for(self, count: int, seconds: float = 1.0) -> list[IngestCall]:
        """The calls so far, once there are `count` of them or `seconds` have passed."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.calls) >= count, seconds)
            return list(self.calls)


@dataclass
class FakeConfirmation:
    """Stands in for `send_confirmation`: records (email, filename) and when it ran."""

    timeline: Timeline
    calls: list[tuple[object, object]] = field(default_factory=list)

    def __call__(self, *args: object, **kwargs: object) -> None:
        self.timeline.mark("send_confirmation")
        given = dict(zip(("email", "filename"), args)) | kwargs
        self.calls.append((given.get("email"), given.get("filename")))

    def wait_for(self, count: int, seconds: float = 1.0) -> list[tuple[object, object]]:
        end = time.monotonic() + seconds
        while len(self.calls) < count and time.monotonic() < end:
            time.sleep(0.01)
        return list(self.calls)


def pdf(n: int = 16 * 1024, tag: str = "") -> bytes:
    """A PDF-looking file of exactly `n` bytes; different tags give different bytes."""
    head = b"%PDF-1.7\n% " + tag.encode() + b"\n"
    return (head + bytes(range(256)) * (n // 256 + 1))[:n]


def upload_form(data: bytes, filename: str, email: str) -> bytes:
    """A multipart body with the form field `email` and the file field `file`."""
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n{email}\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/pdf\r\n\r\n").encode() \
        + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def sent_upload(data: bytes, filename: str, email: str = EMAIL) -> str:
    return f"POST /upload with file={filename} (application/pdf, {size(len(data))}) and email={email}"


class Jobs:
    """The drill's routes, each request limited in time, with the likely cause of a hang."""

    def __init__(self, client: GraderClient, ingest: FakeIngest, timeline: Timeline) -> None:
        self.client, self.ingest, self.timeline = client, ingest, timeline

    def upload(self, data: bytes, filename: str = "report.pdf", email: str = EMAIL) -> Exchange:
        body = upload_form(data, filename, email)
        headers = {"content-type": f"multipart/form-data; boundary={BOUNDARY}",
                   "content-length": str(len(body))}
        sent = sent_upload(data, filename, email)
        marks = len(self.timeline.entries)
        tag = object()
        try:
            return within(POST_LIMIT, lambda: self.client.drive(
                "POST", "/upload", body=[body], headers=headers, timeline=self.timeline, tag=tag),
                sent=sent, cannot_come=lambda: self.ingest.holding_up(tag))
        except NoAnswer as exc:
            answered = any(what == "http.response.body.final" for _, what in self.timeline.entries[marks:])
            raise NoAnswer(sent, exc.seconds, self.why_no_answer(answered), cannot_come=exc.cannot_come) from None

    def get(self, job_id: str) -> Exchange:
        sent = f"GET /jobs/{job_id}"
        try:
            return within(GET_LIMIT, lambda: self.client.drive("GET", f"/jobs/{job_id}"), sent=sent,
                          cannot_come=self.ingest.holding_up)
        except NoAnswer as exc:
            raise NoAnswer(sent, exc.seconds, self.why_no_answer(False), cannot_come=exc.cannot_come) from None

    def why_no_answer(self, response_sent: bool) -> str:
        running = list(self.ingest.running)
        if any(c.on_event_loop for c in running):
            return ("ingest is running on the app's event loop thread (called directly inside "
                    "an `async def`), so nothing else runs until it returns: run it in a thread, "
                    "e.g. `await asyncio.to_thread(ingest, job_id, path)` in the worker")
        if response_sent:
            return ("the response was sent, but the request went on running ingest afterwards: "
                    "a BackgroundTasks task keeps the request (and a server worker) busy for as "
                    "long as ingestion takes, and is lost on a restart; hand the job to the "
                    "worker the lifespan started")
        if running:
            return ("the request waited for ingest to finish: the route should only save the "
                    "file, record the job and put it on the queue")
        return "the app's event loop seems blocked (slow synchronous work inside `async def`?)"

    def job(self, job_id: str, *, context: str = "", note: str = "") -> dict:
        """The job as GET /jobs/{job_id} reports it; a failure unless that is a 200 JSON object."""
        sent = f"GET /jobs/{job_id}{context}"
        response = self.get(job_id)
        body = json_body(response, sent=sent)
        if response.status_code != 200 or not isinstance(body, dict):
            fail(sent=sent, got=describe(response),
                 expected='200 with the job: {"job_id", "status", "error"}', note=note)
        return body

    def settle(self, job_ids: Iterable[str], *, seconds: float = SETTLE_LIMIT,
               context: str = "", note: str = "") -> dict[str, dict]:
        """Each job as last seen: once all are done or failed, or after `seconds`.

        Also once nothing more can happen: every unfinished job has been through ingest, and
        for QUIET_S no ingest ran or started and no job changed (a job stuck after ingest).
        """
        latest: dict[str, dict] = {}
        pending = list(job_ids)
        end = time.monotonic() + seconds
        quiet_since, seen = time.monotonic(), None
        while True:
            for job_id in pending:
                latest[job_id] = self.job(job_id, context=context, note=note)
            pending = [j for j in pending if latest[j].get("status") not in FINAL]
            now = time.monotonic()
            state = ([latest[j] for j in pending], len(self.ingest.calls), len(self.ingest.running))
            if state != seen or self.ingest.running:
                quiet_since, seen = now, state
            ingested = all(self.ingest.calls_for(j) for j in pending)
            if not pending or now > end or (ingested and now - quiet_since >= QUIET_S):
                return latest
            time.sleep(0.02)


@dataclass
class BackgroundDrill:
    learner: Learner
    ingest: FakeIngest
    confirmation: FakeConfirmation
    timeline: Timeline
    upload_dir: Path
    serve: Any

    @contextmanager
    def running(self, *, hold_through_shutdown: bool = False) -> Iterator[Jobs]:
        """The app, started; when the check leaves it, a held ingest is let go, then it stops.

        Normally the gate opens before shutdown. With `hold_through_shutdown`, ingest stays
        held until the lifespan has finished shutting down (or SHUTDOWN_GRACE has passed), so
        a job it was running is cut off by the shutdown, as a real restart would cut it off.
        Startup and shutdown have time limits too: a lifespan that awaits its worker never
        gets past its `yield`, or never finishes.
        """
        app = ExitStack()
        client = within(LIFESPAN_LIMIT, lambda: app.enter_context(self.serve(self.learner)),
                        sent="starting the app (lifespan startup)", note=STUCK_STARTING,
                        waiting_for="the startup to finish")
        try:
            yield Jobs(client, self.ingest, self.timeline)
        except BaseException:
            self._let_go(client, hold_through_shutdown)
            with suppress(Exception):  # the check's own failure says more than a slow shutdown
                within(LIFESPAN_LIMIT, app.close, sent="stopping the app", note=STUCK_STOPPING)
            raise
        self._let_go(client, hold_through_shutdown)
        within(LIFESPAN_LIMIT, app.close, sent="stopping the app (lifespan shutdown)",
               note=STUCK_STOPPING, waiting_for="the shutdown to finish")

    def _let_go(self, client: GraderClient, after_shutdown: bool) -> None:
        if after_shutdown:
            threading.Thread(target=self._release_after_shutdown, args=(client,),
                             name="docchat-release", daemon=True).start()
        else:
            self.ingest.release()

    def _release_after_shutdown(self, client: GraderClient) -> None:
        wait_futures([client.task], timeout=SHUTDOWN_GRACE)  # the lifespan has returned
        self.ingest.release()


@pytest.fixture
def background(load_learner, serve, workdir: Path) -> Iterator[BackgroundDrill]:
    timeline = Timeline()
    ingest, confirmation = FakeIngest(), FakeConfirmation(timeline)
    upload_dir = workdir / "uploads"
    upload_dir.mkdir()
    learner = load_learner({"UPLOAD_DIR": upload_dir, "ingest": ingest,
                            "send_confirmation": confirmation})
    yield BackgroundDrill(learner, ingest, confirmation, timeline, upload_dir.resolve(), serve)
    ingest.release()  # in case a check stopped before `running` could open the gate
