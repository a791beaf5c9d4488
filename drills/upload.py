"""Drill 1, uploads. Lesson: notebooks/01_uploads.ipynb.

Build POST /upload, the front door of DocChat: accept a PDF, refuse anything else (415) or
anything larger than MAX_BYTES (413), stream it to UPLOAD_DIR in chunks, queue it for
ingestion after the response, and answer 202 with a job id.

Check your work with:  docchat-grade drills/upload.py
Stuck on a check?      docchat-grade hint upload.<check>

The grader swaps `queue_ingest` for its own recorder and reads `UPLOAD_DIR` after import:
call them by these module-level names when a request runs.
"""

from pathlib import Path

from fastapi import FastAPI, UploadFile

UPLOAD_DIR = Path("./uploads")
MAX_BYTES = 20 * 1024 * 1024  # 20 MiB: the largest file you accept

app = FastAPI(title="DocChat uploads")


def queue_ingest(job_id: str, path: Path) -> None:
    """Hand a saved PDF to the ingestion queue. Leave it as it is: the grader replaces it."""


@app.post("/upload")
async def upload(file: UploadFile):
    # A fresh clone has no uploads/ folder, and open() creates files, not folders (lesson 1, section 11).
    UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
    # TODO: refuse anything that is not a PDF with 415, before saving a byte.
    # TODO: make a fresh job id, and stream the file to UPLOAD_DIR in chunks (not file.read()
    #       with no size). Past MAX_BYTES, delete what you wrote and refuse with 413.
    # TODO: have queue_ingest(job_id, path) run after the response is sent.
    # TODO: answer 202 Accepted with {"job_id": ..., "status": "queued"}.
    return {"filename": file.filename}


# TODO (going further): POST /upload-many taking several `files`; see the lesson's last part.
