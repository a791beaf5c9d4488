"""The grading policy: how many points a drill's checks are worth (`batch --policy grading.toml`).

By default a drill's core checks carry the grade (one point each) and its stretch checks are a
bonus (one point each, not counted in `max_points`, and only once every core check passes), so
a drill that passes always outranks one that does not. A drill that is not started or missing
scores 0. A policy file changes the weights for every drill, one drill, or one check:

    core = 1                  # points per core check passed
    stretch = 1               # points per stretch check passed
    stretch_is_bonus = true   # stretch points are not part of max_points
    stretch_needs_core = true # stretch points count only once the drill passes

    [drills.upload]
    core = 2

    [checks]
    "upload.unique_job_ids" = 5

Points are computed from the reports after grading, so a policy never costs a grade, and
changing it and re-running with the same OUT_DIR re-grades nothing.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from grader.report import CheckResult, Report, as_report

KNOBS = {"core": (int, float), "stretch": (int, float), "stretch_is_bonus": bool, "stretch_needs_core": bool}


class PolicyError(ValueError):
    """The policy file cannot be used as written."""


@dataclass(frozen=True)
class Points:
    core: float = 0
    stretch: float = 0
    points: float = 0
    max_points: float = 0


@dataclass(frozen=True)
class Policy:
    core: float = 1
    stretch: float = 1
    stretch_is_bonus: bool = True
    stretch_needs_core: bool = True
    drills: dict[str, dict] = field(default_factory=dict)
    checks: dict[str, float] = field(default_factory=dict)

    def knob(self, drill: str, name: str):
        return self.drills.get(drill, {}).get(name, getattr(self, name))

    def weight(self, drill: str, check: CheckResult) -> float:
        if check.id in self.checks:
            return self.checks[check.id]
        return self.knob(drill, check.level)

    def stretch_counts(self, report: Report) -> bool:
        return report.status == "passed" or not self.knob(report.drill, "stretch_needs_core")

    def earned(self, report: Report, check: CheckResult) -> float:
        """The points `check` brings its report (0 for a stretch check before the core passes)."""
        if check.status != "passed" or (check.level == "stretch" and not self.stretch_counts(report)):
            return 0
        return self.weight(report.drill, check)

    def points(self, report: Report | dict) -> Points:
        """A drill report's points under this policy (a script may hand in its document)."""
        report = as_report(report)
        drill = report.drill
        earned = {"core": 0, "stretch": 0}
        most = {"core": 0, "stretch": 0}
        for check in report.checks:
            w = self.weight(drill, check)
            most[check.level] += w
            earned[check.level] += w if check.status == "passed" else 0
        stretch_counts = self.stretch_counts(report)
        total = earned["core"] + (earned["stretch"] if stretch_counts else 0)
        ceiling = most["core"] + (0 if self.knob(drill, "stretch_is_bonus") else most["stretch"])
        return Points(number(earned["core"]), number(earned["stretch"]), number(total), number(ceiling))

    def unknown_checks(self, plans: dict[str, list[dict]]) -> list[str]:
        """The [checks] the policy weighs that no drill graded has (a typo, or another drill)."""
        known = {meta["id"] for plan in plans.values() for meta in plan}
        return sorted(set(self.checks) - known)

    def as_dict(self) -> dict:
        return {"core": self.core, "stretch": self.stretch, "stretch_is_bonus": self.stretch_is_bonus,
                "stretch_needs_core": self.stretch_needs_core, "drills": self.drills, "checks": self.checks}


def number(value: float) -> float:
    """Whole numbers as ints, so a CSV cell reads 3, not 3.0."""
    return int(value) if float(value).is_integer() else round(value, 3)


def _knobs(table: dict, where: str) -> dict:
    for name, value in table.items():
        kind = KNOBS.get(name)
        if kind is None:
            raise PolicyError(f"{where}: unknown setting {name!r} (known: {', '.join(KNOBS)})")
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise PolicyError(f"{where}: {name} = {value!r} is not a {'number' if kind is not bool else 'boolean'}")
        if kind is not bool and value < 0:
            raise PolicyError(f"{where}: {name} must not be negative")
    return table


def load(path: Path | None, known_drills: list[str]) -> Policy:
    """The policy in `path` (a TOML file), or the default policy."""
    if path is None:
        return Policy()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path} is not valid TOML: {exc}") from exc
    drills = data.pop("drills", {})
    checks = data.pop("checks", {})
    top = _knobs(data, str(path))
    for drill, table in drills.items():
        if drill not in known_drills:
            raise PolicyError(f"{path}: [drills.{drill}]: no such drill (drills: {', '.join(known_drills)})")
        _knobs(table, f"{path}: [drills.{drill}]")
    for check_id, value in checks.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise PolicyError(f"{path}: [checks] {check_id} = {value!r} is not a number of points")
    return Policy(**top, drills=drills, checks=checks)
