"""Drill 6, DocChat end to end: one solution. Lesson: notebooks/06_docchat.ipynb.

Upload a PDF (POST /documents answers 202 with a job id), a Huey job reads its text page by
page with pypdf, cuts it into overlapping chunks and indexes them in SQLite FTS5; GET
/jobs/{job_id} follows the job; GET /chat streams an answer from the best chunks (bm25) as
Server-Sent Events, then the sources, then [DONE]. Everything lives in DATA_DIR: the PDFs,
the index and, by default, Huey's queue (SqliteHuey, its consumer threads started and
stopped by the lifespan). With DOCCHAT_REDIS_URL set the queue is Redis and the workers are
processes of their own, run where DATA_DIR is the app's (a shared disk when the machines
differ): `huey_consumer solutions.docchat.huey`. Run it: `uvicorn solutions.docchat:app`, open
http://127.0.0.1:8000/. Grade it with `docchat-grade solutions/docchat.py`.
"""

import asyncio
import os
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from http import HTTPStatus
from pathlib import Path
from typing import Annotated
from uuid import uuid4

from fastapi import Depends, FastAPI, File, Request, UploadFile, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from huey import Huey, RedisHuey, SqliteHuey
from huey.api import TaskWrapper
from huey.consumer import Consumer
from pypdf import PdfReader
from pypdf.errors import PdfReadError
from starlette.exceptions import HTTPException as StarletteHTTPException

DATA_DIR = Path("./docchat-data")
MAX_BYTES = 20 * 1024 * 1024
CHUNK = 1024 * 1024  # bytes read from the upload at a time
CHUNK_WORDS, OVERLAP_WORDS = 120, 30  # a chunk of the text, and how much the next repeats
TOP_K = 3
RETRIES, RETRY_DELAY = 2, 1  # a job that raised runs again, this many times, after this many s
DONE = "[DONE]"

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id       TEXT PRIMARY KEY,
    filename TEXT NOT NULL,
    status   TEXT NOT NULL,
    error    TEXT,
    pages    INTEGER
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks USING fts5(
    text, document_id UNINDEXED, page UNINDEXED, chunk UNINDEXED
);
"""


class Unreadable(Exception):
    """A PDF that ingestion can never read (encrypted, corrupt, no text): no retry helps."""


class OfflineLLM:
    """The default `llm`: answers by quoting the best chunks, so DocChat runs without a key.

    Any object with `stream(q, context)` fits; the lesson points one at an OpenAI-compatible
    endpoint (DOCCHAT_LLM_URL).
    """

    async def stream(self, q: str, context: list[str]) -> AsyncIterator[str]:
        if not context:
            yield "I could not find that in the document."
            return
        yield "From the document:\n"
        for passage in context:
            for word in passage.split():
                await asyncio.sleep(0)  # one token at a time, like a model
                yield word + " "
            yield "\n"


llm = OfflineLLM()


# --- storage: one SQLite file for documents, jobs and the full-text index -----------------

def connect() -> sqlite3.Connection:
    """A connection of its own for each caller: request handlers and Huey's worker threads."""
    db = sqlite3.connect(DATA_DIR / "docchat.sqlite3", timeout=30, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    return db


def pdf_path(document_id: str) -> Path:
    return DATA_DIR / "pdfs" / f"{document_id}.pdf"


def set_status(document_id: str, new_status: str, error: str | None = None) -> None:
    with connect() as db:
        db.execute("UPDATE documents SET status = ?, error = ? WHERE id = ?", (new_status, error, document_id))


def find(document_id: str) -> dict | None:
    with connect() as db:
        row = db.execute("SELECT id, filename, status, error, pages FROM documents WHERE id = ?",
                         (document_id,)).fetchone()
    return dict(row) if row else None


# --- ingestion: the job -------------------------------------------------------------------

def pages_of(path: Path) -> list[str]:
    """The text of each page; Unreadable says why there is none."""
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise Unreadable("the PDF is encrypted")
        texts = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise Unreadable(f"the PDF is corrupt ({type(exc).__name__}: {exc})") from None
    if not any(text.strip() for text in texts):
        raise Unreadable("the PDF has no extractable text (a scan needs OCR first)")
    return texts


def chunks_of(text: str) -> list[str]:
    """Overlapping runs of words, so a sentence cut at one chunk's end is whole in the next."""
    words = text.split()
    step = CHUNK_WORDS - OVERLAP_WORDS
    return [" ".join(words[i:i + CHUNK_WORDS]) for i in range(0, max(len(words) - OVERLAP_WORDS, 1), step)]


def ingest(document_id: str) -> None:
    """Read, chunk and index one document. Safe to run twice: its old rows go first."""
    set_status(document_id, "processing")
    pages = pages_of(pdf_path(document_id))
    rows = [(chunk, document_id, number, n)
            for number, text in enumerate(pages, 1) for n, chunk in enumerate(chunks_of(text)) if chunk]
    with connect() as db:
        db.execute("BEGIN IMMEDIATE")  # take the write lock now: no upgrade that can fail mid-way
        db.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))
        db.executemany("INSERT INTO chunks (text, document_id, page, chunk) VALUES (?, ?, ?, ?)", rows)
        db.execute("UPDATE documents SET status = 'done', error = NULL, pages = ? WHERE id = ?",
                   (len(pages), document_id))
        db.execute("COMMIT")


def run_ingest(document_id: str, task=None) -> None:
    """The Huey task: a document that can never be read fails at once; other errors retry."""
    if find(document_id) is None:
        return  # deleted while it waited
    try:
        ingest(document_id)
    except Unreadable as exc:
        set_status(document_id, "failed", str(exc))
    except Exception as exc:
        if task is not None and task.retries > 0:
            set_status(document_id, "queued", f"retrying after {type(exc).__name__}: {exc}")
        else:
            set_status(document_id, "failed", f"{type(exc).__name__}: {exc}")
        raise  # Huey schedules the retry


# Huey names a task after its function's module, and this file may be imported under other
# names than `solutions.docchat` (by the grader, by a test): one fixed name lets the app and
# its workers agree on the jobs in the queue.
run_ingest.__module__ = "docchat"


def make_queue() -> TaskWrapper:
    """The ingest task on its queue: calling it enqueues a job (`.huey` is the queue).

    Redis when DOCCHAT_REDIS_URL says so (workers anywhere), else a file in DATA_DIR.
    """
    url = os.environ.get("DOCCHAT_REDIS_URL")
    huey = RedisHuey("docchat", url=url) if url else SqliteHuey("docchat", filename=str(DATA_DIR / "queue.sqlite3"))
    return huey.task(retries=RETRIES, retry_delay=RETRY_DELAY, context=True, name="ingest")(run_ingest)


def __getattr__(name: str) -> Huey:
    """The module's `huey`, for `huey_consumer solutions.docchat.huey` (the workers, with Redis):
    made when asked for, so that DATA_DIR and DOCCHAT_REDIS_URL are the ones then in force."""
    if name == "huey":
        return make_queue().huey
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ThreadConsumer(Consumer):
    """Huey's consumer run inside the app: threads only, no signal handlers (not the main thread)."""

    def _set_signal_handlers(self) -> None:
        pass


def setup() -> TaskWrapper:
    (DATA_DIR / "pdfs").mkdir(parents=True, exist_ok=True)
    with connect() as db:
        db.executescript(SCHEMA)
    return make_queue()


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.ingest = setup()
    consumer = None
    if not os.environ.get("DOCCHAT_REDIS_URL"):  # with Redis, workers are processes of their own
        # Workers poll the queue file: every 10 ms after a job, backing off to every 0.5 s when idle.
        consumer = ThreadConsumer(app.state.ingest.huey, workers=2, periodic=False, initial_delay=0.01, max_delay=0.5)
        consumer.start()
    try:
        yield
    finally:
        if consumer is not None:
            consumer.stop(graceful=True)  # the job running finishes; queued ones wait in the file


app = FastAPI(title="DocChat", lifespan=lifespan)


async def get_ingest(request: Request) -> TaskWrapper:
    return request.app.state.ingest


Ingest = Annotated[TaskWrapper, Depends(get_ingest)]


# --- one error envelope: {"error": <code>, "detail": ...} ---------------------------------

def envelope(status_code: int, detail: object, headers: dict | None = None) -> JSONResponse:
    code = HTTPStatus(status_code).phrase.lower().replace(" ", "_")
    return JSONResponse(status_code=status_code, content={"error": code, "detail": detail}, headers=headers)


@app.exception_handler(StarletteHTTPException)
async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return envelope(exc.status_code, exc.detail, exc.headers)


@app.exception_handler(RequestValidationError)
async def validation_failed(request: Request, exc: RequestValidationError) -> JSONResponse:
    detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return envelope(422, detail)


def document_or_404(document_id: str) -> dict:
    document = find(document_id)
    if document is None:
        raise StarletteHTTPException(404, f"No document {document_id}")
    return document


# --- routes -------------------------------------------------------------------------------

@app.post("/documents", status_code=status.HTTP_202_ACCEPTED)
async def upload(file: Annotated[UploadFile, File(description="A PDF")], ingest_job: Ingest) -> dict:
    first = await file.read(CHUNK)
    if file.content_type != "application/pdf" or not first.startswith(b"%PDF-"):
        raise StarletteHTTPException(415, "Only PDF files are accepted")
    document_id = str(uuid4())
    dest, written = pdf_path(document_id), 0
    try:
        with dest.open("wb") as out:
            chunk = first
            while chunk:
                written += len(chunk)
                if written > MAX_BYTES:
                    raise StarletteHTTPException(413, f"The file is larger than {MAX_BYTES} bytes")
                out.write(chunk)
                chunk = await file.read(CHUNK)
    except StarletteHTTPException:
        dest.unlink(missing_ok=True)
        raise
    with connect() as db:
        db.execute("INSERT INTO documents (id, filename, status) VALUES (?, ?, 'queued')",
                   (document_id, file.filename or "upload.pdf"))
    ingest_job(document_id)  # enqueues; a worker thread (or process) runs it
    return {"job_id": document_id, "document_id": document_id, "status": "queued"}


@app.get("/jobs/{job_id}")
async def get_job(job_id: str) -> dict:
    document = document_or_404(job_id)
    return {"job_id": job_id, "status": document["status"], "error": document["error"]}


@app.get("/documents")
async def list_documents() -> list[dict]:
    with connect() as db:
        return [dict(row) for row in db.execute("SELECT id, filename, status, error, pages FROM documents")]


@app.get("/documents/{document_id}")
async def get_document(document_id: str) -> dict:
    return document_or_404(document_id)


@app.delete("/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_document(document_id: str) -> Response:
    document_or_404(document_id)
    with connect() as db:
        db.execute("BEGIN IMMEDIATE")  # take the write lock now: no upgrade that can fail mid-way
        db.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))
        db.execute("DELETE FROM documents WHERE id = ?", (document_id,))
        db.execute("COMMIT")
    pdf_path(document_id).unlink(missing_ok=True)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def search(document_id: str, q: str) -> list[dict]:
    """The best chunks for the question, by bm25; each word of it is a quoted FTS5 term."""
    terms = " OR ".join(f'"{word}"' for word in re.findall(r"\w+", q))
    if not terms:
        return []
    with connect() as db:
        rows = db.execute(
            "SELECT text, page, chunk FROM chunks WHERE chunks MATCH ? AND document_id = ? "
            "ORDER BY bm25(chunks) LIMIT ?", (f"text: ({terms})", document_id, TOP_K)).fetchall()
    return [dict(row) for row in rows]


def ingested(document_id: str) -> dict:
    """The document, if chat can use it; a dependency, so it runs before the stream starts."""
    document = document_or_404(document_id)
    if document["status"] != "done":
        raise StarletteHTTPException(409, f"The document is {document['status']}, not ingested yet")
    return document


@app.get("/chat", response_class=EventSourceResponse)
async def chat(q: str, document: Annotated[dict, Depends(ingested)]) -> AsyncIterator[ServerSentEvent]:
    hits = await asyncio.to_thread(search, document["id"], q)
    # aclosing: when the client leaves, the LLM stream is closed at once.
    async with aclosing(llm.stream(q, [hit["text"] for hit in hits])) as tokens:
        async for token in tokens:
            yield ServerSentEvent(raw_data=token)  # one `data:` line per line of the token
    sources = [{"page": hit["page"], "chunk": hit["chunk"], "text": hit["text"][:200]} for hit in hits]
    yield ServerSentEvent(data=sources, event="sources")
    yield ServerSentEvent(raw_data=DONE)


@app.get("/", response_class=HTMLResponse)
async def page() -> str:
    return PAGE


PAGE = """<!doctype html>
<meta charset="utf-8">
<title>DocChat</title>
<h1>DocChat</h1>
<form id="upload"><input type="file" name="file" accept="application/pdf"> <button>Upload</button></form>
<progress id="progress" max="100" value="0"></progress> <span id="status"></span>
<form id="ask" hidden><input name="q" placeholder="Ask the PDF" size="40"> <button>Ask</button></form>
<pre id="answer"></pre>
<ol id="sources"></ol>
<script>
  const $ = (id) => document.getElementById(id);
  let documentId = null;
  $("upload").onsubmit = (event) => {
    event.preventDefault();
    const xhr = new XMLHttpRequest();  // fetch cannot report upload progress; XHR can
    xhr.open("POST", "/documents");
    xhr.upload.onprogress = (e) => { $("progress").value = 100 * e.loaded / e.total; };
    xhr.onload = () => {
      const body = JSON.parse(xhr.responseText);
      if (xhr.status !== 202) { $("status").textContent = body.detail; return; }
      documentId = body.document_id;
      poll(body.job_id);
    };
    xhr.send(new FormData($("upload")));
  };
  async function poll(jobId) {
    const job = await (await fetch("/jobs/" + jobId)).json();
    $("status").textContent = job.status + (job.error ? ": " + job.error : "");
    if (job.status === "done") $("ask").hidden = false;
    else if (job.status !== "failed") setTimeout(() => poll(jobId), 300);
  }
  $("ask").onsubmit = (event) => {
    event.preventDefault();
    $("answer").textContent = ""; $("sources").textContent = "";
    const q = new FormData($("ask")).get("q");
    const es = new EventSource("/chat?" + new URLSearchParams({q, document_id: documentId}));
    es.onmessage = (e) => {
      if (e.data === "[DONE]") { es.close(); return; }  // else EventSource reconnects
      $("answer").textContent += e.data;
    };
    es.addEventListener("sources", (e) => {
      for (const s of JSON.parse(e.data)) {
        const li = document.createElement("li");
        li.textContent = `page ${s.page}: ${s.text}`;
        $("sources").append(li);
      }
    });
    es.onerror = () => es.close();
  };
</script>
"""
