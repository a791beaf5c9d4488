"""`docchat-grade batch`: grade a whole cohort, for instructors, CI and grading platforms.

Each immediate subfolder (or .zip) of SUBMISSIONS_DIR is a learner (its name is the learner id);
grader/batch/intake.py finds their drill files; grader/batch/writer.py writes OUT_DIR, the files
docs/contract.md "Instructor mode" names and more (see docs/instructors.md). Grades run `--jobs` at a
time, each in a lane kept warm across its grades (grader/engine/warm.py: a fork server that forks
each grade's examiner, and a sandbox template); the learner's code runs only in app hosts inside
the sandbox (docs/isolation.md), watched
and limited by grader/engine/runner.py exactly as a single `docchat-grade PATH` is; this process
reads each file once, schedules, saves and writes. Every grade is saved the moment it finishes
(grader/batch/resume.py): an interrupted run, re-run with the same OUT_DIR, grades only what is left
or what changed.
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, TextIO

from grader.batch import cohort as outputs
from grader.batch import hidden, intake, shards, writer
from grader.batch.policy import PolicyError
from grader.formats import github
from grader import manifest
from grader.batch import resume
from grader.engine import isolation, runner
from grader.batch.progress import Progress
from grader.batch.jobqueue import JobQueue
from grader.browser import BrowserPool, SharedBrowser, find_chromium
from grader.engine.forkserver import ForkServer, Stopped
from grader.engine.warm import WarmLane
from grader.report import EXIT_FAILED, EXIT_GRADER_BROKE, EXIT_PASSED, EXIT_USAGE, Report
from grader.engine.runner import GraderBroke, Limits

USAGE = ("docchat-grade batch SUBMISSIONS_DIR --out OUT_DIR [--jobs N] [--drills a,b] "
         "[--checks EXTRA_DIR] [--timeout S] [--memory-mb N] [--disk-mb N] [--policy grading.toml] [--roster roster.csv] "
         "[--bom] [--shard K/N] [--strict]")
EXIT_INTERRUPTED = 130
# A grading process's scratch folder (and the random suffixes of the folders in it) differ
# on every run; reports name them as <scratch>/<folder>.
SCRATCH = re.compile(r"(?:/[^\s'\"`/]+)*/docchat-grade-[A-Za-z0-9_]+")
# Grading processes with repeatable randomness and string hashing (grader/engine/determinism.py).
REPEATABLE = {"DOCCHAT_SEED": "docchat-batch", "PYTHONHASHSEED": "0"}
SCRATCH_SUFFIX = re.compile(r"(<scratch>/[^\s'\"`/]*?)-[A-Za-z0-9_]{8}(?=[/\s'\"`]|$)")
# The port a check's own local server got from the OS (the browser check serves the app on one).
LOCAL_PORT = re.compile(r"\b(127\.0\.0\.1|localhost):\d+")


class Usage(Exception):
    """The command cannot be carried out as asked (exit code 2)."""


class Interrupted(Exception):
    """Ctrl-C: the grades finished so far are saved."""


@dataclass(frozen=True)
class Job:
    """One learner's drill file, to grade or to take from a previous run."""

    learner: str
    drill: str
    path: Path
    target: str  # as the reports show it: relative to SUBMISSIONS_DIR
    key: str | None  # the resume key; None when the file is not graded (missing, not started)
    unrun: str | None = None  # why it is not graded: outputs.MISSING or outputs.NOT_STARTED
    source: bytes = field(default=b"", compare=False, repr=False)  # the bytes read once, and graded


@dataclass
class Outcome:
    report: Report
    seconds: float
    broke: str | None = None  # the grader itself failed: not saved, so a re-run tries again


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="docchat-grade batch", usage=USAGE,
        description="Grade every learner's drills: gradebook.csv, results.json, feedback/, cohort.md, "
                    "junit.xml, gradescope/ and run.json in OUT_DIR. Re-run with the same OUT_DIR to "
                    "resume: only new or changed drill files are graded again.",
        epilog="Exit codes: 0 every learner passed every drill; 1 some did not; 2 usage error; "
               "3 the grader itself broke; 130 interrupted (re-run to resume).")
    p.add_argument("submissions", metavar="SUBMISSIONS_DIR", help="one folder per learner, each with drills/")
    p.add_argument("--out", required=True, metavar="OUT_DIR", help="where the results go")
    p.add_argument("--jobs", type=int, default=default_jobs(), metavar="N",
                   help=f"grading processes at a time (default: the number of cores, {default_jobs()})")
    p.add_argument("--drills", metavar="a,b", help="grade only these drills (default: all, in course order)")
    p.add_argument("--checks", metavar="EXTRA_DIR", help="also run the check_*.py files in EXTRA_DIR (hidden checks)")
    runner.add_limit_options(p)
    p.add_argument("--unsandboxed", action="store_true",
                   help="grade even where no sandbox works (a learner's code could then read or change "
                        "other learners' files and the results)")
    writer.add_arguments(p)
    p.add_argument("--shard", metavar="K/N", type=shards.parse,
                   help="grade only the K-th of N stable parts of the learners; join them with docchat-grade merge")
    p.add_argument("--strict", action="store_true",
                   help="stop (exit 2) on a warning about the hidden checks, e.g. an id that names no drill")
    return p


def main(argv: list[str]) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else 0
    try:
        batch = Batch.from_args(args)
        batch.argv = argv
        return batch.run()
    except (Usage, PolicyError, writer.OptionError) as exc:
        print(f"docchat-grade batch: {exc}\nusage: {USAGE}", file=sys.stderr)
        return EXIT_USAGE
    except Interrupted as exc:
        print(f"\ndocchat-grade batch: interrupted: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except GraderBroke as exc:
        print(f"docchat-grade batch: the grader itself broke: {exc}", file=sys.stderr)
        return EXIT_GRADER_BROKE


def hidden_check_files(folder: str | None) -> list[Path]:
    """The instructor's check_*.py files; a syntax error is reported here, not once per learner."""
    if folder is None:
        return []
    root = Path(folder)
    if not root.is_dir():
        raise Usage(f"--checks {folder}: no such folder")
    files = sorted(p.resolve() for p in root.glob("check_*.py"))
    if not files:
        raise Usage(f"--checks {folder}: no check_*.py files in it")
    for path in files:
        try:
            compile(path.read_bytes(), str(path), "exec")
        except SyntaxError as exc:
            raise Usage(f"--checks: {path.name} has a syntax error on line {exc.lineno}: {exc.msg}") from exc
    return files


class Batch:
    def __init__(self, submissions: Path, out: Path, drills: list[str], extra_checks: list[Path],
                 jobs: int, limits: Limits, stream: TextIO | None = None) -> None:
        self.submissions, self.out = submissions.resolve(), out.resolve()
        self.drills, self.extra_checks, self.jobs, self.limits = drills, extra_checks, jobs, limits
        self.stream = stream or sys.stderr
        self.store = resume.Store(self.out)
        self.config = resume.fingerprint(extra_checks, {"check_s": limits.check_s,
                                                         "memory_mb": limits.memory_mb, "disk_mb": limits.disk_mb})
        self.plans: dict[str, list[dict]] = {}
        # Warm browsers, at most one per core whatever --jobs is (each takes a few hundred MiB):
        # one, and more only when the job queue finds the grades that need one holding it up.
        executable = find_chromium()
        self.browsers = BrowserPool(executable, min(jobs, default_jobs())) if executable else None
        self.argv: list[str] = []
        self.isolation = isolation.choose()
        self.grader_hash = resume.grader_files_hash()
        self.options = writer.Options()
        self.shard: tuple[int, int] | None = None
        self.strict = False
        self.intakes: dict[str, intake.Intake] = {}

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Batch:
        submissions = Path(args.submissions)
        if not submissions.is_dir():
            raise Usage(f"no such folder: {args.submissions}")
        known = manifest.load().names
        drills = known
        if args.drills:
            asked = [d.strip() for d in args.drills.split(",") if d.strip()]
            unknown = [d for d in asked if d not in known]
            if unknown or not asked:
                raise Usage(f"unknown drill {', '.join(unknown) or '(none given)'}: choose from {', '.join(known)}")
            drills = [d for d in known if d in asked]
        if args.jobs < 1:
            raise Usage("--jobs must be at least 1")
        if Path(args.out).resolve() == submissions.resolve():
            raise Usage("--out must not be SUBMISSIONS_DIR itself: its folders would be taken for learners")
        try:
            sandbox = isolation.choose(args.sandbox)
        except isolation.SandboxUnavailable as exc:
            raise Usage(str(exc)) from None
        if sandbox == "none" and not args.unsandboxed:
            raise Usage("no sandbox works on this machine (bubblewrap, or Landlock on Linux 6.7+), so one "
                        "learner's code could read or change another's and the results: install "
                        "bubblewrap, or pass --unsandboxed to grade anyway")
        extra = hidden_check_files(args.checks)
        warnings = hidden.warnings(extra, known)
        for warning in warnings:
            print(f"docchat-grade batch: warning: {warning}", file=sys.stderr)
        if warnings and args.strict:
            raise Usage("--strict: the hidden checks have the warnings above")
        batch = cls(submissions, Path(args.out), drills, extra, args.jobs, runner.limits_from(args))
        batch.isolation = sandbox
        batch.options = writer.options(args, known)
        batch.shard, batch.strict = args.shard, args.strict
        return batch

    # -- what to grade ----------------------------------------------------------------------

    def learners(self) -> list[str]:
        """The learners (of this shard, with --shard); their drill files are found by intake."""
        found = intake.learners(self.submissions, self.out)
        if not found:
            raise Usage(f"no learner folders in {self.submissions}: it should hold one folder per learner")
        if self.shard:
            found = {name: where for name, where in found.items() if shards.mine(name, *self.shard)}
        every = manifest.load().names
        self.intakes = {name: intake.take_in(name, folder, self.drills, every, self.out / intake.INTAKE_DIR, archive)
                        for name, (folder, archive) in found.items()}
        return sorted(self.intakes)

    def job(self, learner: str, drill: str) -> Job:
        found = self.intakes[learner]
        if drill not in found.files:
            return Job(learner, drill, self.submissions / learner / "drills" / f"{drill}.py",
                       f"{learner}/drills/{drill}.py", None, outputs.MISSING)
        path, target = found.files[drill], found.shown[drill]
        try:
            source = path.read_bytes()
        except OSError:
            return Job(learner, drill, path, target, None, outputs.MISSING)
        if intake.untouched(source, drill):
            return Job(learner, drill, path, target, None, outputs.NOT_STARTED)
        # the target is in the key: a file moved to another folder is graded again, as reports name it
        return Job(learner, drill, path, target, resume.file_key(source, f"{self.config}\0{target}"),
                   source=source)

    def load_plans(self, server: ForkServer) -> None:
        """Each drill's checks; with hidden checks, asked of a grading process (they are code)."""
        for drill in self.drills:
            try:
                self.plans[drill] = (runner.list_checks(drill, extra_checks=self.extra_checks,
                                                        limits=self.limits, launcher=server)
                                     if self.extra_checks else runner.planned(drill))
            except GraderBroke as exc:
                tracebacks = hidden.import_tracebacks(self.extra_checks)
                raise Usage(f"--checks: {exc}" + (f"\n\n{tracebacks}" if tracebacks else "")) from exc

    # -- grading ----------------------------------------------------------------------------

    def normalize(self, report: Report) -> Report:
        """The report without what differs from run to run: absolute paths, scratch folders, ports."""
        def clean(text: str) -> str:
            text = text.replace(str(self.submissions) + os.sep, "")
            text = text.replace(str(self.out / intake.INTAKE_DIR) + os.sep, "")
            text = SCRATCH.sub("<scratch>", text)
            text = LOCAL_PORT.sub(r"\1:<port>", text)
            return SCRATCH_SUFFIX.sub(r"\1", text)

        return replace(report, error=clean(report.error) if report.error else None,
                       checks=[replace(c, message=clean(c.message)) for c in report.checks])

    def needs_browser(self, job: Job) -> bool:
        return "chromium" in manifest.load().drill(job.drill).needs

    def grade(self, job: Job, lane: WarmLane, browser: SharedBrowser | None = None) -> Outcome:
        """Grade `job` in `lane`, lending it `browser` (a warm one) if given."""
        started = time.monotonic()
        try:
            report = lane.grade(job.path, job.drill, browser=browser, extra_checks=self.extra_checks,
                                shown_as=job.target, plan=self.plans[job.drill], source=job.source)
        except (Stopped, Interrupted):
            raise
        except Exception as exc:  # noqa: BLE001 - one grade's failure is that grade's error, never the batch's
            why = f"the grader itself broke (a bug in docchat-grade, not in this file): {exc}"
            return Outcome(outputs.unrun_report(job.drill, job.target, self.plans[job.drill], "error", why),
                           time.monotonic() - started, broke=str(exc))
        broke = "a check's own code failed (see the check's message)" if report.grader_broke else None
        return Outcome(self.normalize(report), time.monotonic() - started, broke)

    def grade_all(self, todo: list[Job], lanes: list[WarmLane],
                  finished: Callable[[Job, Outcome], None]) -> None:
        """Grade `todo` in `len(lanes)` lanes; `finished` runs here, in this thread, per grade."""
        used = lanes[:max(1, min(len(lanes), len(todo)))]
        waiting = JobQueue(todo, self.needs_browser, self.browsers, len(used))
        done: queue.SimpleQueue = queue.SimpleQueue()
        stop = threading.Event()

        def work(lane: WarmLane) -> None:
            try:
                while (taken := waiting.take(stop)) is not None:
                    job, browser = taken
                    try:
                        done.put((job, self.grade(job, lane, browser)))
                    finally:
                        waiting.give_back(browser)
            except Stopped:
                return
            except BaseException as exc:  # a bug here: surface it in the main thread
                done.put((None, exc))

        threads = [threading.Thread(target=work, args=(lane,), daemon=True, name=f"docchat-lane-{i}")
                   for i, lane in enumerate(used)]
        for thread in threads:
            thread.start()
        left = len(todo)
        try:
            while left:
                # Asked before the wait: a lane that has ended had put its last grade by then, so
                # a queue found empty afterwards means grades lost. (Asked after a wait timed out,
                # a lane could put its last grade and end in between, on a busy machine.)
                running = any(t.is_alive() for t in threads)
                try:
                    job, outcome = done.get(block=running, timeout=0.5)
                except queue.Empty:
                    if running:
                        continue
                    raise RuntimeError("every grading lane stopped with grades still to do") from None
                if job is None:
                    raise outcome
                left -= 1
                finished(job, outcome)
        except KeyboardInterrupt:
            stop.set()
            for lane in lanes:
                lane.stop()
            for thread in threads:
                thread.join(timeout=5)
            raise Interrupted(f"{len(todo) - left} of {len(todo)} grades finished this run and are saved "
                              f"in {self.out}; run the same command again to grade the rest") from None

    # -- the run ----------------------------------------------------------------------------

    def run(self) -> int:
        started_at, started = datetime.now(timezone.utc), time.monotonic()
        writer.refuse_dropping_columns(self.out, self.drills)
        learners = self.learners()
        self.store.keep_only(set(learners))
        lanes = [WarmLane(self.isolation, self.limits, env=REPEATABLE, preload=manifest.load().preload(*self.drills))
                 for _ in range(self.jobs)]
        try:
            self.load_plans(lanes[0].server)
            for check_id in self.options.policy.unknown_checks(self.plans):
                print(f"docchat-grade batch: warning: --policy: no check {check_id} in the drills graded",
                      file=self.stream)
            cohort = outputs.Cohort(self.drills, self.plans, {learner: {} for learner in learners},
                                    policy=self.options.policy, roster=self.options.roster)
            jobs = [self.job(learner, drill) for learner in learners for drill in self.drills]
            progress = Progress(self.stream, {learner: len(self.drills) for learner in learners}, self.drills)
            timings: dict[str, dict[str, dict]] = {learner: {} for learner in learners}
            broke: list[str] = []

            def finished(job: Job, outcome: Outcome, reused: bool = False) -> None:
                reused = reused and job.unrun is None
                if job.key and not outcome.broke and not reused:
                    self.store.put(job.learner, job.drill, job.key, outcome.report, outcome.seconds)
                if outcome.broke:
                    broke.append(f"{job.target}: {outcome.broke}")
                cohort.reports[job.learner][job.drill] = outcome.report
                timings[job.learner][job.drill] = {
                    "seconds": round(outcome.seconds, 3), "reused": reused,
                    "checks": {c.id: c.duration_s for c in outcome.report.checks}}
                progress.finished(job.learner, outcome.report, reused, skipped=job.unrun is not None)

            known = {}  # what needs no grading: a missing file, or one graded before under the same key
            for job in jobs:
                if job.unrun is not None:
                    why = (intake.missing_why(job.drill) if job.unrun == outputs.MISSING
                           else intake.NOT_STARTED_WHY.format(job.target))
                    known[job] = Outcome(outputs.unrun_report(
                        job.drill, job.target, self.plans[job.drill], job.unrun, why), 0.0)
                elif (saved := self.store.get(job.learner, job.drill, job.key)) is not None:
                    known[job] = Outcome(*saved)
            todo = [job for job in jobs if job not in known]
            missing = sum(job.unrun == outputs.MISSING for job in jobs)
            not_started = sum(job.unrun == outputs.NOT_STARTED for job in jobs)
            reused = len(known) - missing - not_started
            progress.say(f"docchat-grade batch: {len(learners)} learners x {len(self.drills)} drills "
                         f"({', '.join(self.drills)}): {len(todo)} to grade with {self.jobs} jobs, "
                         f"{reused} unchanged since the last run, {missing} missing, {not_started} not started")
            for job, outcome in known.items():
                finished(job, outcome, reused=True)
            self.grade_all(todo, lanes, finished)
        finally:
            for lane in lanes:
                lane.close()
            if self.browsers is not None:
                self.browsers.close()
        elapsed = time.monotonic() - started
        self.write(cohort, {
            "started": started_at.isoformat(timespec="seconds"),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(elapsed, 3), "command": ["docchat-grade", "batch", *self.argv],
            "submissions": str(self.submissions), "out": str(self.out), "jobs": self.jobs,
            "drills": self.drills, "hidden_checks": [str(p) for p in self.extra_checks],
            "limits": {"check_s": self.limits.check_s, "memory_mb": self.limits.memory_mb,
                       "disk_mb": self.limits.disk_mb},
            "isolation": self.isolation,
            "versions": resume.versions(),
            "grades": {"total": len(jobs), "graded": len(todo), "missing": missing,
                       "reused": reused, "not_started": not_started},
            "grader_broke": broke, "timings": timings,
            "shard": shards.label(self.shard), "config": self.config, "plans": self.plans,
            "policy": self.options.policy.as_dict(), "roster": self.options.roster, "bom": self.options.bom,
            "intake": {learner: self.intakes[learner].as_dict() for learner in learners}})
        if github.active():
            github.annotate(cohort, {(j.learner, j.drill): j.path for j in jobs}, sys.stdout)
            github.write_summary(cohort)
        statuses = [outputs.learner_status(cohort.of(learner)) for learner in learners]
        print(f"docchat-grade batch: graded {len(todo)} drill files in {elapsed:.1f} s; "
              + ", ".join(f"{statuses.count(s)} {s}" for s in outputs.LEARNER_STATUSES)
              + f"; results in {self.out}")
        if resume.grader_files_hash() != self.grader_hash:
            broke.append("the grader's own files changed during the run: its results cannot be trusted")
        if broke:
            print("docchat-grade batch: the grader itself broke on:\n  " + "\n  ".join(broke), file=sys.stderr)
            return EXIT_GRADER_BROKE
        return EXIT_PASSED if all(s == "passed" for s in statuses) else EXIT_FAILED

    def write(self, cohort: outputs.Cohort, run: dict) -> None:
        writer.write_outputs(self.out, cohort, run, self.options)
        for warning in run["roster_warnings"]:
            print(f"docchat-grade batch: --roster: {warning}", file=sys.stderr)
