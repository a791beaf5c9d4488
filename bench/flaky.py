"""Flakiness: grade each solution many times; every check must pass every time.

A check that fails a correct submission once in twenty runs is a bug in the check. With
`--mutants`, each named mutant is graded as often too, and the check that names its bug must
fail every time (a scenario that only sometimes catches a bug is as bad).

    python bench/flaky.py [--repeat 20] [--jobs 2] [--drills upload,errors] [--mutants job_id_from_file_count]

Prints each check that did not end as it should, with how often and the first message.
Exit 1 if there was any, else 0. Nothing is timed: load only makes it slower.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import manifest  # noqa: E402
from grader.api import grade  # noqa: E402
from tests.mutants import all_mutants  # noqa: E402


def outcomes(name: str, source: str, drill: str, repeat: int, jobs: int) -> list[dict]:
    """The reports of `repeat` gradings of `source`, `jobs` at a time."""
    with tempfile.TemporaryDirectory() as work:
        def once(n: int) -> dict:
            path = Path(work) / str(n) / f"{drill}.py"
            path.parent.mkdir()
            path.write_text(source)
            report = grade(path)
            print(f"  {name} #{n + 1}: {report['status']}", flush=True)
            return report

        with ThreadPoolExecutor(jobs) as pool:
            return list(pool.map(once, range(repeat)))


def unsteady(reports: list[dict], want: dict[str, str]) -> list[str]:
    """One line per check that ended otherwise than `want` says, in any report."""
    lines = []
    for check_id, status in want.items():
        found = [c for r in reports for c in r["checks"] if c["id"] == check_id]
        off = [c for c in found if c["status"] != status]
        if off or len(found) != len(reports):
            kinds = Counter(c["status"] for c in off)
            first = off[0]["message"].splitlines()[0] if off else "missing from a report"
            lines.append(f"{check_id}: {dict(kinds)} in {len(reports)} runs (want {status}); {first}")
    lines += [f"report error in {sum(bool(r['error']) for r in reports)} runs: {r['error']}"
              for r in reports[:1] if any(x["error"] for x in reports)]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--drills", default=",".join(d.name for d in manifest.load().drills))
    parser.add_argument("--mutants", default="", help="mutant names, comma-separated")
    args = parser.parse_args()
    problems = []
    for drill in args.drills.split(","):
        source = (ROOT / "solutions" / f"{drill}.py").read_text()
        reports = outcomes(f"solutions/{drill}.py", source, drill, args.repeat, args.jobs)
        # Skipped is steady too: the browser check is skipped where no Chromium is installed.
        want = {c["id"]: c["status"] if c["status"] == "skipped" else "passed" for c in reports[0]["checks"]}
        problems += [f"solutions/{drill}.py {line}" for line in unsteady(reports, want)]
    chosen = {m.name: m for m in all_mutants() if m.name in args.mutants.split(",")}
    for name, mutant in chosen.items():
        reports = outcomes(f"mutant {name}", mutant.source(), mutant.drill, args.repeat, args.jobs)
        problems += [f"mutant {name} {line}" for line in unsteady(reports, {mutant.catches: mutant.status})]
    print("\n".join(problems) if problems else
          f"steady: every check ended the same way in all {args.repeat} runs of each submission")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
