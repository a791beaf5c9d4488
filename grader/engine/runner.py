"""The parent side of a grading run: start the grading process, watch it, enforce the limits.

The learner's code never runs in this process. A check that outlives its time limit, or
whose process dies under it, becomes that check's `error`, and grading resumes in a fresh
process with the checks still to run. Two hangs in all, or the whole-run limit, end the
run with a report-level error.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from grader import browser, manifest
from grader.engine import sandbox
from grader.engine.isolation import BACKENDS, Lane, new_scratch, usage
from grader.engine.channel import Lines
from grader.report import NOT_RUN, CheckResult, Report

OUTPUT_KEEP = 64 * 1024
_LIVE: set[int] = set()  # examiners of the grades in flight in this process (threads may grade at once)
_LIVE_LOCK = threading.Lock()
EXIT_GRACE = 3.0  # seconds a finished examiner gets to end its sandbox before it is killed
EXAMINER_MEMORY_MB = 2048  # the examiner runs no learner code: a cap against the grader's own bugs
TEXT_MAX = 20000  # the longest message, title or hint a record may carry
STATUSES = ("passed", "failed", "error", "skipped")


@dataclass(frozen=True)
class Limits:
    check_s: float = 10.0
    import_s: float = 15.0
    run_s: float = 120.0
    memory_mb: int = 1024
    file_mb: int = 512
    disk_mb: int = 1024  # all the learner's code may keep in its scratch folder
    files: int = 100_000  # and how many files and folders
    hangs_allowed: int = 2


def add_limit_options(parser) -> None:
    """--timeout, --memory-mb and --sandbox, their defaults taken from `Limits` (one place)."""
    from grader.engine.isolation import BACKENDS as sandboxes

    parser.add_argument("--timeout", type=float, default=Limits.check_s, metavar="S",
                        help=f"time limit for each check, in seconds (default {Limits.check_s:g})")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_mb, metavar="N",
                        help=f"memory limit for the learner's code, in MiB (default {Limits.memory_mb})")
    parser.add_argument("--disk-mb", type=int, default=Limits.disk_mb, metavar="N",
                        help=f"most the learner's code may write to its folder, in MiB (default {Limits.disk_mb})")
    parser.add_argument("--sandbox", default="auto", choices=("auto", *sandboxes),
                        help="where the learner's code runs (default: the strongest sandbox this machine has)")


def limits_from(args) -> Limits:
    return Limits(check_s=args.timeout, memory_mb=args.memory_mb, disk_mb=args.disk_mb)


@dataclass
class Attempt:
    """What one grading process reported before it ended."""

    plan: list[dict] | None = None
    results: dict[str, dict] = field(default_factory=dict)
    fatal: str | None = None
    ready: bool = False
    done: bool = False
    running: str | None = None
    progress: str = ""
    timed_out: str | None = None  # "import", "check" or "run"
    overfull: str | None = None  # how far the learner's code went past the scratch folder's limits
    exit_code: int | None = None  # None: still running; negative: killed by that signal
    stderr: bytes = b""
    pytest_exit: int | None = None
    isolation: str | None = None
    broken: str | None = None  # a record that breaks the protocol: this grade is an error

    @property
    def exit_status(self) -> str:
        return _exit_status(self.exit_code)


def _text(value: object, limit: int = TEXT_MAX) -> bool:
    return isinstance(value, str) and len(value) <= limit


def invalid(record: dict, attempt: Attempt) -> str:
    """Why a record from the examiner cannot be taken as it is ('' when it can)."""
    event = record.get("event")
    planned = {m["id"] for m in attempt.plan or ()}
    if event == "plan":
        checks = record.get("checks")
        if attempt.plan is not None or not isinstance(checks, list) or not all(
                isinstance(m, dict) and all(_text(m.get(k)) for k in ("id", "level", "title", "hint"))
                and m["level"] in ("core", "stretch") for m in checks):
            return "a malformed or second plan"
        return ""
    if event in ("start", "result") and (not _text(record.get("id")) or record["id"] not in planned):
        return f"a {event} record for a check that is not in the plan"
    if event == "result" and not (record.get("status") in STATUSES and _text(record.get("message"))
                                  and isinstance(record.get("duration_s"), (int, float))):
        return "a malformed result"
    if event == "result" and record["id"] in attempt.results:
        return "a second result for one check"
    if event == "fatal" and not _text(record.get("error")):
        return "a malformed fatal record"
    if event == "progress" and not _text(record.get("text"), 2000):
        return "a malformed progress record"
    if event == "ready" and record.get("isolation") not in (None, *BACKENDS):
        return "an unknown sandbox"
    if event not in ("plan", "start", "result", "fatal", "progress", "ready", "done"):
        return f"an unknown event {str(event)[:40]!r}"
    return ""


def _exit_status(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exit code {code}"


def _run_once(source: Path, name: str, drill: str, only: list[str], limits: Limits, scratch: Path,
              extra_checks: list[Path], deadline: float, launcher: Launcher, isolation: str,
              lane_env: dict[str, str] | None = None, writable: Path | None = None,
              on_ready: Callable[[], None] | None = None) -> Attempt:
    """One grading process, from its start to its end. `writable`: all the learner's code may
    write to (a lane's folder: its HOME and TMPDIR too), measured against the disk limits."""
    attempt = Attempt()
    token = sandbox.new_token()
    read_fd, write_fd = os.pipe()
    work = scratch / "work"
    work.mkdir(exist_ok=True)
    args = ["--target", str(source), "--name", name, "--drill", drill, "--scratch", str(work),
            "--only", ",".join(only), "--isolation", isolation, "--memory-mb", str(limits.memory_mb),
            "--file-mb", str(limits.file_mb)]
    for extra in extra_checks:
        args += ["--checks", str(Path(extra).resolve())]  # the grading process runs elsewhere
    started = time.monotonic()
    before = set(sandbox.children())
    try:
        with _LIVE_LOCK:  # so that a grade ending in another thread never takes this one for an orphan
            proc = launcher.start(args, channel_fd=write_fd, token=token, cwd=scratch,
                                  memory_mb=EXAMINER_MEMORY_MB, file_mb=limits.file_mb,
                                  extra_env={"DOCCHAT_MEMORY_MB": str(limits.memory_mb),
                                             "PYTHONPATH": sandbox.grader_root(), **(lane_env or {})})
            _LIVE.add(proc.pid)
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    lines = Lines()
    selector = selectors.DefaultSelector()
    selector.register(read_fd, selectors.EVENT_READ, "channel")
    selector.register(proc.stdout, selectors.EVENT_READ, "stdout")
    selector.register(proc.stderr, selectors.EVENT_READ, "stderr")
    check_started = next_measure = 0.0
    try:
        while selector.get_map():
            now = time.monotonic()
            if now > deadline:
                attempt.timed_out = "run"
                break
            if now >= next_measure:
                next_measure = now + DISK_EVERY_S
                attempt.overfull = _overfull(writable or work, limits)
                if attempt.overfull:
                    break
            if not attempt.ready and not attempt.fatal and now - started > limits.import_s:
                attempt.timed_out = "import"
                break
            if attempt.running and now - check_started > limits.check_s:
                attempt.timed_out = "check"
                break
            for key, _ in selector.select(timeout=0.1):
                fd = key.fd if key.data == "channel" else key.fileobj.fileno()
                data = os.read(fd, 1 << 16)
                if not data:
                    selector.unregister(key.fileobj)
                    continue
                if key.data == "stderr" and len(attempt.stderr) < OUTPUT_KEEP:
                    attempt.stderr += data[: OUTPUT_KEEP - len(attempt.stderr)]
                if key.data != "channel":
                    continue  # the learner's output: drained so it can never block, then dropped
                for record in lines.feed(data):
                    problem = invalid(record, attempt)
                    if problem:
                        attempt.broken = problem
                        break
                    event = record["event"]
                    if event == "fatal":
                        attempt.fatal = record["error"]
                    elif event == "ready":
                        attempt.ready = True
                        if on_ready is not None:
                            on_ready()
                        attempt.isolation = record.get("isolation")
                    elif event == "plan":
                        attempt.plan = record["checks"]
                    elif event == "start":
                        attempt.running, check_started = record["id"], time.monotonic()
                        attempt.progress = ""
                    elif event == "progress":
                        attempt.progress = record["text"]
                    elif event == "result":
                        attempt.results[record["id"]] = record
                        attempt.running = None
                    elif event == "done":
                        attempt.done, attempt.pytest_exit = True, record.get("pytest_exit")
                if attempt.broken:
                    break
                if attempt.fatal:
                    attempt.done = True  # the module cannot be graded: nothing more to wait for
                if attempt.plan is not None and _all_reported(attempt, only):
                    attempt.done = True  # nothing left to learn from this process
            if attempt.done:
                break
        if not attempt.timed_out:
            # Let a finished examiner end on its own: it ends its sandbox and all in it as it goes.
            try:
                grace = 0.0 if attempt.fatal else EXIT_GRACE if attempt.done else 5.0  # fatal: no use for it
                proc.wait(timeout=max(0.0, min(grace, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                pass
    finally:
        attempt.exit_code = proc.poll()
        selector.close()
        os.close(read_fd)
        sandbox.end_everything(proc, token)
        with _LIVE_LOCK:
            _LIVE.discard(proc.pid)
            if isinstance(launcher, sandbox.ExecLauncher):  # its orphans are ours (a fork server reaps its own)
                sandbox.end_new_children(before | _LIVE)
        proc.stdout.close()
        proc.stderr.close()
    return attempt


DISK_EVERY_S = 0.25  # how often the scratch folder is measured while the learner's code runs


def _overfull(folder: Path, limits: Limits) -> str | None:
    stored, entries = usage(folder, limits.files)
    if stored > limits.disk_mb << 20:
        return f"wrote more than {limits.disk_mb} MiB into its folder (the limit is --disk-mb {limits.disk_mb})"
    if entries > limits.files:
        return f"made more than {limits.files} files and folders in its folder"
    return None


def _all_reported(attempt: Attempt, only: list[str]) -> bool:
    wanted = only or [c["id"] for c in attempt.plan]
    return all(check_id in attempt.results for check_id in wanted)


def _result(meta: dict, status: str, message: str, duration: float = 0.0) -> CheckResult:
    return CheckResult(id=meta["id"], level=meta["level"], title=meta["title"], status=status,
                       message=message, hint=meta.get("hint", ""), duration_s=round(duration, 3))


def planned(drill: str) -> list[dict]:
    return [{"id": c.id, "level": c.level, "title": c.title, "hint": c.hint}
            for c in manifest.load().drill(drill).checks]


def grade(target: Path, drill: str, *, limits: Limits = Limits(),
          extra_checks: list[Path] = (), shown_as: str | None = None,
          launcher: Launcher | None = None, plan: list[dict] | None = None,
          isolation: str = "auto", source: bytes | None = None, lane=None) -> Report:
    """Grade one drill file. The learner's code runs only in child processes.

    `launcher` starts each grading process (default: a fresh `python -m grader.engine.examiner`;
    batch grading passes a warm grader.engine.forkserver.ForkServer). `plan` is the drill's list of
    checks (id, level, title, hint) to report when a module cannot even list them, for
    example because importing it hangs; by default, the manifest's checks. `source`: the
    file's bytes when the caller has read them already (batch: the bytes its resume key is of).
    `isolation`: the sandbox backend (grader.engine.isolation) for the learner's code.
    `lane`: a batch lane's grader.engine.isolation.Lane, whose warm template the examiner
    adopts (its control socket lent through the launcher); the scratch folder is inside it.
    Without one, a grade has a lane of its own: its template starts here, first, while the
    examiner starts and imports pytest.
    """
    launcher = launcher or sandbox.ExecLauncher()
    sandbox.become_subreaper()
    own = None
    if lane is None and isolation in BACKENDS:
        own = lane = Lane(isolation, memory_mb=limits.memory_mb, file_mb=limits.file_mb, warm=False,
                          preload=manifest.load().preload(drill))
    chromium = _early_browser(drill, launcher)
    try:
        return _grade(target, drill, limits, list(extra_checks), shown_as, launcher, plan, isolation,
                      source, lane, chromium)
    finally:
        if chromium is not None:
            chromium.close()
        if own is not None:
            pid = own.template.pid if own.template else None
            own.close()
            with _LIVE_LOCK:
                _LIVE.discard(pid)


def _lend(lane, launcher: Launcher, again: bool = False) -> dict[str, str]:
    """Lend `lane`'s template to the examiners `launcher` starts. Started here, under the same
    lock as an examiner, so that another grade's clean-up never takes it for an orphan."""
    with _LIVE_LOCK:
        before = lane.template.pid if lane.template is not None else None
        env = lane.renew(launcher) if again else lane.lend(launcher)
        if isinstance(launcher, sandbox.ExecLauncher) and lane.template is not None:
            if before != lane.template.pid:
                _LIVE.discard(before)  # replaced: that process is ended
            _LIVE.add(lane.template.pid)
    return env


def _early_browser(drill: str, launcher: Launcher) -> browser.SharedBrowser | None:
    """For a single grade of a drill whose checks need Chromium: a browser lent to the browser
    check (as a batch lends a warm one) and started once the module's first import is through,
    so that its start-up runs beside the first checks rather than at the browser check, and
    not beside the sandbox's and the examiner's own (nor at all for a module that cannot be
    imported). A batch's fork server has its own to lend."""
    if not isinstance(launcher, sandbox.ExecLauncher) or "chromium" not in manifest.load().drill(drill).needs:
        return None
    executable = browser.find_chromium()
    return browser.SharedBrowser(executable, deferred=True) if executable else None


def _grade(target: Path, drill: str, limits: Limits, extra_checks: list[Path], shown_as: str | None,
           launcher: Launcher, plan: list[dict] | None, isolation: str, source: bytes | None, lane,
           chromium: browser.SharedBrowser | None = None) -> Report:
    lane_env = _lend(lane, launcher) if lane else None
    fallback = plan or planned(drill)
    plan = None
    target = target.resolve()
    report = Report(drill=drill, target=shown_as or str(target))
    scratch = new_scratch("docchat-grade-", lane.folder if lane else None)
    private = scratch / "source.py"  # the bytes read once: what is graded, whatever the file does next
    private.write_bytes(target.read_bytes() if source is None else source)
    deadline = time.monotonic() + limits.run_s
    results: dict[str, CheckResult] = {}
    hangs, hung = 0, []
    try:
        while True:
            todo = [] if plan is None else [m["id"] for m in plan if m["id"] not in results]
            if lane is not None and plan is not None:  # another attempt: nothing of the last one runs on
                lane_env = _lend(lane, launcher, again=True)
            if chromium is not None:  # each attempt: tidied, or a new one if it died
                browser.lend_to(launcher, chromium)
            attempt = _run_once(private, target.name, drill, todo, limits, scratch, extra_checks,
                                deadline, launcher, isolation, lane_env, lane.folder if lane else None,
                                on_ready=chromium.start if chromium is not None else None)
            report.isolation = attempt.isolation or report.isolation or (
                isolation if isolation in BACKENDS else None)
            if attempt.broken:
                report.error = f"the grader's examiner sent {attempt.broken}"
                report.grader_broke = True
                plan = plan or attempt.plan or fallback
                break
            if attempt.fatal:
                report.error = attempt.fatal
                plan = plan or attempt.plan or fallback
                break
            overfull = f"your code {attempt.overfull}, so grading stopped" if attempt.overfull else None
            if attempt.plan is None:
                plan = plan or fallback
                report.error = overfull or _why_no_plan(attempt, target, limits)
                break
            plan = plan or attempt.plan
            metas = {m["id"]: m for m in plan}
            for check_id, record in attempt.results.items():
                results[check_id] = _result(metas[check_id], record["status"], record["message"],
                                            record["duration_s"])
                report.grader_broke |= bool(record.get("internal"))
            if overfull:
                report.error = overfull
                if attempt.running in metas:
                    results[attempt.running] = _result(metas[attempt.running], "error", overfull)
                break
            if attempt.done or all(m["id"] in results for m in plan):
                break
            stuck = attempt.running
            if attempt.timed_out == "run" or stuck is None:
                report.error = (f"grading took longer than {limits.run_s:g} s in all"
                                if attempt.timed_out == "run" else
                                f"the grading process stopped between checks ({attempt.exit_status})")
                break
            if attempt.timed_out == "check":
                hangs += 1
                hung.append(stuck)
                waiting = f"; it was {attempt.progress}" if attempt.progress else ""
                results[stuck] = _result(metas[stuck], "error",
                                         f"took longer than {limits.check_s:g} s{waiting}. "
                                         "A handler that blocks the event loop (time.sleep or "
                                         "other blocking work inside `async def`) or a loop that "
                                         "never ends causes this.", limits.check_s)
            else:
                results[stuck] = _result(metas[stuck], "error",
                                         "the grading process ended while this check ran "
                                         f"({attempt.exit_status}): your code stopped it, for "
                                         "example with os._exit(), or crashed it.")
            if hangs >= limits.hangs_allowed:
                report.error = (f"{hangs} checks took longer than {limits.check_s:g} s each "
                                f"({', '.join(hung)}), so grading stopped: your app seems to stop "
                                "answering (a blocked event loop, or a loop that never ends)")
                break
        for meta in plan:
            results.setdefault(meta["id"], _result(meta, "error", NOT_RUN + (
                report.error or "the grading process ended before this check")))
        report.checks = [results[m["id"]] for m in plan]
        return report
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def list_checks(drill: str, *, extra_checks: list[Path] = (), limits: Limits = Limits(),
                launcher: Launcher | None = None) -> list[dict]:
    """The checks a grade of `drill` runs (id, level, title, hint), hidden ones included.

    Collects them in a grading process, against a minimal app, running none of them.
    Raises GraderBroke when a check file cannot be collected.
    """
    sandbox.become_subreaper()
    scratch = new_scratch("docchat-grade-")
    try:
        stub = scratch / f"{drill}.py"
        stub.write_text("from fastapi import FastAPI\napp = FastAPI()\n")
        attempt = _run_once(stub, stub.name, drill, [NO_CHECK], limits, scratch, list(extra_checks),
                            time.monotonic() + limits.run_s, launcher or sandbox.ExecLauncher(),
                            "auto")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if attempt.plan is None or attempt.pytest_exit not in PYTEST_NOTHING_RAN:
        files = ", ".join(str(p) for p in extra_checks) or "the built-in checks"
        raise GraderBroke(f"could not collect the {drill} checks from {files} "
                          f"(pytest exit code {attempt.pytest_exit}): "
                          "does `python -m pytest --collect-only` on them report an error?")
    return attempt.plan


NO_CHECK = "-"  # an id no check has: `--only` it to collect without running anything
PYTEST_NOTHING_RAN = (0, 5)  # pytest's OK and NO_TESTS_COLLECTED


def _why_no_plan(attempt: Attempt, target: Path, limits: Limits) -> str:
    if attempt.timed_out == "import":
        return (f"importing {target.name} took longer than {limits.import_s:g} s: does it run a "
                "loop or a blocking call at module level?")
    if attempt.timed_out == "run":
        return f"grading took longer than {limits.run_s:g} s in all"
    tail = " | ".join(attempt.stderr.decode("utf-8", "replace").strip().splitlines()[-3:])
    if not attempt.ready and (attempt.exit_code is None or attempt.exit_code < 0):
        # Killed before the module's first import was through: the learner's code may have had
        # a hand in it (memory, or a sandbox that cannot scope signals).
        return (f"the grading process ended while importing {target.name} "
                f"({attempt.exit_status}): does it call os._exit() or crash at import time?")
    if not attempt.ready:  # it exited by itself: the learner's code never runs in it, so ours failed
        raise GraderBroke(f"the grading process ended before the module's first import was through "
                          f"({attempt.exit_status}): {tail}")
    raise GraderBroke(f"the grading process ended before it listed the checks ({attempt.exit_status}): {tail}")


class Launcher(Protocol):
    """Starts a grading process: see sandbox.ExecLauncher."""

    def start(self, args: list[str], *, channel_fd: int, token: str, cwd: Path, memory_mb: int,
              file_mb: int, extra_env: dict[str, str]) -> sandbox.Spawned: ...


class GraderBroke(RuntimeError):
    """The grader itself failed: exit code 3."""
