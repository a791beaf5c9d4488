"""The batch's grades waiting for a lane, handed out so that few warm browsers serve many lanes.

A grade whose drill needs Chromium takes a warm browser with it. When every browser is out, a
free lane takes the next grade that needs none instead of waiting. The batch starts with one
browser (a few hundred MiB) and adds one only when the grades that need a browser outnumber,
per browser, the others per remaining lane by a tenth of the batch or more: then the
browsers, not the lanes, would decide when the batch ends.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from grader.browser import BrowserPool, SharedBrowser

JobT = TypeVar("JobT")


class JobQueue(Generic[JobT]):
    def __init__(self, jobs: Iterable[JobT], needs_browser: Callable[[JobT], bool],
                 browsers: BrowserPool | None, lanes: int = 1) -> None:
        self._jobs = deque(jobs)
        self._needs_browser = needs_browser if browsers is not None else (lambda job: False)
        self._browsers = browsers
        self._lanes = lanes
        self._browser_jobs = sum(map(self._needs_browser, self._jobs))
        # a backlog of browser grades worth another browser's memory: one per lane at least, and
        # a tenth of the batch (a last few grades on one browser cost less time than that)
        self._worth_a_browser = max(lanes, len(self._jobs) / 10)
        self._changed = threading.Condition()

    def take(self, stop: threading.Event) -> tuple[JobT, SharedBrowser | None] | None:
        """The next grade and, if it needs one, the browser it keeps until `give_back`;
        None when there is nothing left (or `stop` is set)."""
        with self._changed:
            while self._jobs and not stop.is_set():
                self._grow_if_behind()
                picked = self._pick()
                if picked is not None:
                    return picked
                self._changed.wait(0.5)  # only grades that need a browser are left, and all are out
            return None

    def give_back(self, shared: SharedBrowser | None) -> None:
        if shared is None:
            return
        self._browsers.put(shared)
        with self._changed:
            self._changed.notify()

    def _grow_if_behind(self) -> None:
        if self._browsers is None:
            return
        others = len(self._jobs) - self._browser_jobs
        browsers = self._browsers.size
        free_lanes = max(1, self._lanes - browsers)
        # grades each browser still has to get through, beyond what each other lane has
        behind = self._browser_jobs / browsers - others / free_lanes
        if behind > self._worth_a_browser:
            self._browsers.grow()

    def _pick(self) -> tuple[JobT, SharedBrowser | None] | None:
        """The first grade in order that can start now: its browser is free, or it needs none."""
        browser_busy = False
        for i, job in enumerate(self._jobs):
            if not self._needs_browser(job):
                del self._jobs[i]
                return job, None
            if browser_busy:
                continue
            shared = self._browsers.try_take()
            if shared is None:
                browser_busy = True
                continue
            del self._jobs[i]
            self._browser_jobs -= 1
            return job, shared
        return None
