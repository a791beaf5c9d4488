"""The state of one grading run inside the examiner, kept in `config.stash`."""

from __future__ import annotations

import threading
from collections.abc import Callable
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


class Preflight:
    """The learner's module imported once, in a thread, while pytest starts and collects.

    `passed()` waits for it and tells the runner: `ready`, or `fatal` with the one sentence
    that says why the module cannot be graded (then no check runs).
    """

    def __init__(self, channel: Channel, backend: str, attempt: Callable[[], str | None]) -> None:
        self.channel, self.backend, self._attempt = channel, backend, attempt
        self._outcome: list[Any] = []  # [problem or None] or [the grader's own exception]
        self._told = False
        self._thread = threading.Thread(target=self._run, name="docchat-preflight", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._outcome.append(self._attempt())
        except BaseException as exc:  # noqa: BLE001 - the grader's: raised again where pytest reports it
            self._outcome.append(exc)

    def passed(self) -> bool:
        self._thread.join()
        problem = self._outcome[0]
        if isinstance(problem, BaseException):
            raise problem
        if not self._told:
            self._told = True
            if problem:
                self.channel.send("fatal", error=problem)
            else:
                self.channel.send("ready", isolation=self.backend)
        return not problem


PREPARED: dict[str, Any] = {}  # what the examiner started before pytest: template, source, preflight
SESSION = pytest.StashKey[GradeSession]()
LEARNER = pytest.StashKey[Learner]()


def session_of(config: pytest.Config) -> GradeSession:
    return config.stash[SESSION]
