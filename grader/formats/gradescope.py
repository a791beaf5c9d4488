"""Gradescope's autograder results.json: one test per check, one point per passed check.

Fields follow Gradescope's "Autograder Specifications": top-level `score`, `max_score`,
`output`, `visibility`, `stdout_visibility`, `execution_time` and `tests`, each test with
`name`, `number`, `score`, `max_score`, `status` ("passed"/"failed"), `output`, `visibility`.
Instructors' hidden checks (ids the manifest does not list) are shown to learners only
once grades are published (`after_published`); every other test is `visible`.
"""

from __future__ import annotations

import json
import math

from grader.batch.cohort import MISSING, is_hidden, learner_status, totals
from grader.report import Report

VISIBLE, AFTER_PUBLISHED = "visible", "after_published"


def _test(check: dict, number: str) -> dict:
    output = check["message"]
    if check["status"] == "skipped":
        output = f"skipped: {output}" if output else "skipped"
    elif check["status"] != "passed" and check["hint"]:
        output += f"\n\nHint: {check['hint']}"
    passed = check["status"] == "passed"
    return {"name": f"{check['id']}: {check['title']}", "number": number,
            "score": 1 if passed else 0, "max_score": 1, "status": "passed" if passed else "failed",
            "output": output, "visibility": AFTER_PUBLISHED if is_hidden(check["id"]) else VISIBLE}


def _summary(report: dict) -> str:
    line = f"{report['drill']}: {report['status']} ({report['score']}/{report['max_score']})"
    if report["status"] == MISSING:
        return f"{line}: {report['error']}"
    return f"{line}: could not be graded: {report['error']}" if report["error"] else line


def results(reports: list[dict]) -> dict:
    """Gradescope's results.json for one learner's reports."""
    score, most = totals(reports)
    tests = [_test(check, f"{i}.{j}")
             for i, report in enumerate(reports, 1) for j, check in enumerate(report["checks"], 1)]
    seconds = sum(c["duration_s"] for r in reports for c in r["checks"])
    status = learner_status(reports)
    return {"score": score, "max_score": most,
            "output": "\n".join([f"docchat-grade: {status}, {score}/{most} checks pass",
                                 *map(_summary, reports)]),
            "visibility": VISIBLE, "stdout_visibility": "hidden",
            "execution_time": math.ceil(seconds), "tests": tests}


def render(report: Report) -> str:
    """The `--format gradescope` output."""
    return json.dumps(results([report.document()]), indent=2, ensure_ascii=False) + "\n"
