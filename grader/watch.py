"""`docchat-grade --watch [PATH]`: re-grade on every save and show what changed since the last run.

With no PATH it follows the course, like Rustlings: it watches the first drill in course order
whose core checks do not all pass yet, and once they do, says so and moves on to the next.

File events come from `watchfiles` (inotify, FSEvents, ...), watching the file's folder so
editors that save by writing a new file and renaming it are seen too; where it cannot watch,
the file is read every POLL_S seconds instead. A run happens when the file's content differs
from what was graded last. Ctrl-C stops the loop, and a run in progress ends with its grading
process and everything the learner's code started.

The session grades in a lane kept warm between saves (grader/engine/warm.py): each save after
the first is graded without a cold run's start-up, yet nothing of one grade reaches the next.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, TextIO

from grader import manifest, skeletons, workbook
from grader.formats import text
from grader.api import UsageError, resolve_drill, sandbox
from grader.browser import find_chromium
from grader.report import EXIT_PASSED, EXIT_USAGE, Report
from grader.engine.runner import Limits, limits_from
from grader.engine.warm import WarmLane

CLEAR = "\x1b[H\x1b[2J\x1b[3J"  # home, clear the screen and its scrollback
WAKE_S = 1.0   # with native events: also wake this often, to catch a save made before watching began
POLL_S = 0.3   # without: look at the file this often
SETTLE_S = 0.05  # a save is over once the file stays the same this long
ENDED = object()


def wakeups(path: Path, stop: threading.Event, polling: bool = False) -> Iterator[None]:
    """Yield after each save of `path` (a debounced batch of events), and at least every WAKE_S s.

    The caller compares the file with what it graded last, so a wake-up with no change costs
    nothing, and a save is never missed, even one made before the watcher was ready.
    """
    target = path.resolve()
    if not polling:
        try:
            import watchfiles

            yield from (None for _ in watchfiles.watch(
                target.parent, watch_filter=lambda _change, p: Path(p) == target, stop_event=stop,
                recursive=False, rust_timeout=int(WAKE_S * 1000), yield_on_timeout=True))
            return
        except (ImportError, OSError):
            pass  # no native watching here (a missing wheel, an inotify limit): poll instead
    while not stop.wait(POLL_S):
        yield


def difference(before: Report | None, now: Report) -> tuple[list[str], list[str]]:
    """(newly passing, newly failing) check ids between two graded runs."""
    if before is None or before.error or now.error:
        return [], []
    was = {c.id: c.status for c in before.checks}
    up = [c.id for c in now.checks if c.status == "passed" and was.get(c.id) != "passed"]
    down = [c.id for c in now.checks if c.status in ("failed", "error") and was.get(c.id) == "passed"]
    return up, down


def since(before: Report | None, now: Report, style: text.Style) -> list[str]:
    if before is None or now.error:
        return []
    lines = []
    for ids, mark, what in zip(difference(before, now), ("passed", "failed"), ("newly passing", "newly failing")):
        if ids:
            wrapped = textwrap.wrap(f"{what}: {', '.join(ids)}", 96, subsequent_indent=" " * (len(what) + 6))
            lines += [f"  {style.mark(mark)} {wrapped[0]}", *wrapped[1:]]
    return ["since the last graded run:", *lines] if lines else ["since the last graded run: no check changed"]


def core_passed(report: Report) -> bool:
    return report.status == "passed"


def watch(path: Path, grade: Callable[[], Report], out: TextIO, stop: threading.Event,
          polling: bool = False, clear: bool | None = None,
          until: Callable[[Report], bool] | None = None, intro: str = "") -> bool:
    """Grade `path` now and whenever its content changes, until `stop` is set (or Ctrl-C), or
    until a report satisfies `until` (then return True). `intro` heads every screen."""
    style = text.Style(out)
    clear = out.isatty() if clear is None else clear
    wake = wakeups(path, stop, polling)
    last: Report | None = None  # the last run that could be graded: what changes are shown against
    graded: object = ENDED       # the content graded last (None: the file was missing)
    run = 0
    while not stop.is_set():
        content = _settled(path)
        if content == graded:
            if next(wake, ENDED) is ENDED:
                return False
            continue
        graded, run = content, run + 1
        if clear and run > 1:
            out.write(style.paint("\nchange seen: grading...\n", "dim"))
            out.flush()
        try:
            report, problem = grade(), None
        except UsageError as exc:  # e.g. the file is gone for a moment, mid-save
            report, problem = None, str(exc)
        except Exception as exc:  # the grader broke: say so, and keep watching for the next save
            report, problem = None, f"the grader itself broke: {exc}"
        screen = [CLEAR] if clear else []
        screen += [intro] if intro else []
        if report is None:
            screen.append(f"docchat-grade: {problem}\n")
        else:
            screen += [text.render(report, out), *(line + "\n" for line in since(last, report, style))]
            screen += ["\n" + skeletons.note(path, report.drill)] if report.not_started else []
            last = report if not report.error else last
        dot = " · " if style.unicode else " - "
        screen.append(style.paint(f"run {run} at {time.strftime('%H:%M:%S')}{dot}watching "
                                  f"{workbook.shown(path)}: save to re-grade, Ctrl-C to stop", "dim") + "\n")
        out.write("".join(screen))
        out.flush()
        if until and report and until(report):
            return True
    return False


def follow_course(root: Path, grade: Callable[[Path, str], Report], out: TextIO, stop: threading.Event,
                  polling: bool = False, clear: bool | None = None) -> None:
    """Watch each drill in course order until its core checks pass, then move on and say so."""
    style = text.Style(out)
    intro = ""
    drills = manifest.load().drills
    for number, drill in enumerate(drills, 1):
        path = workbook.drill_file(root, drill.name)
        intro += style.paint(f"course: drill {number} of {len(drills)}, {drill.name} "
                             f"({drill.title}); lesson {workbook.lesson(drill.name, path)}", "bold") + "\n\n"
        if not watch(path, lambda: grade(path, drill.name), out, stop, polling, clear, core_passed, intro):
            return
        later = drills[number:]
        moving = (f", moving on to {later[0].name}: {workbook.shown(workbook.drill_file(root, later[0].name))}"
                  if later else "")
        intro = style.paint(f"{text.MARKS['passed'][0 if style.unicode else 1]} {drill.name}: every core check "
                            f"passes{moving}", "passed") + "\n"
        if not later:
            out.write(intro + style.paint("That was the last drill: every drill's core checks pass, the course "
                                          "is done. docchat-grade shows the stretch checks left.", "passed") + "\n")
            out.flush()


def _content(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _settled(path: Path) -> bytes | None:
    """The file's content once two reads SETTLE_S apart agree: never half of a save."""
    content = _content(path)
    while True:
        time.sleep(SETTLE_S)
        again = _content(path)
        if again == content:
            return content
        content = again


def watch_command(args: argparse.Namespace) -> int:
    path = Path(args.path) if args.path else None
    try:
        if args.format != "text":
            raise UsageError("--watch shows the text report; --format is for single runs")
        if path is None:
            if args.drill:
                raise UsageError("--drill needs a PATH; with none, --watch follows the course")
            root = workbook.find(args.workbook)
        elif not path.is_file() or path.suffix == ".ipynb":
            raise UsageError(workbook.suggestion(path) or f"no such file: {path}")
        else:
            drill = resolve_drill(path, args.drill)
    except (UsageError, workbook.NoWorkbook) as exc:
        print(f"docchat-grade: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        warm = warm_lane(args.sandbox, limits_from(args), [drill] if path else manifest.load().names)
    except UsageError as exc:
        print(f"docchat-grade: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if path is None:
            follow_course(root, lambda p, d: skeletons.graded(p, d, warm=warm), sys.stdout, threading.Event())
        else:
            watch(path, lambda: skeletons.graded(path, drill, warm=warm), sys.stdout, threading.Event())
    except KeyboardInterrupt:
        print("\nstopped watching.")
    finally:
        warm.close()
    return EXIT_PASSED


def warm_lane(isolation: str, limits: Limits, drills: list[str]) -> WarmLane:
    """What the session keeps warm between saves: after the first, a save is graded without the
    start-up of a cold run (its examiner forked with pytest imported, its sandbox running)."""
    return WarmLane(sandbox(isolation), limits, preload=manifest.load().preload(*drills), chromium=find_chromium())
