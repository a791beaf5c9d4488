"""The results document (schema 1, as in docs/contract.md) and how a run's outcome maps onto it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

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

    @property
    def status(self) -> str:
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
        return {
            "schema": SCHEMA, "drill": self.drill, "target": self.target, "status": self.status,
            "score": self.score, "max_score": self.max_score,
            "checks": [asdict(c) for c in self.checks], "error": self.error,
            "isolation": self.isolation,
            "not_started": self.not_started,
        }

    def to_json(self) -> str:
        return json.dumps(self.document(), indent=2, ensure_ascii=False)


NOT_RUN = "not run: "  # how a check that never ran (the grade stopped before it) begins its message


def hint_for(check: CheckResult | dict) -> str:
    """The hint a report shows for `check`: the one rule for every format. Only a check that
    ran and failed or errored shows one (a pass needs none; a skip or a check never run
    says why instead)."""
    get = check.get if isinstance(check, dict) else lambda key: getattr(check, key)
    if get("status") in ("failed", "error") and not (get("message") or "").startswith(NOT_RUN):
        return get("hint") or ""
    return ""


def from_document(doc: dict) -> Report:
    return Report(drill=doc["drill"], target=doc["target"], error=doc["error"],
                  isolation=doc.get("isolation"), checks=[CheckResult(**c) for c in doc["checks"]],
                  not_started=doc.get("not_started", False))


def render(report: Report) -> str:
    """The `--format json` output."""
    return report.to_json() + "\n"
