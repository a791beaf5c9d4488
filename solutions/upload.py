"""Drill 1, uploads: one solution. Lesson: notebooks/01_uploads.ipynb.

POST /upload accepts a PDF, streams it to UPLOAD_DIR in chunks, refuses anything else with
415 and anything over MAX_BYTES with 413, queues ingestion after the response, and answers
202 with a job id. Grade it with `docchat-grade solutions/upload.py`.
"""

from pathlib import Path
from typing import Annotated
from uuid import uuid4

from fastapi import BackgroundTasks, FastAPI, File, HTTPException, UploadFile, status

UPLOAD_DIR = Path("./uploads")
MAX_BYTES = 20 * 1024 * 1024
CHUNK = 1024 * 1024
PDF_MAGIC = b"%PDF-"
# max_body_size counts the whole multipart body, part headers included: leave them room,
# and let the byte count below enforce MAX_BYTES exactly.
BODY_LIMIT = MAX_BYTES + 64 * 1024

ERRORS = {
    413: {"description": "The file is larger than MAX_BYTES"},
    415: {"description": "The file is not a PDF"},
}

app = FastAPI(title="DocChat uploads")


def queue_ingest(job_id: str, path: Path) -> None:
    """Hand a saved PDF to the ingestion queue (a real app would enqueue a Celery/RQ job)."""


async def save_pdf(file: UploadFile) -> tuple[str, Path]:
    """Stream one PDF to disk; refuse it, leaving nothing behind, if it is not acceptable."""
    if file.content_type != "application/pdf":
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "Only PDF files are accepted")
    first = await file.read(CHUNK)
    # The content type is the client's claim; the first bytes are the file's own.
    if not first.startswith(PDF_MAGIC):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "That file is not a PDF")
    job_id = str(uuid4())
    # UPLOAD_DIR is read at call time (the grader may swap it); the client's filename is
    # never part of the path, so "../../x.pdf" cannot escape.
    UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
    dest = UPLOAD_DIR / f"{job_id}.pdf"
    written = 0
    try:
        with dest.open("wb") as out:
            chunk = first
            while chunk:
                written += len(chunk)
                if written > MAX_BYTES:
                    raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                                        f"File too large ({MAX_BYTES // (1024 * 1024)} MB max)")
                out.write(chunk)
                chunk = await file.read(CHUNK)
    except BaseException:
        dest.unlink(missing_ok=True)  # no partial file survives a refusal or a crash
        raise
    return job_id, dest


@app.post("/upload", status_code=status.HTTP_202_ACCEPTED, responses=ERRORS,
          max_body_size=BODY_LIMIT)
async def upload(
    file: Annotated[UploadFile, File(description="The PDF to ingest")],
    tasks: BackgroundTasks,
) -> dict[str, str]:
    job_id, dest = await save_pdf(file)
    # Runs after the response is sent: the client never waits for ingestion.
    tasks.add_task(queue_ingest, job_id, dest)
    return {"job_id": job_id, "status": "queued"}


@app.post("/upload-many", status_code=status.HTTP_202_ACCEPTED, responses=ERRORS)
async def upload_many(
    files: Annotated[list[UploadFile], File(description="PDFs to ingest")],
    tasks: BackgroundTasks,
) -> list[dict[str, str]]:
    jobs = []
    for file in files:
        job_id, dest = await save_pdf(file)
        tasks.add_task(queue_ingest, job_id, dest)
        jobs.append({"filename": file.filename, "job_id": job_id})
    return jobs
