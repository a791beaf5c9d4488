"""Benchmark: how long `docchat-grade` takes against the floor of importing its tools.

The floor is `python -c "import fastapi.testclient, pytest"`, timed in the same run, so
the ratio means the same thing on a fast laptop and on a loaded 2-core CI machine.
Prints, for each drill's solution, the median wall time, the ratio to the floor and the
peak memory of the grader (the largest process in its tree); then the median time of a save
graded under `docchat-grade --watch` (its lane kept warm, after a first grade), against the
same floor.

    python bench/grade.py [--repeat 5] [--drills upload,errors]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOR = [sys.executable, "-c", "import fastapi.testclient, pytest"]
TARGET_RATIO, TARGET_MIB = 2.0, 200  # issue 11: at most twice the floor

# Runs a command and prints its wall time and the peak RSS of its whole process tree.
PROBE = """
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)
"""


def measure(cmd: list[str]) -> tuple[float, float, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, *cmd], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.split()
    return float(out[0]), int(out[1]) / 1024, int(out[2])


def bench(cmd: list[str], repeat: int) -> tuple[float, float, int]:
    runs = [measure(cmd) for _ in range(repeat)]
    return (statistics.median(r[0] for r in runs), max(r[1] for r in runs), runs[-1][2])


def watched(drill: str, repeat: int) -> float:
    """The median time a save takes to grade under `--watch`, once its session is warm."""
    from grader.api import grade_report
    from grader.engine.runner import Limits
    from grader.watch import warm_lane

    path = ROOT / "solutions" / f"{drill}.py"
    warm = warm_lane("auto", Limits(), [drill])
    try:
        grade_report(path, warm=warm)  # the session's first grade starts what it keeps warm
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            grade_report(path, warm=warm)
            times.append(time.perf_counter() - started)
    finally:
        warm.close()
    return statistics.median(times)


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from grader import manifest

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--drills", default=",".join(manifest.load().names))
    args = p.parse_args()

    grade = [sys.executable, "-m", "grader"]
    measure(FLOOR)  # warm the page cache before anything is timed
    started = time.perf_counter()
    floor, floor_mib, _ = bench(FLOOR, args.repeat)
    print(f"floor  {' '.join(FLOOR[1:])!s:<48} {floor:6.2f} s  {floor_mib:6.0f} MiB")
    worst = 0.0
    for drill in args.drills.split(","):
        seconds, mib, code = bench([*grade, f"solutions/{drill}.py"], args.repeat)
        ratio = seconds / floor
        worst = max(worst, ratio)
        verdict = "ok" if ratio <= TARGET_RATIO else "OVER TARGET"
        if mib > TARGET_MIB:
            verdict += f", over {TARGET_MIB} MiB" + (" (Chromium's)" if drill == "streaming" else "")
        print(f"grade  solutions/{drill}.py{'':<{30 - len(drill)}} {seconds:6.2f} s  {mib:6.0f} MiB"
              f"  x{ratio:4.2f} floor  exit {code}  {verdict}")
    for drill in args.drills.split(","):
        seconds = watched(drill, args.repeat)
        print(f"watch  a save of solutions/{drill}.py{'':<{22 - len(drill)}} {seconds:6.2f} s"
              f"{'':12}x{seconds / floor:4.2f} floor")
    print(f"median of {args.repeat} runs each; target: at most x{TARGET_RATIO:g} the floor and "
          f"{TARGET_MIB} MiB; worst x{worst:.2f}; benchmark took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
