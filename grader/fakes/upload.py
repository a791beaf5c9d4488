"""The upload drill's seams: a recording `queue_ingest`, and where uploads land."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grader.asgi import Timeline
from grader.files import is_regular, read_regular, regular_files
from grader.engine.learner import Learner, LearnerError


@dataclass(frozen=True)
class IngestCall:
    job_id: object
    path: Path
    existed: bool


@dataclass
class FakeQueueIngest:
    """Stands in for `queue_ingest`: records each call, and whether the file was there."""

    timeline: Timeline
    calls: list[IngestCall] = field(default_factory=list)

    def __call__(self, job_id: object, path: object) -> None:
        self.timeline.mark("queue_ingest")
        resolved = Path(os.path.abspath(str(path)))
        self.calls.append(IngestCall(job_id, resolved, is_regular(resolved)))

    def wait_for(self, count: int, seconds: float = 0.3) -> list[IngestCall]:
        """The calls so far, giving work scheduled off the request a moment to run."""
        end = time.monotonic() + seconds
        while len(self.calls) < count and time.monotonic() < end:
            time.sleep(0.01)
        return list(self.calls)


@dataclass
class UploadDrill:
    learner: Learner
    ingest: FakeQueueIngest
    timeline: Timeline

    @property
    def max_bytes(self) -> int:
        return int(self.learner.module.MAX_BYTES)

    @property
    def upload_dir(self) -> Path:
        return Path(os.path.abspath(str(self.learner.module.UPLOAD_DIR)))

    def saved_files(self) -> set[Path]:
        return regular_files(self.upload_dir)

    @staticmethod
    def read(path: Path) -> bytes:
        """A saved file's bytes (b"" if it is gone, or is not a regular file)."""
        return read_regular(path) or b""


@pytest.fixture
def upload(load_learner) -> UploadDrill:
    timeline = Timeline()
    ingest = FakeQueueIngest(timeline)
    learner = load_learner({"queue_ingest": ingest})
    for name in ("UPLOAD_DIR", "MAX_BYTES"):
        if not hasattr(learner.module, name):
            raise LearnerError(f"{learner.path.name} has no module-level `{name}`: the drill needs it")
    return UploadDrill(learner, ingest, timeline)
