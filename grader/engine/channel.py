"""The report channel: JSON lines on a pipe the parent created, never on stdout.

The learner's prints, exits and crashes cannot produce a record here by accident, and the
parent treats a check without a `result` record as an error, never as a pass.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

_WRITING = threading.Lock()  # one record at a time, whichever thread (and Channel on the pipe) sends it


class Channel:
    """The child's end: one JSON object per line, flushed at once."""

    def __init__(self, fd: int) -> None:
        self._file = os.fdopen(fd, "w", buffering=1, encoding="utf-8", closefd=True)

    def send(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, **fields}) + "\n"
        with _WRITING:  # a record longer than the pipe's atomic write must not interleave with another
            self._file.write(line)
            self._file.flush()


class Lines:
    """The parent's end: turns raw pipe reads into complete JSON records."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[dict]:
        self._buffer += data
        *complete, self._buffer = self._buffer.split(b"\n")
        records = []
        for line in complete:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "event" in record:
                records.append(record)
        return records
