"""GitHub Actions: error annotations on the learner's drill files, and a job summary table.

Used when `GITHUB_ACTIONS=true`. Each drill that did not pass gets one `::error` workflow
command pointing at its file (relative to `GITHUB_WORKSPACE`, as GitHub needs), listing the
checks that failed with their whole message (sent, got, expected); the summary table is
appended to the file `GITHUB_STEP_SUMMARY` names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

from grader.batch.cohort import UNRUN, Cohort, learner_status, visible
from grader.report import Report, as_report

SHOWN_CHECKS = 8  # per annotation; the rest are counted


def active() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workspace_path(path: Path) -> str:
    """`path` relative to the checked-out repository, where GitHub looks for annotated files."""
    root = Path(os.environ.get("GITHUB_WORKSPACE") or Path.cwd()).resolve()
    resolved = path.resolve()
    try:
        return resolved.relative_to(root).as_posix()
    except ValueError:
        return resolved.as_posix()


def _indented(message: str) -> list[str]:
    return [f"    {line}" for line in message.splitlines()]


def annotation(learner: str, report: Report | dict, path: Path) -> str:
    """The `::error` command for one report (or its document)."""
    report = as_report(report)
    title = f"{learner}: {report.drill} {report.status} ({'/'.join(map(str, visible(report)))})"
    if report.error:
        lines = [report.error]
    else:
        bad = [c for c in report.checks if c.status in ("failed", "error")]
        lines = [line for c in bad[:SHOWN_CHECKS]  # the whole message: what was sent, got, expected
                 for line in (f"{c.id} ({c.status}): {c.title}", *_indented(c.message))]
        if len(bad) > SHOWN_CHECKS:
            lines.append(f"... and {len(bad) - SHOWN_CHECKS} more")
    return (f"::error file={escape_property(workspace_path(path))},line=1,"
            f"title={escape_property(title)}::{escape_data(chr(10).join(lines))}")


def annotate(cohort: Cohort, files: dict[tuple[str, str], Path], out: TextIO) -> int:
    """Print an annotation per drill that was handed in and did not pass; return how many."""
    count = 0
    for learner in cohort.learners:
        for report in cohort.of(learner):
            if report.status not in ("passed", *UNRUN):
                out.write(annotation(learner, report, files[learner, report.drill]) + "\n")
                count += 1
    out.flush()
    return count


def summary_md(cohort: Cohort) -> str:
    lines = ["## DocChat grades", "",
             "| learner | " + " | ".join(cohort.drills) + " | total | status |",
             "|---|" + "---|" * len(cohort.drills) + "---|---|"]
    for learner in cohort.learners:
        reports = cohort.of(learner)
        cells = [f"{'/'.join(map(str, visible(r)))} {r.status}" for r in reports]
        score, most = (sum(n) for n in zip(*map(visible, reports)))
        lines.append(f"| {learner} | " + " | ".join(cells) + f" | {score}/{most} | {learner_status(reports)} |")
    return "\n".join(lines) + "\n\n"


def write_summary(cohort: Cohort) -> None:
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as f:
            f.write(summary_md(cohort))
