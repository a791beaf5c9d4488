"""Drill 5, background jobs. Lesson: notebooks/05_background_jobs.ipynb.

Build DocChat's ingestion flow: POST /upload saves the PDF, records a job and answers 202 at
once; a worker that starts and stops with the app runs the slow `ingest` off the request;
GET /jobs/{job_id} says how the job is doing. A confirmation email goes out after the
response.

Check your work with:  docchat-grade drills/background.py
Stuck on a check?      docchat-grade hint background.<check>

The grader swaps `UPLOAD_DIR`, `ingest` and `send_confirmation` for its own: call them by
these module-level names when a request or the worker runs.
"""

from pathlib import Path

from fastapi import FastAPI, UploadFile

UPLOAD_DIR = Path("./uploads")

# TODO: a lifespan that starts a worker (an asyncio task taking jobs off a queue) and stops
#       it on shutdown; pass it to FastAPI(lifespan=...).
app = FastAPI(title="DocChat ingestion")


def ingest(job_id: str, path: Path) -> None:
    """Embed a saved PDF: slow and synchronous. Leave it as it is: the grader replaces it."""


def send_confirmation(email: str, filename: str) -> None:
    """Tell the user their upload arrived. Leave it as it is: the grader replaces it."""


@app.post("/upload")
async def upload(file: UploadFile):
    # A fresh clone has no uploads/ folder, and open() creates files, not folders (lesson 1, section 11).
    UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
    # TODO: also take the form field `email`.
    # TODO: save the file under UPLOAD_DIR with a fresh job id, record the job as
    #       {"job_id": ..., "status": "queued", "error": None}, and put it on the queue.
    #       The worker, not this route, calls ingest(job_id, path).
    # TODO: have send_confirmation(email, file.filename) run after the response is sent.
    # TODO: answer 202 Accepted with {"job_id": ..., "status": "queued"}.
    return {"filename": file.filename}


# TODO: GET /jobs/{job_id} answers {"job_id", "status", "error"}; an unknown id gets 404.
# TODO (going further): retries with an "attempts" count, and jobs that survive a restart;
#       see the lesson's last part.
