"""`docchat-grade` with no file: every drill in course order, its status, score and next step.

Progress is worked out afresh on every run, from the drill files themselves, never from a
record of past runs. A drill whose file is missing or still its shipped skeleton is "not
started" (see grader/skeletons.py); every other drill is graded, two at a time, each in its
own `docchat-grade --format json` process, so that Ctrl-C can stop each run cleanly.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

from grader import manifest, skeletons, workbook
from grader.report import EXIT_FAILED, EXIT_GRADER_BROKE, EXIT_PASSED, EXIT_USAGE, Report, from_document
from grader.formats.text import Style

JOBS = 2
NOT_STARTED, FAILING, CORE_PASSED, ALL_PASSED, BROKE = (
    "not started", "failing", "core passed", "all passed", "grader broke")
MARK_AS = {NOT_STARTED: "skipped", FAILING: "failed", CORE_PASSED: "passed", ALL_PASSED: "passed",
           BROKE: "error"}


@dataclass
class Row:
    """One drill of the workbook, as it stands now."""

    drill: manifest.Drill
    path: Path
    report: Report | None = None  # None: not graded, because not started
    broke: str | None = None      # the grader itself failed on this drill

    @property
    def status(self) -> str:
        if self.broke:
            return BROKE
        if self.report is None:
            return NOT_STARTED
        if self.report.status != "passed":
            return FAILING
        done = all(c.status in ("passed", "skipped") for c in self.report.checks)
        return ALL_PASSED if done else CORE_PASSED

    @property
    def score(self) -> str:
        total = len(self.drill.checks)
        return f"{self.report.score}/{total}" if self.report else f"-/{total}"

    def first_open(self, level: str) -> str | None:
        """The first check of `level` that does not pass yet, in manifest order."""
        checks = self.report.checks if self.report else []
        return next((c.id for c in checks if c.level == level and c.status in ("failed", "error")), None)

    def next_step(self) -> str:
        status, file = self.status, workbook.shown(self.path)
        if status == NOT_STARTED:
            if not self.path.exists():
                return f"{file} is missing (git checkout -- {file} brings the skeleton back)"
            return f"read {workbook.lesson(self.drill.name, self.path)}, then edit {file}"
        if status == BROKE:
            return "the grader failed on this drill: please report it"
        if self.report.error:
            return f"make it load: docchat-grade {file} says why"
        if status == FAILING:
            return f"fix {self.first_open('core')}"
        if status == CORE_PASSED:
            return f"going further: {self.first_open('stretch')}"
        return "done"


# --- grading, two drills at a time, each in its own process -----------------------------------

class Grading:
    """One `docchat-grade --format json` run of a drill file, in a process of its own."""

    def __init__(self, row: Row, options: list[str]) -> None:
        self.row = row
        self.out, self.err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        # A session of its own: a Ctrl-C at the terminal reaches only us, and we pass exactly one
        # SIGINT on, so the run's own cleanup (killing the learner's code) is never cut short.
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grader", str(row.path), "--drill", row.drill.name,
             "--format", "json", *options],
            stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.err, env=env, start_new_session=True)

    def finished(self) -> bool:
        if self.proc.poll() is None:
            return False
        self.out.seek(0)
        self.err.seek(0)
        try:
            self.row.report = from_document(json.loads(self.out.read()))
        except ValueError:
            lines = self.err.read().decode("utf-8", "replace").strip().splitlines()
            self.row.broke = lines[-1] if lines else f"exit code {self.proc.returncode}"
        else:
            if self.proc.returncode == EXIT_GRADER_BROKE:  # a report, but a check's own code failed
                self.row.broke = f"a check failed inside the grader (docchat-grade {self.row.path} shows which)"
        self.out.close()
        self.err.close()
        return True

    def interrupt(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


Tick = Callable[[int, int, list[str]], None]  # (done, total, names being graded)


def grade_rows(rows: list[Row], options: list[str], tick: Tick = lambda *_: None, jobs: int = JOBS) -> None:
    """Grade `rows` in place, `jobs` at a time, reporting progress to `tick`."""
    waiting, running, done = list(rows), [], 0
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                running.append(Grading(waiting.pop(0), options))
            tick(done, len(rows), [g.row.drill.name for g in running])
            time.sleep(0.05)
            still = [g for g in running if not g.finished()]
            done += len(running) - len(still)
            running = still
    except KeyboardInterrupt:
        for grading in running:
            grading.interrupt()
        raise


def survey(root: Path, options: list[str] = (), tick: Tick = lambda *_: None) -> list[Row]:
    """Every manifest drill in course order, graded unless it is not started."""
    rows = [Row(drill, workbook.drill_file(root, drill.name)) for drill in manifest.load().drills]
    started = [r for r in rows if r.path.is_file() and not skeletons.is_untouched(r.path, r.drill.name)]
    grade_rows(started, list(options), tick)
    return rows


class Ticker:
    """A one-line "grading upload, lifespan (1 of 3 done)" on a terminal's stderr; silent elsewhere."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.shown = stream, ""

    def __call__(self, done: int, total: int, running: list[str]) -> None:
        line = f"grading {', '.join(running)} ({done} of {total} done)"
        if self.stream.isatty() and line != self.shown:
            self.stream.write(f"\r\x1b[K{line}")
            self.stream.flush()
            self.shown = line

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


# --- the table ----------------------------------------------------------------------------------

def render(rows: list[Row], root: Path, style: Style) -> str:
    dot = " · " if style.unicode else " - "
    lines = [style.paint(f"docchat-grade{dot}your workbook{dot}{workbook.shown(root) or '.'}", "bold"), ""]
    name_w = max((len(r.drill.name) for r in rows), default=0)
    status_w = max(len(s) for s in MARK_AS)
    score_w = max((len(r.score) for r in rows), default=0)
    for r in rows:
        colour = {NOT_STARTED: "dim", FAILING: "failed", BROKE: "error"}.get(r.status, "passed")
        lines.append(f"  {style.mark(MARK_AS[r.status])} {r.drill.name.ljust(name_w)}  "
                     f"{style.paint(r.status.ljust(status_w), colour)}  {r.score.rjust(score_w)}  {r.next_step()}")
    passed = sum(r.status in (CORE_PASSED, ALL_PASSED) for r in rows)
    score = sum(r.report.score for r in rows if r.report)
    lines += ["", f"core passed in {passed} of {len(rows)} drills{dot}score {score}/"
                  f"{sum(len(r.drill.checks) for r in rows)}", *what_next(rows, style)]
    return "\n".join(lines) + "\n"


def what_next(rows: list[Row], style: Style) -> list[str]:
    """The one thing to do now: the first drill in course order whose core checks do not all pass."""
    row = next((r for r in rows if r.status not in (CORE_PASSED, ALL_PASSED)), None)
    if row is None:
        left = [r.drill.name for r in rows if r.status == CORE_PASSED]
        return [style.paint("Every drill's core checks pass: the course is done.", "passed"),
                f"Going further: stretch checks are left in {', '.join(left)}." if left else
                "Every stretch check passes too."]
    file = workbook.shown(row.path)
    lines = [style.paint(f"Next: {row.drill.name}", "bold") + f" ({row.drill.title})"]
    if row.status == BROKE:
        return lines + [f"  the grader itself failed on {file}: {row.broke}"]
    commands = [("docchat-grade --watch", f"re-grades {file} on every save, then moves on to the next drill")]
    if row.status == NOT_STARTED:
        lines.append(f"  read {workbook.lesson(row.drill.name, row.path)}, then edit {file}")
    elif row.report.error:
        lines += textwrap.wrap(f"{file} can't be graded yet: {row.report.error}", 96,
                               initial_indent="  ", subsequent_indent="    ")
    else:
        check = row.first_open("core")
        lines.append(f"  make {check} pass")
        commands.append((f"docchat-grade hint {check}", "when you are stuck"))
    width = max(len(command) for command, _ in commands)
    return lines + [f"  {command.ljust(width)}  {style.paint(why, 'dim')}" for command, why in commands]


def exit_code(rows: list[Row]) -> int:
    if any(r.status == BROKE for r in rows):
        return EXIT_GRADER_BROKE
    return EXIT_PASSED if all(r.status in (CORE_PASSED, ALL_PASSED) for r in rows) else EXIT_FAILED


def progress_command(args: argparse.Namespace) -> int:
    if args.drill or args.format != "text":
        print("docchat-grade: --drill and --format need a PATH, e.g. docchat-grade drills/upload.py "
              "--format json (with no PATH, docchat-grade shows every drill's progress)", file=sys.stderr)
        return EXIT_USAGE
    try:
        root = workbook.find(args.workbook)
    except workbook.NoWorkbook as exc:
        print(f"docchat-grade: {exc}", file=sys.stderr)
        return EXIT_USAGE
    options = ["--timeout", str(args.timeout), "--memory-mb", str(args.memory_mb)]
    ticker = Ticker(sys.stderr)
    try:
        rows = survey(root, options, ticker)
    except KeyboardInterrupt:
        ticker.clear()
        print("docchat-grade: stopped", file=sys.stderr)
        return 130
    ticker.clear()
    sys.stdout.write(render(rows, root, Style(sys.stdout)))
    return exit_code(rows)
