"""The batch's job queue: a lane takes another grade while the warm browsers are out."""

from __future__ import annotations

import threading

from grader.batch.jobqueue import JobQueue
from grader.browser import BrowserPool

def needs_browser(job: str) -> bool:
    return job.startswith("streaming")


def queue_of(jobs: list[str], browsers: int | None = 1, lanes: int = 1) -> JobQueue:
    pool = BrowserPool("chromium-not-started", browsers) if browsers else None  # started only by lend()
    return JobQueue(jobs, needs_browser, pool, lanes)


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


def test_one_browser_while_the_other_grades_keep_the_lanes_busy_then_one_more():
    """Three lanes, one grade in five needs a browser: one browser does while the other grades
    keep the two other lanes busy. Once those have run ahead (the browser's grades left
    outnumber, per browser, the others per remaining lane, by a tenth of the batch or more),
    a second one starts, and no third."""
    cohort = [f"{drill}-{n}" for n in range(10) for drill in ("upload", "lifespan", "streaming", "errors", "background")]
    pool = BrowserPool("chromium-not-started", 2)
    waiting = JobQueue(cohort, needs_browser, pool, 3)
    stop = threading.Event()
    waiting.take(stop)
    assert pool.size == 1
    tail = [f"streaming-{n}" for n in range(8)] + ["upload-8", "upload-9", "errors-9", "background-9"]
    pool = BrowserPool("chromium-not-started", 2)
    waiting = JobQueue(tail, needs_browser, pool, 3)
    taken = [waiting.take(stop) for _ in range(3)]
    assert pool.size == 2 and [job for job, _ in taken] == ["streaming-0", "streaming-1", "upload-8"]
    assert not pool.grow(), "at most `most` browsers"
    pool = BrowserPool("chromium-not-started", 2)
    JobQueue(["streaming-0", "streaming-1", "streaming-2"], needs_browser, pool, 3).take(stop)
    assert pool.size == 1, "a last few grades (one per lane) are not worth another browser"


def test_a_cohort_of_mostly_browser_grades_gets_its_browsers_at_once():
    jobs = [f"{drill}-{n}" for n in range(10) for drill in ("streaming", "streaming-docchat", "upload")]
    pool = BrowserPool("chromium-not-started", 2)
    waiting = JobQueue(jobs, needs_browser, pool, 3)
    stop = threading.Event()
    first, second = waiting.take(stop), waiting.take(stop)
    assert pool.size == 2 and first[1] is not None and second[1] is not None and first[1] is not second[1]


def test_a_tail_of_browser_grades_under_a_tenth_of_the_batch_waits_for_the_one_browser():
    jobs = [f"upload-{n}" for n in range(92)] + [f"streaming-{n}" for n in range(8)]
    pool = BrowserPool("chromium-not-started", 2)
    waiting = JobQueue(jobs, needs_browser, pool, 3)
    stop = threading.Event()
    taken = [waiting.take(stop) for _ in range(93)]
    assert taken[-1][0] == "streaming-0" and taken[-1][1] is not None and pool.size == 1


def test_grades_put_just_before_their_lanes_end_are_not_lost(monkeypatch) -> None:
    """On a busy machine the batch's wait for grades can time out, then the lanes put their last
    grades and end, before it looks whether a lane still runs: it must still take those grades
    (it once raised "every grading lane stopped", and the batch ended with no run.json)."""
    import queue
    import threading
    from types import SimpleNamespace

    from grader.batch import lanes

    go = threading.Event()  # the lanes grade only once the batch waits

    class Late(queue.SimpleQueue):
        """Its first wait times out only once every lane has ended."""

        timed_out = False

        def get(self, block=True, timeout=None):
            if block and not Late.timed_out:
                Late.timed_out = True
                go.set()
                for thread in threading.enumerate():
                    if thread.name.startswith("docchat-lane-"):
                        thread.join(10)
                raise queue.Empty
            return super().get(block, timeout)

    monkeypatch.setattr(lanes, "queue", SimpleNamespace(SimpleQueue=Late, Empty=queue.Empty))
    batch = SimpleNamespace(needs_browser=lambda job: False, browsers=None,
                            grade=lambda job, server, browser: go.wait(10) and f"graded {job}")
    got = []
    lanes.Batch.grade_all(batch, ["a", "b", "c"], ["lane 1", "lane 2"], lambda job, outcome: got.append(outcome))
    assert Late.timed_out and sorted(got) == ["graded a", "graded b", "graded c"]
