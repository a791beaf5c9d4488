"""The capstone drill's seams, the PDFs the grader makes, and a client for its routes.

`llm` is the grader's: it records the question and the context it was given, and streams
tokens that test the framing (a leading space, a line break). `DATA_DIR` is a folder of the
check's own, and `MAX_BYTES` small, so that a 413 needs no large upload. The PDFs are real
(pypdf reads them), written by hand here so the grader needs no PDF library of its own.
Every request has a time limit enforced from outside the app (grader.deadline).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from grader import sse
from grader.asgi import Together
from grader.bodies import FilePart, Multipart
from grader.deadline import within
from grader.engine.learner import Learner
from grader.expect import describe, fail, json_body, size
from grader.fakes import streaming

MAX_BYTES = 1024 * 1024  # the limit the grader gives the app
REQUEST_LIMIT = 3.0  # seconds a request may take
SETTLE_LIMIT = 8.0  # seconds a job may take to end done or failed
LIFESPAN_LIMIT = 5.0  # seconds the app may take to start, or to stop
FINAL = ("done", "failed")
DONE = "[DONE]"
UPLOADED = '{"job_id": "<id>", "document_id": "<id>", "status": "queued"}'
TOKENS = ["Mitochondria", " make", " energy:\nthey are", " the powerhouse", " of the cell."]
SENTENCE = "The mitochondria is the powerhouse of the cell"
QUESTION = "What is the powerhouse of the cell?"
# For the browser: no spaces or line breaks (any way of showing text shows exactly these), and a
# first token no page shows before the answer starts.
PAGE_TOKENS = ["Grader", "says:", "powerhouse", "-", "of", "-", "cells."]
STUCK_STARTING = ("the lifespan must reach its `yield` for the app to start: start the queue's "
                  "consumer (it runs in threads of its own) instead of running it")
STUCK_STOPPING = "after its `yield`, the lifespan should stop the consumer (and not wait for new jobs)"


class FakeLLM(streaming.FakeLLM):
    """Stands in for `llm`: records each (question, context) and streams its tokens (TOKENS).

    Held like the streaming drill's (`hold`, `release_all`): with a `Gate` from any thread.
    """

    def __init__(self) -> None:
        super().__init__(TOKENS)
        self.calls: list[tuple[object, object]] = []

    def stream(self, q: object, context: object) -> AsyncIterator[str]:
        self.calls.append((q, context))
        return super().stream(q)


class Gate:
    """A `Watch` for a stream read on an event loop the check does not run (uvicorn's): the
    held stream looks every 10 ms whether the check, on its own thread, let it go on."""

    def __init__(self) -> None:
        self._version = 0

    def notify(self) -> None:
        self._version += 1

    async def changed(self) -> None:
        seen = self._version
        while self._version == seen:
            await asyncio.sleep(0.01)


def pdf(pages: list[str]) -> bytes:
    """A small, valid PDF: one line of Helvetica text per page (an empty string: a blank page).
    Pages with the same text are one page object listed again, so a long PDF can be a small
    file (pypdf reads each listing as a page of its own)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", "",
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids, made = [], {}  # text -> the reference to its page object
    for text in pages:
        if text not in made:
            escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET" if text else ""
            objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
            objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                           f"/Resources << /Font << /F1 3 0 R >> >> /Contents {len(objects)} 0 R >>")
            made[text] = f"{len(objects)} 0 R"
        kids.append(made[text])
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def handbook(tag: str = "") -> bytes:
    """Three pages; only page 2 holds SENTENCE (`tag` makes the bytes differ)."""
    return pdf([f"Staff handbook {tag}. Opening hours and parking.", f"{SENTENCE}.",
                "Holidays are booked through the office."])


def long_report(tag: str, pages: int) -> bytes:
    """A PDF whose ingest takes a while (pypdf: about 0.3 ms a page) but whose upload does not
    (6 bytes a page: every page is the same one)."""
    return pdf([f"Report {tag}: budgets, plans and the weather in spring."] * pages)


def corrupt() -> bytes:
    """Starts like a PDF, then is not one: no objects, no cross-reference table."""
    return b"%PDF-1.4\n" + b"this file was cut off in transit\n" * 40


def sent_upload(data: bytes, filename: str, content_type: str = "application/pdf") -> str:
    return f"POST /documents with file={filename} ({content_type}, {size(len(data))})"


class Client:
    """The drill's routes, each request limited in time."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.documents: dict[str, str] = {}  # job id -> the document id its upload answered

    def request(self, method: str, url: str, sent: str, **kwargs: Any) -> Any:
        return within(REQUEST_LIMIT, lambda: self.client.request(method, url, **kwargs), sent=sent)

    def upload(self, data: bytes, filename: str = "handbook.pdf", content_type: str = "application/pdf") -> Any:
        return self.request("POST", "/documents", sent_upload(data, filename, content_type),
                            files={"file": (filename, data, content_type)})

    def uploaded(self, data: bytes, filename: str = "handbook.pdf") -> str:
        """The job id of an accepted upload; a failure unless it was 202 with one."""
        return self.job_id_of(self.upload(data, filename), sent_upload(data, filename))

    def uploaded_together(self, files: list[tuple[bytes, str]]) -> list[str]:
        """The job ids of uploads sent at once, each body's last piece held until every one
        has arrived (grader.asgi.Together): their handlers run, and queue their jobs, together."""
        together = Together(len(files))

        def one(file: tuple[bytes, str]) -> str:
            data, filename = file
            body = Multipart((FilePart("file", filename, "application/pdf", len(data), head=data),))
            sent = sent_upload(data, filename)
            headers = {"content-type": body.content_type, "content-length": str(len(body))}
            response = within(REQUEST_LIMIT, lambda: self.client.drive(
                "POST", "/documents", body=body.pieces(), headers=headers, together=together), sent=sent)
            return self.job_id_of(response, sent)

        with ThreadPoolExecutor(len(files)) as pool:
            return list(pool.map(one, files))

    def job_id_of(self, response: Any, sent: str) -> str:
        body = json_body(response, sent=sent)
        job_id = body.get("job_id") if isinstance(body, dict) else None
        # Only the id: whether the status is 202 is docchat.accepts_pdf_202's question.
        if not 200 <= (response.status_code or 0) < 300 or not isinstance(job_id, str) or not job_id:
            fail(sent=sent, got=describe(response), expected=f"202 with {UPLOADED}",
                 note="this check needs what docchat.accepts_pdf_202 checks first")
        self.documents[job_id] = body.get("document_id") or job_id
        return job_id

    def job(self, job_id: str) -> dict:
        sent = f"GET /jobs/{job_id}"
        response = self.request("GET", f"/jobs/{job_id}", sent)
        body = json_body(response, sent=sent)
        if response.status_code != 200 or not isinstance(body, dict):
            fail(sent=sent, got=describe(response), expected='200 with the job: {"job_id", "status", "error"}')
        return body

    def settle(self, job_ids: Iterable[str], seconds: float = SETTLE_LIMIT) -> dict[str, dict]:
        """Each job as last seen: once all are done or failed, or after `seconds`."""
        pending, latest = list(job_ids), {}
        end = time.monotonic() + seconds
        while True:
            for job_id in pending:
                latest[job_id] = self.job(job_id)
            pending = [j for j in pending if latest[j].get("status") not in FINAL]
            if not pending or time.monotonic() > end:
                return latest
            time.sleep(0.02)

    def settle_behind(self, job_ids: list[str], probe: bytes) -> tuple[dict[str, dict], list[str]]:
        """Each job as last seen, and those a queue has lost: still queued after two uploads
        made later (probes), one after the other, were each taken off the queue and done.

        No waiting for a quiet spell: a first-in-first-out queue takes a job before any job
        queued after it, so a job a later one overtook is one nothing is going to run. Two
        rounds, because a worker that has just taken a job has not marked it yet.
        """
        end = time.monotonic() + SETTLE_LIMIT
        latest, overtaken = {j: self.job(j) for j in job_ids}, 0
        while (pending := [j for j in job_ids if latest[j].get("status") not in FINAL]) and time.monotonic() < end:
            queued = {j for j in pending if latest[j].get("status") == "queued"}
            if not queued:  # all of them running: they end, or the time is up
                latest.update(self.settle(pending, end - time.monotonic()))
                break
            probe_id = self.uploaded(probe, "probe.pdf")
            if self.settle([probe_id], end - time.monotonic())[probe_id].get("status") != "done":
                fail(sent=f"{sent_upload(probe, 'probe.pdf')} after the restart, then GET /jobs/{probe_id}",
                     got="it was not done", expected=f"done within {SETTLE_LIMIT:g} s",
                     note="after a restart the consumer must run new jobs too: start it in the lifespan")
            latest.update({j: self.job(j) for j in pending})
            still = sorted(j for j in queued if latest[j].get("status") == "queued")
            overtaken = overtaken + 1 if still else 0
            if overtaken == 2:
                return latest, still
        return latest, []

    def ingested(self, data: bytes, filename: str = "handbook.pdf") -> str:
        """Upload a PDF and wait for its job to be done; its document id (the job's)."""
        response_id = self.uploaded(data, filename)
        job = self.settle([response_id])[response_id]
        if job.get("status") != "done":
            fail(sent=f"{sent_upload(data, filename)}, then GET /jobs/{response_id} until it settled",
                 got=f"status {job.get('status')!r}, error {job.get('error')!r}", expected='"done"',
                 note="this check needs what docchat.ingests_to_done checks first")
        return self.documents[response_id]

    def chat(self, q: str, document_id: str) -> tuple[Any, sse.Stream]:
        sent = f"GET /chat?q={q}&document_id={document_id}"
        response = self.request("GET", "/chat", sent, params={"q": q, "document_id": document_id})
        return response, sse.parse(response.content)


@dataclass
class DocchatDrill:
    learner: Learner
    llm: FakeLLM
    data_dir: Path
    serve: Any
    seams: dict = field(default_factory=dict)

    @contextmanager
    def running(self) -> Iterator[Client]:
        """The app, started (its consumer too), and stopped when the check leaves it."""
        app = ExitStack()
        client = within(LIFESPAN_LIMIT, lambda: app.enter_context(self.serve(self.learner)),
                        sent="starting the app (lifespan startup)", note=STUCK_STARTING,
                        waiting_for="the startup to finish")
        try:
            yield Client(client)
        except BaseException:
            with suppress(Exception):
                within(LIFESPAN_LIMIT, app.close, sent="stopping the app", note=STUCK_STOPPING)
            raise
        within(LIFESPAN_LIMIT, app.close, sent="stopping the app (lifespan shutdown)",
               note=STUCK_STOPPING, waiting_for="the shutdown to finish")


@pytest.fixture
def docchat(load_learner, serve, workdir: Path) -> Iterator[DocchatDrill]:
    llm = FakeLLM()
    data_dir = workdir / "data"
    data_dir.mkdir()
    seams = {"DATA_DIR": data_dir, "MAX_BYTES": MAX_BYTES, "llm": llm}
    yield DocchatDrill(load_learner(seams), llm, data_dir.resolve(), serve, seams)


# -- the page, in a real browser ---------------------------------------------------------------

PAGE_S = 8.0  # Chromium's start, the upload, the ingest and the whole answer: inside the check's limit
INGEST_S = 3.0  # from the upload until the page shows the job done


@dataclass
class PageRun:
    """What a user saw doing DocChat's page in a real browser, step by step."""

    page_status: int | None = None  # what GET / answered
    uploaded_how: str = ""  # how the file was chosen and sent ('': no file field)
    uploads: list[int] = field(default_factory=list)  # what each request to /documents answered
    done_text: str = ""  # the page's text once it showed the job done, or when the wait ended
    asked_how: str = ""  # how the question was asked ('': no field to ask in)
    held: bool = False  # the LLM was asked, and held at its 2nd token
    streamed_text: str = ""  # the page's text while the LLM held its 2nd token
    text: str = ""  # the page's text at the end
    problems: list[str] = field(default_factory=list)  # script errors, failed loads
    app_errors: list[BaseException] = field(default_factory=list)

    @property
    def job_shown_done(self) -> bool:
        return "done" in self.done_text


def use_page(learner: Learner, llm: FakeLLM, document: Path, executable: str, profile: Path) -> PageRun:
    """Serve the app with uvicorn and, in Chromium, do what a user does: open /, upload
    `document` through the page's form, wait for the job to show done, ask QUESTION, watch
    the answer stream in (the LLM holds its 2nd token until the page shows the 1st), and
    its sources appear. Each step runs only once the one before it worked."""
    from grader.browser import open_browser
    from grader.live_server import serving  # uvicorn: imported only by the check that needs it

    deadline = time.monotonic() + PAGE_S
    llm.tokens = list(PAGE_TOKENS)
    llm.hold(Gate(), released=1)
    run = PageRun()
    with serving(learner.app) as live, open_browser(executable, profile, deadline=deadline) as browser:
        try:
            session = browser.open(f"{live.url}/")
            browser.wait_event("Page.loadEventFired", streaming.PATIENCE)
            run.page_status = next((s for _, s, kind in browser.responses() if kind == "Document"), None)
            if run.page_status == 200:
                _use(browser, session, run, llm, document, live)
        finally:
            llm.release_all()
            run.problems, run.app_errors = browser.page_problems(), list(live.errors)
            run.uploads = [s for url, s, _ in browser.responses() if url.split("?")[0].endswith("/documents")]
    return run


def _use(browser: Any, session: str, run: PageRun, llm: FakeLLM, document: Path, live: Any) -> None:
    run.uploaded_how = browser.upload(session, document)
    if not run.uploaded_how:
        return
    run.done_text = browser.wait_for_text(session, "done", INGEST_S)
    if not run.job_shown_done:
        return
    run.asked_how = browser.ask(session, QUESTION)
    if not run.asked_how:
        return
    end = time.monotonic() + streaming.PATIENCE
    while not (llm.questions and llm.waiting_for == 2) and time.monotonic() < end:
        time.sleep(0.01)
    run.held = bool(llm.questions) and llm.waiting_for == 2
    if run.held:
        run.streamed_text = browser.wait_for_text(session, llm.tokens[0], streaming.PATIENCE)
    llm.release_all()
    answer = "".join(llm.tokens)
    run.text = browser.wait_for_text(session, answer, streaming.STREAM_LIMIT)
    # what else the stream makes the page show (the sources, [DONE]?) comes before its end
    if browser.wait_loaded(streaming.PATIENCE):
        run.text = browser.text(session)
    else:
        run.text = browser.wait_for_text(session, None, streaming.PATIENCE,
                                         settled=lambda: not live.open_requests, still_s=streaming.AFTER_ANSWER_S)
