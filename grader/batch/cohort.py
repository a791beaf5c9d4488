"""A graded cohort and the files an instructor reads: gradebook, results, feedback, cohort report.

Everything here is a pure function of the reports (schema-1 documents, docs/contract.md), so the
same submissions always give the same bytes. A drill a learner did not hand in has a report
of its own with the status `missing`, a score of 0 and every check marked as not run.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

from grader import manifest
from grader.report import SCHEMA

MISSING = "missing"
LEARNER_STATUSES = ("passed", "failed", "error", MISSING)
GRADEBOOK_TAIL = ("total", "max_total", "status")


@dataclass
class Cohort:
    """Every learner's report for every drill graded, in course order."""

    drills: list[str]
    plans: dict[str, list[dict]]  # drill -> its checks (id, level, title, hint), hidden ones included
    reports: dict[str, dict[str, dict]] = field(default_factory=dict)  # learner -> drill -> document

    @property
    def learners(self) -> list[str]:
        return sorted(self.reports)

    def of(self, learner: str) -> list[dict]:
        return [self.reports[learner][d] for d in self.drills]


def unrun_document(drill: str, target: str, plan: list[dict], status: str, why: str) -> dict:
    """A report for a drill file that was not graded: `missing`, or the grader broke (`error`)."""
    return {"schema": SCHEMA, "drill": drill, "target": target, "status": status, "score": 0,
            "max_score": len(plan), "error": why,
            "checks": [{**meta, "status": "error", "message": f"not run: {why}", "duration_s": 0.0}
                       for meta in plan]}


def learner_status(reports: list[dict]) -> str:
    """passed: every drill passed; missing: nothing handed in; error: a drill could not be graded."""
    statuses = [r["status"] for r in reports]
    if all(s == "passed" for s in statuses):
        return "passed"
    if all(s == MISSING for s in statuses):
        return MISSING
    return "error" if "error" in statuses else "failed"


def totals(reports: list[dict]) -> tuple[int, int]:
    return sum(r["score"] for r in reports), sum(r["max_score"] for r in reports)


def is_hidden(check_id: str) -> bool:
    """An instructor's check: one the manifest does not list."""
    try:
        manifest.load().check(check_id)
    except KeyError:
        return True
    return False


# -- gradebook.csv and results.json: byte-identical for the same submissions ----------------


def gradebook_csv(cohort: Cohort) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["learner", *cohort.drills, *GRADEBOOK_TAIL])
    for learner in cohort.learners:
        reports = cohort.of(learner)
        writer.writerow([learner, *(r["score"] for r in reports), *totals(reports),
                         learner_status(reports)])
    return out.getvalue()


def without_durations(document: dict) -> dict:
    """The report as results.json keeps it: `duration_s` is 0 (the real ones are in run.json)."""
    return {**document, "checks": [{**c, "duration_s": 0.0} for c in document["checks"]]}


def results_json(cohort: Cohort) -> str:
    data = {learner: {drill: without_durations(cohort.reports[learner][drill]) for drill in cohort.drills}
            for learner in cohort.learners}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# -- feedback/<learner>.md ------------------------------------------------------------------

MARKS = {"passed": "✓", "failed": "✗", "error": "!", "skipped": "–"}


def feedback_md(learner: str, reports: list[dict]) -> str:
    score, most = totals(reports)
    lines = [f"# Feedback for {learner}", "",
             f"**{score}/{most}** checks pass · status: **{learner_status(reports)}**", ""]
    for report in reports:
        lines += [f"## {report['drill']}: {report['status']} ({report['score']}/{report['max_score']})",
                  "", f"File: `{report['target']}`", ""]
        if report["error"]:
            lines += [f"Could not grade this file: {report['error']}", ""]
            continue
        lines += _check_lines(report["checks"])
    return "\n".join(lines).rstrip("\n") + "\n"


def _check_lines(checks: list[dict]) -> list[str]:
    lines = []
    for level in ("core", "stretch"):
        chosen = [c for c in checks if c["level"] == level]
        if not chosen:
            continue
        lines.append(f"{level} checks:")
        lines.append("")
        for c in chosen:
            lines.append(f"- {MARKS[c['status']]} `{c['id']}` {c['title']}"
                         + ("" if c["status"] in ("passed", "failed") else f" ({c['status']})"))
            if c["status"] in ("failed", "error") or (c["status"] == "skipped" and c["message"]):
                lines += ["", *(f"      {line}" for line in c["message"].splitlines()), ""]
                if c["hint"] and c["status"] != "skipped":
                    lines += [f"  Hint: {c['hint']}", ""]
        lines.append("")
    return lines


# -- cohort.md: what to reteach --------------------------------------------------------------


@dataclass
class CheckTally:
    meta: dict
    order: int
    passed: int = 0
    graded: int = 0
    errors: int = 0
    missing: int = 0

    @property
    def rate(self) -> float:
        return self.passed / self.graded if self.graded else 1.0


def tally(cohort: Cohort) -> list[CheckTally]:
    """Every check's outcome across the cohort, most-failed first.

    The pass rate counts the learners who handed the drill in and could be graded at all;
    a missing file or a module that would not import is counted apart, as it says nothing
    about this one check.
    """
    tallies: dict[str, CheckTally] = {}
    for drill in cohort.drills:
        for meta in cohort.plans[drill]:
            tallies[meta["id"]] = CheckTally(meta, len(tallies))
    for learner in cohort.learners:
        for report in cohort.of(learner):
            for c in report["checks"]:
                t = tallies.setdefault(c["id"], CheckTally(c, len(tallies)))
                if report["status"] == MISSING:
                    t.missing += 1
                elif report["error"]:
                    t.errors += 1
                else:
                    t.graded += 1
                    t.passed += c["status"] == "passed"
    return sorted(tallies.values(), key=lambda t: (t.rate, t.meta["level"] != "core", t.order))


def cohort_md(cohort: Cohort) -> str:
    learners = cohort.learners
    lines = ["# Cohort report", "",
             f"{len(learners)} learners · drills: {', '.join(cohort.drills)}", "",
             "## Drills", "",
             "| drill | handed in | passed | could not be graded | mean score |",
             "|---|---|---|---|---|"]
    for drill in cohort.drills:
        reports = [cohort.reports[learner][drill] for learner in learners]
        handed = [r for r in reports if r["status"] != MISSING]
        mean = sum(r["score"] for r in handed) / len(handed) if handed else 0.0
        most = reports[0]["max_score"] if reports else len(cohort.plans[drill])
        lines.append(f"| {drill} | {len(handed)}/{len(reports)} | "
                     f"{sum(r['status'] == 'passed' for r in reports)} | "
                     f"{sum(r['status'] == 'error' for r in reports)} | {mean:.1f}/{most} |")
    lines += ["", "## Checks, most-failed first", "",
              "Pass rate among the learners whose file could be graded; hidden checks are marked †.", "",
              "| check | level | title | passed | pass rate | not graded |", "|---|---|---|---|---|---|"]
    for t in tally(cohort):
        mark = " †" if is_hidden(t.meta["id"]) else ""
        lines.append(f"| `{t.meta['id']}`{mark} | {t.meta['level']} | {_cell(t.meta['title'])} | "
                     f"{t.passed}/{t.graded} | {t.rate:.0%} | {t.errors + t.missing} |")
    lines += ["", "## Status", "", "| status | learners |", "|---|---|"]
    statuses = [learner_status(cohort.of(learner)) for learner in learners]
    lines += [f"| {s} | {statuses.count(s)} |" for s in LEARNER_STATUSES]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
