"""grader.deadline.within: a call's result, or NoAnswer at its limit, or sooner once it cannot come."""

from __future__ import annotations

import threading
import time

import pytest

from grader.deadline import NoAnswer, within


def test_returns_the_result_and_raises_what_the_call_raised() -> None:
    assert within(1, lambda: 42, sent="GET /") == 42
    with pytest.raises(ZeroDivisionError):
        within(1, lambda: 1 / 0, sent="GET /")


def test_gives_up_at_the_limit() -> None:
    gate = threading.Event()
    started = time.monotonic()
    with pytest.raises(NoAnswer) as caught:
        within(0.2, gate.wait, sent="GET /slow")
    gate.set()
    assert 0.2 <= time.monotonic() - started < 2
    assert caught.value.got == "still waiting for an answer after 0.2 s"


def test_gives_up_at_once_when_the_answer_cannot_come() -> None:
    gate = threading.Event()
    started = time.monotonic()
    with pytest.raises(NoAnswer) as caught:
        within(30, gate.wait, sent="POST /upload", cannot_come=lambda: "the grader holds what it waits on")
    gate.set()
    assert time.monotonic() - started < 2
    assert caught.value.got == "an answer cannot come: the grader holds what it waits on"
    assert caught.value.expected == "an answer within 30 s"


def test_an_answer_that_comes_wins_over_cannot_come_checks() -> None:
    assert within(5, lambda: "ok", sent="GET /", cannot_come=lambda: "") == "ok"
