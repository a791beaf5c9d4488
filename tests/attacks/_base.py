# The drill module every attack ends in: an app with the upload drill's seams and no routes.
from pathlib import Path

from fastapi import FastAPI

UPLOAD_DIR = Path("./uploads")
MAX_BYTES = 20 * 1024 * 1024


def queue_ingest(job_id, path):
    pass


app = FastAPI()
