"""The ordered manifest: drills in course order, each with its checks, levels, titles and hints."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

MANIFEST_PATH = Path(__file__).with_name("manifest.toml")
LEVELS = ("core", "stretch")


@dataclass(frozen=True)
class Check:
    id: str
    level: str
    title: str
    hints: tuple[str, ...]
    lesson: str
    needs: tuple[str, ...] = ()  # programs the check runs, beyond Python: "chromium"

    @property
    def drill(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def hint(self) -> str:
        return self.hints[0] if self.hints else ""


@dataclass(frozen=True)
class Drill:
    name: str
    title: str
    lesson: str
    checks: tuple[Check, ...]
    seams: tuple[str, ...] = ()  # the module-level names the grader replaces (docs/contract.md)
    preload: tuple[str, ...] = ()  # modules the sandbox's template imports before it forks

    @property
    def checks_module(self) -> str:
        return f"check_{self.name}.py"

    @property
    def needs(self) -> set[str]:
        return {need for check in self.checks for need in check.needs}


@dataclass(frozen=True)
class Manifest:
    drills: tuple[Drill, ...]

    def drill(self, name: str) -> Drill:
        for drill in self.drills:
            if drill.name == name:
                return drill
        raise KeyError(name)

    def check(self, check_id: str) -> Check:
        for drill in self.drills:
            for check in drill.checks:
                if check.id == check_id:
                    return check
        raise KeyError(check_id)

    @property
    def names(self) -> list[str]:
        return [drill.name for drill in self.drills]

    def preload(self, *drills: str) -> tuple[str, ...]:
        """The modules a sandbox that grades these drills imports before it forks (unknown names: none)."""
        return tuple(dict.fromkeys(m for d in self.drills if d.name in drills for m in d.preload))

    def looks_like(self, drill: str, defined: set[str]) -> str | None:
        """Another drill whose seams a module defines, when it lacks `drill`'s own (a mix-up of files)."""
        own = set(self.drill(drill).seams)
        if own <= defined:
            return None
        for other in self.drills:
            if other.name != drill and other.seams and set(other.seams) <= defined:
                return other.name
        return None


def parse(data: dict) -> Manifest:
    drills = []
    for raw in data["drill"]:
        checks = []
        for c in raw.get("check", []):
            if c["level"] not in LEVELS:
                raise ValueError(f"{c['id']}: level must be one of {LEVELS}")
            if not c["id"].startswith(raw["name"] + "."):
                raise ValueError(f"{c['id']} does not belong to drill {raw['name']}")
            checks.append(Check(c["id"], c["level"], c["title"], tuple(c["hints"]), c["lesson"],
                                tuple(c.get("needs", ()))))
        drills.append(Drill(raw["name"], raw["title"], raw["lesson"], tuple(checks), tuple(raw.get("seams", ())),
                            tuple(raw.get("preload", ()))))
    return Manifest(tuple(drills))


@cache
def load() -> Manifest:
    with MANIFEST_PATH.open("rb") as f:
        return parse(tomllib.load(f))
