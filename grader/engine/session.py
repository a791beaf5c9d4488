"""The state of one grading run inside the examiner, kept in `config.stash`."""

from __future__ import annotations

import tempfile
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from grader.engine.channel import Channel
from grader.engine.learner import Learner


class Spare:
    """The next check's app host, spawned and its module imported while this check runs.

    Made in the next check's own folder, with the `watch` this check's import asked for;
    taken by that check's first load when both match (else closed unused).
    """

    def __init__(self, template: Any, source: bytes, name: str, check: str, folder: Path,
                 watch: tuple[str, ...]) -> None:
        self.check, self.folder, self.watch = check, folder, watch
        self._made: Future = Future()
        self._host: Any = None

        def make() -> None:
            try:
                self._host = template.spawn(folder)
                self._made.set_result(self._host.load(source, name, folder, {}, watch))
            except BaseException as exc:  # noqa: BLE001 - raised in the check that takes it
                self._made.set_exception(exc)

        threading.Thread(target=make, name="docchat-spare", daemon=True).start()

    def take(self) -> tuple[Any, dict]:
        """(host, what its load returned): waits for it; raises what its spawn or load raised."""
        try:
            loaded = self._made.result()
        except BaseException:
            self.close()
            raise
        return self._host, loaded

    def close(self) -> None:
        threading.Thread(target=self._close_when_made, daemon=True).start()

    def _close_when_made(self) -> None:
        try:
            self._made.exception()
        finally:
            if self._host is not None:
                self._host.close()


@dataclass
class GradeSession:
    target: Path  # the learner's file as the learner knows it (for messages)
    drill: str
    scratch: Path  # the only folder the learner's code may write to
    channel: Channel
    only: frozenset[str] = frozenset()
    source: bytes = b""  # the file's bytes, as the grader read them once
    template: Any = None  # grader.engine.isolation.Template
    upcoming: list[str] = field(default_factory=list)  # the names of the checks still to start
    spare: Spare | None = None

    def progress(self, text: str) -> None:
        self.channel.send("progress", text=text)

    def starting(self, name: str) -> None:
        """Check `name` starts: a spare made for another one is of no use now."""
        if self.upcoming and self.upcoming[0] == name:
            self.upcoming.pop(0)
        if self.spare is not None and self.spare.check != name:
            self.spare.close()
            self.spare = None

    def workdir(self, name: str) -> Path:
        """Check `name`'s working folder: `work` in a private folder of its own (so that a check
        may look at the whole of `workdir.parent`), the spare's when one was made for it."""
        if self.spare is not None and self.spare.check == name:
            return self.spare.folder
        return self._new_folder(name)

    def _new_folder(self, name: str) -> Path:
        folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.scratch)) / "work"
        folder.mkdir()
        return folder

    def load(self, workdir: Path, seams: dict[str, Any], watch: tuple[str, ...]) -> tuple[Any, dict]:
        """A fresh import of the learner's module in its own app host, working in `workdir`."""
        spare = self.spare
        if spare is not None and spare.folder == workdir and spare.watch == watch:
            self.spare = None
            host, loaded = spare.take()
            if seams:
                loaded["originals"] = host.call("swap", seams=seams)
        else:
            host = self.template.spawn(workdir)
            try:
                loaded = host.load(self.source, self.target.name, workdir, seams, watch)
            except BaseException:
                host.close()
                raise
        if self.spare is None and self.upcoming:
            check = self.upcoming[0]
            self.spare = Spare(self.template, self.source, self.target.name, check,
                               self._new_folder(check), watch)
        return host, loaded


PREPARED: dict[str, Any] = {}  # what the examiner started before pytest: template, source, preflight
# (grader.engine.examiner.Preflight)
SESSION = pytest.StashKey[GradeSession]()
LEARNER = pytest.StashKey[Learner]()


def session_of(config: pytest.Config) -> GradeSession:
    return config.stash[SESSION]
