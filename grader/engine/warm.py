"""Grading kept warm from one grade to the next: a batch lane's, or a `--watch` session's.

A cold grade starts Python three times over (the examiner importing pytest, the sandbox's
template importing FastAPI) before its first check. A `WarmLane` pays that once: its fork
server (grader.engine.forkserver) forks each grade's examiner with pytest already imported,
and its sandbox lane (grader.engine.isolation.Lane) keeps a template warm, emptied after each
grade so that nothing of one grade reaches the next.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from grader import manifest
from grader.browser import SharedBrowser, lend_to
from grader.engine import isolation, runner
from grader.engine.forkserver import ForkServer
from grader.report import Report


class WarmLane:
    """A fork server and a sandbox lane (none for `backend` "none"), used one grade at a time."""

    def __init__(self, backend: str, limits: runner.Limits, *, env: dict[str, str] | None = None,
                 preload: tuple[str, ...] = (), chromium: str | None = None) -> None:
        """`env`: the grading processes' added environment (a batch's seed); `preload`: the
        modules the template imports before it forks (the drills' `preload`); `chromium`: keep
        a browser of this lane's own for the grades that need one (a batch lends its pool's)."""
        self.backend, self.limits, self.preload = backend, limits, preload
        self.server = ForkServer(env=env)
        self._lane: isolation.Lane | None = None
        self._chromium = chromium
        self._browser: SharedBrowser | None = None

    @property
    def lane(self) -> isolation.Lane | None:
        """The sandbox lane, made when first needed (again after one that could not be tidied)."""
        if self._lane is None and self.backend != "none":
            self._lane = isolation.Lane(self.backend, memory_mb=self.limits.memory_mb,
                                        file_mb=self.limits.file_mb,
                                        seed=self.server.env.get("DOCCHAT_SEED", ""), preload=self.preload)
        return self._lane

    def grade(self, target: Path, drill: str, *, browser: SharedBrowser | None = None, **kwargs: Any) -> Report:
        """grader.engine.runner.grade in this lane, lending `browser` (a warm one) if given;
        the lane is emptied for the next grade whatever happens."""
        lane = self.lane
        if browser is None and self._chromium and "chromium" in manifest.load().drill(drill).needs:
            browser = self._browser = self._browser or SharedBrowser(self._chromium)
        lend_to(self.server, browser)
        if lane is not None:
            lane.check()  # a new template starts here, beside the fork server's start
        self.server.warm_up()
        try:
            return runner.grade(target, drill, limits=self.limits, launcher=self.server,
                                isolation=self.backend, lane=lane, **kwargs)
        finally:
            self.tidy()

    def tidy(self) -> None:
        """Empty the lane for the next grade; one that cannot be emptied is closed and replaced
        when next needed (the grade's verdict stands: a lane's trouble is never the grade's)."""
        if self._lane is None:
            return
        try:
            self._lane.after_grade()
        except Exception:  # noqa: BLE001
            with contextlib.suppress(Exception):
                self._lane.close()
            self._lane = None

    def stop(self) -> None:
        """From any thread: end the grade running now, start no other."""
        self.server.stop()

    def close(self) -> None:
        self.server.close()
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._lane is not None:
            self._lane.close()
            self._lane = None

    def __enter__(self) -> WarmLane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
