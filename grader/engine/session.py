"""The state of one grading run inside the examiner, kept in `config.stash`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from grader.engine.channel import Channel
from grader.engine.learner import Learner


@dataclass
class GradeSession:
    target: Path  # the learner's file as the learner knows it (for messages)
    drill: str
    scratch: Path  # the only folder the learner's code may write to
    channel: Channel
    only: frozenset[str] = frozenset()
    source: bytes = b""  # the file's bytes, as the grader read them once
    template: Any = None  # grader.engine.isolation.Template
    hosts: list = field(default_factory=list)

    def progress(self, text: str) -> None:
        self.channel.send("progress", text=text)

    def app_host(self, workdir: Path) -> Any:
        """A fresh app host (grader.engine.remote.AppHost) working in `workdir`."""
        host = self.template.spawn(workdir)
        self.hosts.append(host)
        return host


PREPARED: dict[str, Any] = {}  # what the examiner started before pytest: template, source, preflight
# (grader.engine.examiner.Preflight)
SESSION = pytest.StashKey[GradeSession]()
LEARNER = pytest.StashKey[Learner]()


def session_of(config: pytest.Config) -> GradeSession:
    return config.stash[SESSION]
