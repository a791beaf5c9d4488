"""Gradescope's autograder results.json: one test per check, its points from the grading policy.

Fields follow Gradescope's "Autograder Specifications": top-level `score`, `max_score`,
`output`, `visibility`, `stdout_visibility`, `execution_time` and `tests`, each test with
`name`, `number`, `score`, `max_score`, `status` ("passed"/"failed"), `output`, `visibility`.
Instructors' hidden checks (ids the manifest does not list) are shown to learners only
once grades are published (`after_published`); every other test is `visible`, and the visible
`output` counts visible checks only, so it never gives away how many are hidden. The score is
the learner's points under the policy (grader/batch/policy.py; by default one per core check,
stretch checks a bonus once the drill's core passes).
"""

from __future__ import annotations

import json
import math

from grader.batch.cohort import UNRUN, is_hidden, learner_status, points, visible
from grader.batch.policy import Policy
from grader.report import CheckResult, Report, as_report, hint_for

VISIBLE, AFTER_PUBLISHED = "visible", "after_published"


def _test(check: CheckResult, number: str, report: Report, policy: Policy) -> dict:
    output = check.message
    if check.status == "skipped":
        output = f"skipped: {output}" if output else "skipped"
    elif hint_for(check):
        output += f"\n\nHint: {hint_for(check)}"
    passed = check.status == "passed"
    score = policy.earned(report, check)
    if passed and not score and policy.weight(report.drill, check):
        output = "Passed: its bonus points count once every core check of this drill passes."
    return {"name": f"{check.id}: {check.title}", "number": number,
            "score": score, "max_score": policy.weight(report.drill, check),
            "status": "passed" if passed else "failed",
            "output": output, "visibility": AFTER_PUBLISHED if is_hidden(check.id) else VISIBLE}


def _summary(report: Report) -> str:
    line = f"{report.drill}: {report.status} ({'/'.join(map(str, visible(report)))})"
    if report.status in UNRUN:
        return f"{line}: {report.error}"
    return f"{line}: could not be graded: {report.error}" if report.error else line


def results(reports: list[Report | dict], policy: Policy | None = None) -> dict:
    """Gradescope's results.json for one learner's reports (or their documents)."""
    reports = [as_report(r) for r in reports]
    policy = policy or Policy()
    score, most = points(policy, reports)
    tests = [_test(check, f"{i}.{j}", report, policy)
             for i, report in enumerate(reports, 1) for j, check in enumerate(report.checks, 1)]
    seconds = sum(c.duration_s for r in reports for c in r.checks)
    status = learner_status(reports)
    passed, shown = (sum(n) for n in zip(*map(visible, reports)))
    return {"score": score, "max_score": most,
            "output": "\n".join([f"docchat-grade: {status}, {passed}/{shown} checks pass",
                                 *map(_summary, reports)]),
            "visibility": VISIBLE, "stdout_visibility": "hidden",
            "execution_time": math.ceil(seconds), "tests": tests}


def render(report: Report) -> str:
    """The `--format gradescope` output."""
    return json.dumps(results([report]), indent=2, ensure_ascii=False) + "\n"
