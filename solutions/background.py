"""Drill 5, background jobs: one solution. Lesson: notebooks/05_background_jobs.ipynb.

POST /upload saves the PDF, records a "queued" job and answers 202 at once. A worker that the
lifespan starts and stops runs the slow, synchronous `ingest` in a thread, one job at a time,
retries a failure up to MAX_ATTEMPTS, and records "done" or "failed". GET /jobs/{job_id}
reports the job. `send_confirmation` is a short side effect, so it stays a BackgroundTasks
task. The job table is SQLite (the standard library's `sqlite3`) beside the uploads, and it
is the queue too: a job still queued, or cut off mid-ingest, when the app stops is run when
it starts again. Grade it with `docchat-grade solutions/background.py`.

When to move this to a real queue (Celery, or RQ with Redis)
-------------------------------------------------------------
This worker lives inside the web process. Move ingestion to Celery or RQ when:

- the API runs as several processes or machines: each would start its own worker on its
  own SQLite file, and a job uploaded to one machine is invisible to the others;
- ingestion needs more (or different) capacity than the web servers: many workers for a
  backlog, GPU machines for embeddings, scaled on their own;
- you need what queues already do well: retries with backoff, time limits, rate limits,
  scheduled jobs, a dashboard (Flower, rq-dashboard), alerts on failures.

What changes:

- Redis holds the queue. The route enqueues instead of inserting a row:
  `ingest_pdf.delay(job_id, key)` (Celery) or `queue.enqueue(ingest, job_id, key,
  retry=Retry(max=2))` (RQ). The lifespan opens the Redis connection; it starts no worker.
- Workers are separate processes (`celery -A docchat worker`, `rq worker`), deployed and
  scaled apart from the API, and they survive its restarts.
- The file must be where every worker can read it (object storage such as S3, or a shared
  disk), so the job carries a storage key, not a local path.
- Job status lives in a database the API and the workers share (or the queue's result
  backend); GET /jobs/{job_id} reads it there.
- Delivery is at least once: a worker that dies mid-job gets the job again (Celery's
  `acks_late`), so `ingest` must be safe to run twice. This file already follows that rule
  when it re-queues jobs a shutdown cut off.
"""

import asyncio
import sqlite3
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Annotated
from uuid import uuid4

from fastapi import BackgroundTasks, Depends, FastAPI, File, Form, HTTPException, Request, UploadFile, status

UPLOAD_DIR = Path("./uploads")
CHUNK = 1024 * 1024
MAX_ATTEMPTS = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id   TEXT PRIMARY KEY,
    path     TEXT NOT NULL,
    status   TEXT NOT NULL,
    error    TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
)"""


def ingest(job_id: str, path: Path) -> None:
    """Embed a saved PDF: the slow, synchronous part of DocChat (the grader replaces it)."""


def send_confirmation(email: str, filename: str) -> None:
    """Tell the user their upload arrived (a real app sends an email)."""


class JobStore:
    """The job table, which is also the queue: queued jobs are taken oldest first.

    Every method runs on the event loop's thread (async routes and the worker task), so the
    connection is never shared between threads. Each call is a quick local read or write.
    """

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)  # autocommit: every write is kept
        self.db.row_factory = sqlite3.Row
        # Fast commits: with a write-ahead log, an app crash loses no committed job (a power
        # cut may lose the last few). Without these, each write waits for the disk.
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(SCHEMA)
        # A job the last shutdown cut off mid-ingest runs again; ingest must be safe to repeat.
        self.db.execute("UPDATE jobs SET status = 'queued' WHERE status = 'processing'")

    def add(self, job_id: str, path: Path) -> None:
        self.db.execute("INSERT INTO jobs (job_id, path, status) VALUES (?, ?, 'queued')",
                        (job_id, str(path)))

    def get(self, job_id: str) -> dict | None:
        row = self.db.execute("SELECT job_id, status, error, attempts FROM jobs WHERE job_id = ?",
                              (job_id,)).fetchone()
        return dict(row) if row else None

    def claim(self) -> sqlite3.Row | None:
        """Mark the oldest queued job as processing, count the attempt, and return it."""
        # One statement, so even two workers could never claim the same job.
        return self.db.execute(
            "UPDATE jobs SET status = 'processing', attempts = attempts + 1 WHERE job_id = "
            "(SELECT job_id FROM jobs WHERE status = 'queued' ORDER BY rowid LIMIT 1) "
            "RETURNING job_id, path, attempts").fetchone()

    def set_status(self, job_id: str, new_status: str, error: str | None = None) -> None:
        self.db.execute("UPDATE jobs SET status = ?, error = ? WHERE job_id = ?", (new_status, error, job_id))

    def close(self) -> None:
        self.db.close()


async def work(jobs: JobStore, wakeup: asyncio.Event) -> None:
    """Run queued jobs one at a time; sleep until an upload wakes the worker."""
    while True:
        job = jobs.claim()
        if job is None:
            wakeup.clear()
            await wakeup.wait()
            continue
        try:
            # ingest blocks for minutes: in a thread, the event loop keeps answering requests.
            await asyncio.to_thread(ingest, job["job_id"], Path(job["path"]))
        except Exception as exc:
            if job["attempts"] < MAX_ATTEMPTS:
                jobs.set_status(job["job_id"], "queued")
            else:
                jobs.set_status(job["job_id"], "failed", f"{type(exc).__name__}: {exc}")
        else:
            jobs.set_status(job["job_id"], "done")


@asynccontextmanager
async def lifespan(app: FastAPI):
    UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
    app.state.jobs = JobStore(UPLOAD_DIR / "jobs.sqlite3")
    app.state.wakeup = asyncio.Event()
    worker = asyncio.create_task(work(app.state.jobs, app.state.wakeup))
    try:
        yield
    finally:
        # Cancelling leaves a job cut off mid-ingest "processing"; the next startup re-queues it.
        worker.cancel()
        with suppress(asyncio.CancelledError):
            await worker
        app.state.jobs.close()


app = FastAPI(title="DocChat ingestion", lifespan=lifespan)


async def get_jobs(request: Request) -> JobStore:
    return request.app.state.jobs


Jobs = Annotated[JobStore, Depends(get_jobs)]


@app.post("/upload", status_code=status.HTTP_202_ACCEPTED)
async def upload(
    file: Annotated[UploadFile, File(description="The PDF to ingest")],
    email: Annotated[str, Form(description="Where to send the confirmation")],
    jobs: Jobs,
    request: Request,
    tasks: BackgroundTasks,
) -> dict[str, str]:
    job_id = str(uuid4())
    dest = UPLOAD_DIR / f"{job_id}.pdf"
    with dest.open("wb") as out:
        while chunk := await file.read(CHUNK):
            out.write(chunk)
    jobs.add(job_id, dest)
    request.app.state.wakeup.set()
    # A short side effect the client need not wait for: after the response.
    tasks.add_task(send_confirmation, email, file.filename)
    return {"job_id": job_id, "status": "queued"}


@app.get("/jobs/{job_id}")
async def get_job(job_id: str, jobs: Jobs) -> dict:
    job = jobs.get(job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Unknown job")
    return job
