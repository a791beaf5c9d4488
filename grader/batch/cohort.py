"""A graded cohort and the files an instructor reads: gradebook, results, feedback, cohort report.

Everything here is a pure function of the reports (grader.report.Report objects; results.json
holds them as schema-1 documents, docs/contract.md), so the same submissions always give the
same bytes. A drill a learner did not hand in has a report of its own with the status
`missing`, a score of 0 and every check skipped (not run); so does an untouched skeleton, with
the status `not started`. Points come from the grading policy (grader/batch/policy.py);
`score`/`total` stay what they always were, checks passed.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

from grader import manifest
from grader.batch.policy import Policy, number
from grader.report import NOT_RUN, CheckResult, Report, as_report, hint_for

MISSING = "missing"
NOT_STARTED = "not started"
UNRUN = (MISSING, NOT_STARTED)  # statuses of drills that were not graded, and say nothing about skills
LEARNER_STATUSES = ("passed", "failed", "error", MISSING, NOT_STARTED)
GRADEBOOK_TAIL = ("total", "max_total", "status")
DRILL_COLUMNS = ("status", "core", "stretch", "points")  # per drill, as <drill>_<column>
ROSTER_COLUMNS = ("student_id", "name", "email")


@dataclass
class Cohort:
    """Every learner's report for every drill graded, in course order."""

    drills: list[str]
    plans: dict[str, list[dict]]  # drill -> its checks (id, level, title, hint), hidden ones included
    reports: dict[str, dict[str, Report]] = field(default_factory=dict)  # learner -> drill -> report
    policy: Policy = field(default_factory=Policy)
    roster: dict[str, dict[str, str]] | None = None  # learner folder -> student_id, name, email

    def __post_init__(self) -> None:  # reports given as documents are read once, here
        self.reports = {learner: {drill: as_report(r) for drill, r in drills.items()}
                        for learner, drills in self.reports.items()}

    @property
    def learners(self) -> list[str]:
        return sorted(self.reports)

    def of(self, learner: str) -> list[Report]:
        return [self.reports[learner][d] for d in self.drills]


def unrun_report(drill: str, target: str, plan: list[dict], status: str, why: str) -> Report:
    """A report for a drill file that was not graded: `missing`, `not started`, or the grader broke (`error`)."""
    check_status = "skipped" if status in UNRUN else "error"
    return Report(drill, target, error=why, unrun=status, checks=[
        CheckResult(meta["id"], meta["level"], meta["title"], check_status, NOT_RUN + why, meta["hint"], 0.0)
        for meta in plan])


def unrun_document(drill: str, target: str, plan: list[dict], status: str, why: str) -> dict:
    """unrun_report's schema-1 document."""
    return unrun_report(drill, target, plan, status, why).document()


def learner_status(reports: list[Report]) -> str:
    """passed: every drill passed; missing: nothing handed in; not started: nothing but skeletons
    (and missing files); error: a drill could not be graded."""
    statuses = [r.status for r in reports]
    if all(s == "passed" for s in statuses):
        return "passed"
    if all(s == MISSING for s in statuses):
        return MISSING
    if all(s in UNRUN for s in statuses):
        return NOT_STARTED
    return "error" if "error" in statuses else "failed"


def totals(reports: list[Report]) -> tuple[int, int]:
    return sum(r.score for r in reports), sum(r.max_score for r in reports)


def is_hidden(check_id: str) -> bool:
    """An instructor's check: one the manifest does not list."""
    try:
        manifest.load().check(check_id)
    except KeyError:
        return True
    return False


def visible(report: Report) -> tuple[int, int]:
    """Checks passed and checks, counting only the ones learners can see (not the hidden ones):
    what output meant for learners shows, so it never gives away how many checks are hidden."""
    shown = [c for c in report.checks if not is_hidden(c.id)]
    return sum(c.status == "passed" for c in shown), len(shown)


# -- gradebook.csv and results.json: byte-identical for the same submissions ----------------


def points(policy: Policy, reports: list[Report]) -> tuple[float, float]:
    """A learner's points and the most they could get, under `policy`."""
    each = [policy.points(r) for r in reports]
    return number(sum(p.points for p in each)), number(sum(p.max_points for p in each))


def gradebook_csv(cohort: Cohort, bom: bool = False) -> str:
    """One row per learner. The first columns are the historical ones (checks passed); then each
    drill's status, core and stretch points and points, the policy total, and the roster."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    per_drill = [f"{d}_{column}" for d in cohort.drills for column in DRILL_COLUMNS]
    roster = list(ROSTER_COLUMNS) if cohort.roster is not None else []
    writer.writerow(["learner", *cohort.drills, *GRADEBOOK_TAIL, *per_drill, "points", "max_points", *roster])
    for learner in cohort.learners:
        reports = cohort.of(learner)
        cells = []
        for r in reports:
            p = cohort.policy.points(r)
            cells += [r.status, p.core, p.stretch, p.points]
        person = cohort.roster.get(learner, {}) if cohort.roster is not None else {}
        writer.writerow([learner, *(r.score for r in reports), *totals(reports), learner_status(reports),
                         *cells, *points(cohort.policy, reports), *(person.get(c, "") for c in roster)])
    return ("\ufeff" if bom else "") + out.getvalue()


def results_json(cohort: Cohort) -> str:
    """Every report; `duration_s` is 0 (the real ones are in run.json), so the bytes repeat."""
    data = {learner: {report.drill: report.with_durations({}).document() for report in cohort.of(learner)}
            for learner in cohort.learners}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# -- feedback/<learner>.md ------------------------------------------------------------------

MARKS = {"passed": "✓", "failed": "✗", "error": "!", "skipped": "–"}


def feedback_md(learner: str, reports: list[Report | dict], policy: Policy | None = None) -> str:
    reports = [as_report(r) for r in reports]
    score, most = totals(reports)
    earned = points(policy or Policy(), reports)
    lines = [f"# Feedback for {learner}", "",
             f"**{score}/{most}** checks pass · **{earned[0]}/{earned[1]}** points · "
             f"status: **{learner_status(reports)}**", ""]
    for report in reports:
        lines += [f"## {report.drill}: {report.status} ({report.score}/{report.max_score})",
                  "", f"File: `{report.target}`", ""]
        if report.status in UNRUN:
            lines += [report.error, ""]
            continue
        if report.error:
            lines += [f"Could not grade this file: {report.error}", ""]
            continue
        lines += _check_lines(report.checks)
    return "\n".join(lines).rstrip("\n") + "\n"


def _check_lines(checks: list[CheckResult]) -> list[str]:
    lines = []
    for level in ("core", "stretch"):
        chosen = [c for c in checks if c.level == level]
        if not chosen:
            continue
        lines.append(f"{level} checks:")
        lines.append("")
        for c in chosen:
            lines.append(f"- {MARKS[c.status]} `{c.id}` {c.title}"
                         + ("" if c.status in ("passed", "failed") else f" ({c.status})"))
            if c.status in ("failed", "error") or (c.status == "skipped" and c.message):
                lines += ["", *(f"      {line}" for line in c.message.splitlines()), ""]
                if hint_for(c):
                    lines += [f"  Hint: {hint_for(c)}", ""]
        lines.append("")
    return lines


# -- cohort.md: what to reteach --------------------------------------------------------------


@dataclass
class CheckTally:
    id: str
    level: str
    title: str
    order: int
    passed: int = 0
    graded: int = 0
    errors: int = 0
    missing: int = 0  # missing or not started

    @property
    def rate(self) -> float:
        return self.passed / self.graded if self.graded else 1.0


def tally(cohort: Cohort) -> list[CheckTally]:
    """Every check's outcome across the cohort, most-failed first.

    The pass rate counts the learners who handed the drill in and could be graded at all;
    a missing file, an untouched skeleton or a module that would not import is counted apart,
    as it says nothing about this one check.
    """
    tallies: dict[str, CheckTally] = {}
    for drill in cohort.drills:
        for meta in cohort.plans[drill]:
            tallies[meta["id"]] = CheckTally(meta["id"], meta["level"], meta["title"], len(tallies))
    for learner in cohort.learners:
        for report in cohort.of(learner):
            for c in report.checks:
                t = tallies.setdefault(c.id, CheckTally(c.id, c.level, c.title, len(tallies)))
                if report.status in UNRUN:
                    t.missing += 1
                elif report.error:
                    t.errors += 1
                else:
                    t.graded += 1
                    t.passed += c.status == "passed"
    return sorted(tallies.values(), key=lambda t: (t.rate, t.level != "core", t.order))


def cohort_md(cohort: Cohort) -> str:
    learners = cohort.learners
    lines = ["# Cohort report", "",
             f"{len(learners)} learners · drills: {', '.join(cohort.drills)}", "",
             "## Drills", "",
             "Handed in: started (not the untouched skeleton) and present; the mean is over those.", "",
             "| drill | handed in | passed | could not be graded | mean score | not started |",
             "|---|---|---|---|---|---|"]
    for drill in cohort.drills:
        reports = [cohort.reports[learner][drill] for learner in learners]
        handed = [r for r in reports if r.status not in UNRUN]
        mean = sum(r.score for r in handed) / len(handed) if handed else 0.0
        most = reports[0].max_score if reports else len(cohort.plans[drill])
        lines.append(f"| {drill} | {len(handed)}/{len(reports)} | "
                     f"{sum(r.status == 'passed' for r in reports)} | "
                     f"{sum(r.status == 'error' for r in reports)} | {mean:.1f}/{most} | "
                     f"{sum(r.status == NOT_STARTED for r in reports)} |")
    lines += ["", "## Checks, most-failed first", "",
              "Pass rate among the learners whose file could be graded; hidden checks are marked †.", "",
              "| check | level | title | passed | pass rate | not graded |", "|---|---|---|---|---|---|"]
    for t in tally(cohort):
        mark = " †" if is_hidden(t.id) else ""
        lines.append(f"| `{t.id}`{mark} | {t.level} | {_cell(t.title)} | "
                     f"{t.passed}/{t.graded} | {t.rate:.0%} | {t.errors + t.missing} |")
    lines += ["", "## Status", "", "| status | learners |", "|---|---|"]
    statuses = [learner_status(cohort.of(learner)) for learner in learners]
    lines += [f"| {s} | {statuses.count(s)} |" for s in LEARNER_STATUSES]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
