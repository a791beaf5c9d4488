"""The results document (schema 1, as in docs/contract.md) and how a run's outcome maps onto it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

SCHEMA = 1
EXIT_PASSED, EXIT_FAILED, EXIT_USAGE, EXIT_GRADER_BROKE = 0, 1, 2, 3


@dataclass
class CheckResult:
    id: str
    level: str
    title: str
    status: str  # passed | failed | error | skipped
    message: str
    hint: str
    duration_s: float


@dataclass
class Report:
    drill: str
    target: str
    checks: list[CheckResult] = field(default_factory=list)
    error: str | None = None
    isolation: str | None = None  # the sandbox the learner's code ran in (grader.engine.isolation)
    grader_broke: bool = False  # kept out of the document; decides exit code 3
    not_started: bool = False   # the file is still the shipped skeleton: nothing was run
    # batch only: the file was not graded, and this is its status: "missing", "not started",
    # or "error" (the grader broke). No check ran, and its document has the layout batch has always
    # written for those: `error` before `checks`, each check's plan fields (id, level, title, hint)
    # first, no `isolation` or `not_started`
    unrun: str | None = None

    @property
    def status(self) -> str:
        if self.unrun is not None:
            return self.unrun
        if self.error is not None:
            return "error"
        core = [c for c in self.checks if c.level == "core"]
        return "passed" if core and all(c.status == "passed" for c in core) else "failed"

    @property
    def score(self) -> int:
        return sum(c.status == "passed" for c in self.checks)

    @property
    def max_score(self) -> int:
        return len(self.checks)

    @property
    def exit_code(self) -> int:
        if self.grader_broke:
            return EXIT_GRADER_BROKE
        return EXIT_PASSED if self.status == "passed" else EXIT_FAILED

    def document(self) -> dict:
        if self.unrun is not None:
            return {"schema": SCHEMA, "drill": self.drill, "target": self.target, "status": self.status,
                    "score": self.score, "max_score": self.max_score, "error": self.error,
                    "checks": [{"id": c.id, "level": c.level, "title": c.title, "hint": c.hint, "status": c.status,
                                "message": c.message, "duration_s": c.duration_s} for c in self.checks]}
        return {
            "schema": SCHEMA, "drill": self.drill, "target": self.target, "status": self.status,
            "score": self.score, "max_score": self.max_score,
            "checks": [asdict(c) for c in self.checks], "error": self.error,
            "isolation": self.isolation,
            "not_started": self.not_started,
        }

    def to_json(self) -> str:
        return json.dumps(self.document(), indent=2, ensure_ascii=False)

    def with_durations(self, durations: dict[str, float]) -> Report:
        """This report with each check's `duration_s` taken from `durations` by id (0.0 if absent)."""
        return replace(self, checks=[replace(c, duration_s=durations.get(c.id, 0.0)) for c in self.checks])


NOT_RUN = "not run: "  # how a check that never ran (the grade stopped before it) begins its message


def hint_for(check: CheckResult) -> str:
    """The hint a report shows for `check`: the one rule for every format. Only a check that
    ran and failed or errored shows one (a pass needs none; a skip or a check never run
    says why instead)."""
    if check.status in ("failed", "error") and not check.message.startswith(NOT_RUN):
        return check.hint
    return ""


UNRUN_STATUSES = ("missing", "not started", "error")  # a document of a file batch did not grade


def from_document(doc: dict) -> Report:
    """The report a schema-1 document holds. Beyond the drill and each check's id, level and
    status, what a hand-made document leaves out reads as empty; `status`, `score` and
    `max_score` follow from the checks, except in batch's document of a file it did not grade
    (one without `isolation`, whose status is one of UNRUN_STATUSES)."""
    status = doc.get("status")
    return Report(drill=doc["drill"], target=doc.get("target", ""), error=doc.get("error"),
                  isolation=doc.get("isolation"), not_started=doc.get("not_started", False),
                  unrun=status if status in UNRUN_STATUSES and "isolation" not in doc else None,
                  checks=[CheckResult(c["id"], c["level"], c.get("title", ""), c["status"], c.get("message", ""),
                                      c.get("hint", ""), c.get("duration_s", 0.0)) for c in doc.get("checks", [])])


def as_report(report: Report | dict) -> Report:
    """`report` as a Report: where a caller (an instructor's script) may hand in its document."""
    return report if isinstance(report, Report) else from_document(report)


def render(report: Report) -> str:
    """The `--format json` output."""
    return report.to_json() + "\n"
