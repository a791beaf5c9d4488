"""What a batch run shows while it works, on stderr: a progress bar on a terminal, else a line per learner."""

from __future__ import annotations

import time
from typing import TextIO

from grader.batch.cohort import learner_status, totals
from grader.report import Report, as_report

BAR = 28


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s"


class Progress:
    """Counts finished grades; reports a learner once all their drills are in."""

    def __init__(self, stream: TextIO, learners: dict[str, int], drills: list[str]) -> None:
        self.stream, self.drills = stream, drills
        self.total = sum(learners.values())
        self.tty = stream.isatty()
        self.waiting = dict(learners)  # learner -> grades still to come
        self.reports: dict[str, list[Report]] = {learner: [] for learner in learners}
        self.graded: set[str] = set()  # learners with at least one drill graded this run
        self.reused: set[str] = set()  # learners with at least one grade taken from the last run
        self.done = 0
        self.learners_done = 0
        self.started = time.monotonic()
        self.unicode = (getattr(stream, "encoding", None) or "").lower().startswith("utf")

    def say(self, line: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K")
        self.stream.write(line + "\n")
        self.stream.flush()

    def finished(self, learner: str, report: Report | dict, reused: bool = False, skipped: bool = False) -> None:
        """One drill done: graded, `reused` from the last run, or `skipped` (missing, not started)."""
        report = as_report(report)
        self.done += 1
        self.reports[learner].append(report)
        if reused:
            self.reused.add(learner)
        elif not skipped:
            self.graded.add(learner)
        self.waiting[learner] -= 1
        if self.waiting[learner] == 0:
            self.learners_done += 1
            if not self.tty:
                self._learner_line(learner)
        if self.tty:
            self._bar(learner, report)

    def _learner_line(self, learner: str) -> None:
        reports = sorted(self.reports[learner], key=lambda r: self.drills.index(r.drill))
        score, most = totals(reports)
        drills = ", ".join(f"{r.drill} {r.score}/{r.max_score}" for r in reports)
        width = len(str(len(self.waiting)))
        self.say(f"[{self.learners_done:>{width}}/{len(self.waiting)}] {learner}: {score}/{most} "
                 f"{learner_status(reports)} ({drills})"
                 + (" (unchanged)" if learner in self.reused and learner not in self.graded else ""))

    def _bar(self, learner: str, report: Report) -> None:
        filled = BAR * self.done // max(self.total, 1)
        full, empty = ("█", "░") if self.unicode else ("#", ".")
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = f" · ETA {_clock((self.total - self.done) / rate)}" if 0 < self.done < self.total and rate else ""
        self.stream.write(f"\r\x1b[2K[{full * filled}{empty * (BAR - filled)}] {self.done}/{self.total} grades"
                          f" · {self.learners_done}/{len(self.waiting)} learners · {_clock(elapsed)}{eta}"
                          f" · {learner} {report.drill} {report.status}")
        if self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()
