"""Drill 6, DocChat end to end (the capstone). Lesson: notebooks/06_docchat.ipynb.

Assemble the product the course builds: POST /documents takes a PDF and answers 202 with a
job id; a job on a real queue (Huey) reads its text page by page with pypdf, cuts it into
overlapping chunks and indexes them in SQLite FTS5; GET /jobs/{job_id} follows the job;
GET /chat streams an answer from the best chunks as Server-Sent Events, then the sources,
then [DONE]; GET / is a page that does all of it in a browser.

Check your work with:  docchat-grade drills/docchat.py
Stuck on a check?      docchat-grade hint docchat.<check>
See it run:            uvicorn drills.docchat:app, then open http://127.0.0.1:8000/

The grader swaps `DATA_DIR`, `MAX_BYTES` and `llm` for its own: use them by these
module-level names when a request or a job runs, never copies taken at import.
"""

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, UploadFile
from fastapi.responses import HTMLResponse
from huey import RedisHuey, SqliteHuey
from huey.consumer import Consumer
from pypdf import PdfReader

DATA_DIR = Path("./docchat-data")
MAX_BYTES = 20 * 1024 * 1024
CHUNK_WORDS, OVERLAP_WORDS = 120, 30
TOP_K = 3
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


class OfflineLLM:
    """The default `llm`: answers by quoting the best chunks, so DocChat runs without a key."""

    async def stream(self, q: str, context: list[str]) -> AsyncIterator[str]:
        if not context:
            yield "I could not find that in the document."
            return
        yield "From the document:\n"
        for passage in context:
            for word in passage.split():
                await asyncio.sleep(0)
                yield word + " "
            yield "\n"


llm = OfflineLLM()


def connect() -> sqlite3.Connection:
    """A connection of its own for each caller: request handlers and the queue's workers."""
    db = sqlite3.connect(DATA_DIR / "docchat.sqlite3", timeout=30, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    return db


def pdf_path(document_id: str) -> Path:
    return DATA_DIR / "pdfs" / f"{document_id}.pdf"


class ThreadConsumer(Consumer):
    """Huey's consumer run inside the app: threads only, no signal handlers (not the main thread)."""

    def _set_signal_handlers(self) -> None:
        pass


def pages_of(path: Path) -> list[str]:
    # TODO: the text of each page with PdfReader(path); raise an error that says which when the
    #       PDF is encrypted, corrupt (pypdf raises while reading it) or has no text at all.
    raise NotImplementedError


def chunks_of(text: str) -> list[str]:
    # TODO: runs of CHUNK_WORDS words, each repeating the last OVERLAP_WORDS of the one before.
    raise NotImplementedError


def ingest(document_id: str) -> None:
    # TODO: the job: mark the document "processing", index each chunk of each page in the
    #       `chunks` table (with its page number), then mark it "done"; a PDF that cannot be
    #       read ends "failed" with the reason in `error`.
    raise NotImplementedError


# TODO: a lifespan that creates DATA_DIR/pdfs and the tables (SCHEMA), makes the queue
#       (SqliteHuey in DATA_DIR, or RedisHuey when DOCCHAT_REDIS_URL is set), registers
#       `ingest` as its task, starts a ThreadConsumer and stops it on shutdown.
app = FastAPI(title="DocChat")


@app.post("/documents")
async def upload(file: UploadFile):
    # TODO: PDFs only (415 otherwise), at most MAX_BYTES (413, leaving no file behind),
    #       streamed in chunks to pdf_path(<a fresh id>); record the document as "queued",
    #       enqueue its ingest job and answer 202 {"job_id", "document_id", "status": "queued"}.
    return {"filename": file.filename}


# TODO: GET /jobs/{job_id} answers {"job_id", "status", "error"}.
# TODO: GET /documents, GET /documents/{document_id}, and DELETE /documents/{document_id}
#       (204; its file, its row and its chunks gone).
# TODO: one error envelope for the whole API: {"error": <code>, "detail": ...}, 404 included.
# TODO: GET /chat?q=...&document_id=...: 409 (in the envelope) until the document is done;
#       then the best TOP_K chunks by bm25, `llm.stream(q, [their texts])` as SSE events
#       (multi-line safe), an `event: sources` with each chunk's page, and a last [DONE].


@app.get("/", response_class=HTMLResponse)
async def page() -> str:
    # TODO: one page, no CDN: upload with progress, the job's status, then a chat box whose
    #       answer streams in and lists its sources.
    return "<!doctype html><title>DocChat</title><p>Nothing here yet."
