"""Time limits a check enforces itself, from outside the app's event loop.

A TestClient call (or `client.drive`) blocks the check's thread until the app's event loop
answers, so an app that blocks its own loop (slow synchronous work inside `async def`) would
hang the check until the parent's per-check limit kills the run. `within` makes the call on
a helper thread and stops waiting at a deadline: the check fails with a message instead.
The abandoned call finishes by itself once the app's loop is free again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from typing import TypeVar

from grader.expect import CheckFailed

T = TypeVar("T")

POLL_S = 0.02  # how often `within` asks whether the answer can still come
BLOCKED_LOOP = ("the app's event loop seems blocked: slow synchronous work called directly "
                "inside an `async def` stops the app from answering anyone until it returns")


class NoAnswer(CheckFailed):
    """The app did not answer in time. A check may catch it to say more about why."""

    def __init__(self, sent: str, seconds: float, note: str = BLOCKED_LOOP, *,
                 waiting_for: str = "an answer", cannot_come: str = "") -> None:
        got = (f"{waiting_for} cannot come: {cannot_come}" if cannot_come
               else f"still waiting for {waiting_for} after {seconds:g} s")
        super().__init__(sent=sent, got=got, expected=f"{waiting_for} within {seconds:g} s", note=note)
        self.seconds, self.cannot_come = seconds, cannot_come


def within(seconds: float, call: Callable[[], T], *, sent: str, note: str = BLOCKED_LOOP,
           waiting_for: str = "an answer", cannot_come: Callable[[], str] | None = None) -> T:
    """`call()`'s result, or `NoAnswer` if it takes longer than `seconds`.

    `cannot_come()`, if given, says (non-empty) when the answer is certain never to come while
    we wait (the grader itself holds what the app waits on): no need to wait out the limit.
    Whatever `call` raises (the learner's exceptions included) is raised here unchanged.
    """
    outcome: Future[T] = Future()

    def run() -> None:
        try:
            outcome.set_result(call())
        except BaseException as exc:  # handed to the check's thread, which re-raises it
            outcome.set_exception(exc)

    threading.Thread(target=run, name="docchat-deadline", daemon=True).start()
    end = time.monotonic() + seconds
    while True:
        left = max(0.0, end - time.monotonic())
        if wait([outcome], timeout=min(POLL_S, left) if cannot_come else left).done:
            return outcome.result()
        if time.monotonic() >= end:
            raise NoAnswer(sent, seconds, note, waiting_for=waiting_for)
        if cannot_come and (why := cannot_come()):
            raise NoAnswer(sent, seconds, note, waiting_for=waiting_for, cannot_come=why)
