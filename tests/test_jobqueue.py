"""The batch's job queue: a lane takes another grade while the warm browsers are out."""

from __future__ import annotations

import threading

from grader.batch.jobqueue import JobQueue
from grader.browser import BrowserPool

NEEDS_BROWSER = {"streaming-1", "streaming-2", "streaming-3"}


def queue_of(jobs: list[str], browsers: int | None = 1) -> JobQueue:
    pool = BrowserPool("chromium-not-started", browsers) if browsers else None  # started only by lend()
    return JobQueue(jobs, NEEDS_BROWSER.__contains__, pool)


def test_a_lane_takes_a_grade_without_a_browser_while_the_only_one_is_out():
    jobs = queue_of(["streaming-1", "streaming-2", "upload-1", "upload-2"])
    stop = threading.Event()
    first, browser = jobs.take(stop)
    assert (first, browser is not None) == ("streaming-1", True)
    assert jobs.take(stop) == ("upload-1", None)  # streaming-2 waits for the browser
    assert jobs.take(stop) == ("upload-2", None)
    jobs.give_back(browser)
    second, again = jobs.take(stop)
    assert second == "streaming-2" and again is browser
    jobs.give_back(again)
    assert jobs.take(stop) is None


def test_a_lane_waits_for_a_browser_only_when_nothing_else_is_left():
    jobs = queue_of(["streaming-1", "streaming-2"])
    stop = threading.Event()
    _, browser = jobs.take(stop)
    taken: list = []
    waiter = threading.Thread(target=lambda: taken.append(jobs.take(stop)))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive() and not taken  # still waiting: the one browser is out
    jobs.give_back(browser)
    waiter.join(5)
    assert taken and taken[0][0] == "streaming-2" and taken[0][1] is browser


def test_a_waiting_lane_stops_when_told():
    jobs = queue_of(["streaming-1", "streaming-2"])
    stop = threading.Event()
    jobs.take(stop)
    taken: list = []
    waiter = threading.Thread(target=lambda: taken.append(jobs.take(stop)))
    waiter.start()
    stop.set()
    waiter.join(5)
    assert not waiter.is_alive() and taken == [None]


def test_without_chromium_every_grade_goes_in_order_without_a_browser():
    jobs = queue_of(["streaming-1", "upload-1", "streaming-2"], browsers=None)
    stop = threading.Event()
    assert [jobs.take(stop) for _ in range(4)] == [
        ("streaming-1", None), ("upload-1", None), ("streaming-2", None), None]


def test_each_of_several_browsers_goes_to_one_grade_at_a_time():
    jobs = queue_of(["streaming-1", "streaming-2", "streaming-3"], browsers=2)
    stop = threading.Event()
    (_, a), (_, b) = jobs.take(stop), jobs.take(stop)
    assert a is not None and b is not None and a is not b
    jobs.give_back(a)
    assert jobs.take(stop) == ("streaming-3", a)
