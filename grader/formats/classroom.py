"""GitHub Classroom: the results a runner hands to `classroom-resources/autograding-grading-reporter`.

The reporter reads, per runner id, the environment variable `<ID>_RESULTS`: base64 of a JSON
document `{"version": 1, "status": "pass"|"fail"|"error", "max_score": N, "tests": [...]}`,
each test with `name`, `status`, `score` and `message`; it adds the tests' scores and reports
"Points score/max_score" to Classroom. Scores follow the grading policy, like the gradebook's.
"""

from __future__ import annotations

from grader.batch.cohort import learner_status, points
from grader.batch.policy import Policy
from grader.report import Report, as_report, hint_for

STATUS = {"passed": "pass", "error": "error"}  # learner status -> reporter status; the rest "fail"


def results(reports: list[Report | dict], policy: Policy | None = None) -> dict:
    """The reporter's document for one learner's reports (or their documents)."""
    reports = [as_report(r) for r in reports]
    policy = policy or Policy()
    tests = []
    for report in reports:
        for check in report.checks:
            message = check.message if check.status != "passed" else ""
            if hint_for(check):
                message += f"\n\nHint: {hint_for(check)}"
            tests.append({"name": f"{check.id}: {check.title}", "status":
                          "pass" if check.status == "passed" else "error" if check.status == "error" else "fail",
                          "score": policy.earned(report, check), "message": message,
                          "line_no": 0, "filename": report.target, "execution_time": f"{check.duration_s:.3f}s"})
    return {"version": 1, "status": STATUS.get(learner_status(reports), "fail"),
            "max_score": points(policy, reports)[1], "tests": tests}
