"""Golden reports: what learners read, pinned for six representative submissions.

One submission per drill (the untouched skeleton, realistic bugs, a solution) and a hostile
one, graded by `docchat-grade batch` (whose repeatable randomness keeps job ids and messages
the same on every run). Each report is kept twice under tests/golden/: as results.json holds
it (`<name>.json`) and as the terminal shows it (`<name>.txt`). tests/test_golden.py compares.

A changed message is then a reviewed diff. After a wanted change, regenerate and review:

    .venv/bin/python -m tests.goldens && git diff tests/golden/
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from grader.formats import text
from grader.report import from_document
from tests.cohorts import ROOT, make_cohort

GOLDEN = ROOT / "tests" / "golden"
GRADE = str(Path(sys.executable).with_name("docchat-grade"))
SUBMISSIONS = {
    "upload-skeleton": {"upload": "skeleton"},
    "lifespan-never-closes": {"lifespan": "mutant:never_closes"},
    "streaming-splitlines": {"streaming": "mutant:splitlines_frames"},
    "errors-solution": {"errors": "solution"},
    "background-worker-stops": {"background": "mutant:worker_dies_after_failure"},
    "upload-crash": {"upload": "crash"},  # hostile: os._exit inside every request
}


class Terminal(io.StringIO):
    """A UTF-8 terminal that is not a tty: the report as a learner reads it, without colour."""

    @property
    def encoding(self) -> str:
        return "utf-8"


SANDBOX = "bubblewrap"  # the reports name it (`isolation`): the goldens are made in this one


def graded(work: Path) -> dict[str, dict]:
    """Batch-grade every submission; each one's report, as results.json holds it."""
    subs, out = work / "submissions", work / "grades"
    make_cohort(subs, SUBMISSIONS)
    drills = sorted({drill for kinds in SUBMISSIONS.values() for drill in kinds})
    done = subprocess.run([GRADE, "batch", str(subs), "--out", str(out), "--jobs", "2", "--sandbox", SANDBOX,
                           "--drills", ",".join(drills)], capture_output=True, text=True, timeout=600)
    if done.returncode not in (0, 1):  # 1: some submission failed, as most of these do
        raise RuntimeError(f"docchat-grade batch exited {done.returncode}: {done.stderr}")
    results = json.loads((out / "results.json").read_text())
    return {name: results[name][drill] for name, kinds in SUBMISSIONS.items() for drill in kinds}


def as_json(report: dict) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def as_text(report: dict) -> str:
    return text.render(from_document(report), Terminal())


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        for name, report in graded(Path(work)).items():
            (GOLDEN / f"{name}.json").write_text(as_json(report))
            (GOLDEN / f"{name}.txt").write_text(as_text(report))
            print(f"wrote tests/golden/{name}.json and .txt")


if __name__ == "__main__":
    main()
