"""The state of one grading run inside the child process, kept in `config.stash`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.engine.channel import Channel
from grader.engine.learner import Learner


@dataclass
class GradeSession:
    target: Path
    drill: str
    scratch: Path
    channel: Channel
    only: frozenset[str] = frozenset()

    def progress(self, text: str) -> None:
        self.channel.send("progress", text=text)


SESSION = pytest.StashKey[GradeSession]()
LEARNER = pytest.StashKey[Learner]()


def session_of(config: pytest.Config) -> GradeSession:
    return config.stash[SESSION]
