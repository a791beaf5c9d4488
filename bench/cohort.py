"""Benchmark: grade a generated cohort with `docchat-grade batch`, and compare with a single grade.

    .venv/bin/python bench/cohort.py [--learners 50] [--jobs N] [--seed 1] [--keep DIR]
                                     [--drills upload,lifespan,...]

`--jobs` defaults to the number of cores + 1 (see docs/instructors.md, "How fast").

The cohort has every drill in the manifest (50 learners x N drills): mostly solutions, then
mutants (one known bug each), skeletons and a few missing files (tests/cohorts.py). Prints
drill-grades per second, CPU time, whether every file got its known verdict, the peak memory of
the whole process tree (PSS, so pages shared by forked processes count once), and the
per-grade overhead of a batch grade against one `docchat-grade PATH` (time spent outside the
checks themselves). Target: the 50-learner cohort in under 90 s and 1 GiB on a 2-core machine,
every verdict as expected.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import manifest  # noqa: E402
from grader.batch import default_jobs  # noqa: E402
from tests.cohorts import make_cohort, mutants_of, random_cohort, verdict  # noqa: E402

GRADE = str(Path(sys.executable).with_name("docchat-grade"))
TARGET_S, TARGET_MIB = 90.0, 1024


def machine_cpu() -> float:
    """CPU seconds the whole machine has been busy (/proc/stat): a batch's processes are not all
    reaped by it (a sandbox's are reaped inside it), so RUSAGE_CHILDREN would miss some. Run it
    on an otherwise quiet machine."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def tree_pss_mib(root: int) -> float:
    """The summed PSS of `root` and every process below it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    total_kib = 0
    for pid in tree:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kib += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return total_kib / 1024


class PeakMemory(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0.0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, tree_pss_mib(self.pid))
            time.sleep(0.5)  # reading smaps costs CPU: sample often enough, not more


def unexpected(report: dict, kind: str) -> str:
    """What is wrong with a file's report, given what the file is ('' if nothing)."""
    if kind.startswith("mutant:"):  # caught by the check named for its bug (it may only be a stretch one)
        catches = mutants_of(report["drill"])[kind.split(":", 1)[1]].catches
        status = next(c["status"] for c in report["checks"] if c["id"] == catches)
        return "" if status == "failed" else f"{catches} {status}, expected failed"
    return "" if report["status"] == verdict(kind) else f"{report['status']}, expected {verdict(kind)}"


def single_grade(drill: str) -> tuple[float, float]:
    """Wall time of `docchat-grade solutions/<drill>.py`, and the time its checks took."""
    started = time.monotonic()
    out = subprocess.run([GRADE, str(ROOT / "solutions" / f"{drill}.py"), "--format", "json"],
                         capture_output=True, text=True, check=False).stdout
    wall = time.monotonic() - started
    return wall, sum(c["duration_s"] for c in json.loads(out)["checks"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--learners", type=int, default=50)
    p.add_argument("--jobs", type=int, default=default_jobs() + 1,
                   help="default: the number of cores + 1, what docs/instructors.md advises for a "
                        "small machine (a grade waits part of its time); 0: docchat-grade's own "
                        "default (the number of cores)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--drills", default=",".join(manifest.load().names),
                   help="the drills in the cohort (default: all; the first five are the 50 x 5 cohort "
                        "of earlier figures)")
    p.add_argument("--keep", metavar="DIR", help="keep the cohort and the results here")
    p.add_argument("--without-chromium", action="store_true",
                   help="hide Chromium (PATH is the venv's bin only), so the streaming drill's browser "
                        "check is skipped: shows what starting a browser per streaming grade costs")
    args = p.parse_args()
    drills = args.drills.split(",")
    work = Path(args.keep or tempfile.mkdtemp(prefix="docchat-bench-"))
    submissions, out = work / "submissions", work / "out"
    shutil.rmtree(work / "out", ignore_errors=True)  # a kept folder would resume: grade everything
    learners = random_cohort(drills, args.learners, args.seed)
    make_cohort(submissions, learners)
    files = sum(1 for _ in submissions.glob("*/drills/*.py"))
    print(f"cohort: {args.learners} learners x {len(drills)} drills ({', '.join(drills)}) = "
          f"{args.learners * len(drills)} drill files, {files} handed in; cores: {os.cpu_count()}; "
          f"load average before: {os.getloadavg()[0]:.1f}")

    singles = {drill: single_grade(drill) for drill in drills}
    single_overhead = sum(w - c for w, c in singles.values()) / len(singles)
    print("single `docchat-grade PATH` per drill (wall / in checks): " + ", ".join(
        f"{d} {w:.2f}/{c:.2f} s" for d, (w, c) in singles.items()))

    cmd = [GRADE, "batch", str(submissions), "--out", str(out), "--drills", ",".join(drills)]
    if args.jobs:
        cmd += ["--jobs", str(args.jobs)]
    cpu_before, started = machine_cpu(), time.monotonic()
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)} if args.without_chromium else None
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    memory = PeakMemory(proc.pid)
    memory.start()
    code = proc.wait()
    wall = time.monotonic() - started
    memory.running = False
    cpu = machine_cpu() - cpu_before
    run = json.loads((out / "run.json").read_text())
    grades = run["grades"]["graded"]
    timings = [t for learner in run["timings"].values() for t in learner.values() if not t["reused"]
               and t["checks"] and t["seconds"]]
    in_checks = sum(sum(t["checks"].values()) for t in timings) / max(len(timings), 1)
    jobs = run["jobs"]
    per_grade = wall * jobs / max(grades, 1)
    print(("Chromium hidden: the browser check is skipped\n" if args.without_chromium else "")
          + f"batch: exit {code}, {grades} grades in {wall:.1f} s with {jobs} jobs = "
          f"{grades / wall:.2f} drill-grades/s; CPU (the machine's) {cpu:.1f} s ({cpu / max(grades, 1):.2f} s per grade); "
          f"peak memory (PSS of the process tree) {memory.peak:.0f} MiB")
    print(f"per-grade overhead (time outside the checks): batch {per_grade - in_checks:.2f} s "
          f"(lane time per grade {per_grade:.2f} s, in checks {in_checks:.2f} s) vs single grade "
          f"{single_overhead:.2f} s")
    results = json.loads((out / "results.json").read_text())
    wrong = [f"{learner}/{drill} ({kind}): {problem}" for learner, kinds in learners.items()
             for drill, kind in kinds.items() if (problem := unexpected(results[learner][drill], kind))]
    print(f"verdicts: {len(learners) * len(drills) - len(wrong)} as expected"
          + (", NOT as expected:\n  " + "\n  ".join(wrong) if wrong else ""))
    # untouched skeletons are handed in but not graded ("not started")
    ok = wall < TARGET_S and memory.peak < TARGET_MIB and not wrong and grades + run["grades"]["not_started"] == files
    print(f"target (< {TARGET_S:g} s, < {TARGET_MIB} MiB): {'met' if ok else 'NOT met'}; "
          f"load average after: {os.getloadavg()[0]:.1f}; results in {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
