"""Buggy submissions, made by patching a solution: one bug each, and the check that catches it.

Each drill has a module here with `MUTANTS`, a list of `Mutant`s. A mutant replaces text of
`solutions/<drill>.py` (every `old` must occur exactly once), and must fail the check it
names while passing every other core check.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path

SOLUTIONS = Path(__file__).resolve().parent.parent.parent / "solutions"


@dataclass(frozen=True)
class Mutant:
    name: str
    catches: str  # the check id that must fail
    edits: tuple[tuple[str, str], ...]  # (old, new) pairs applied to the solution
    also: tuple[str, ...] = ()  # other checks that may fail too, each for a stated reason
    status: str = "failed"  # how the named check must end: failed, or error for a crash

    @property
    def drill(self) -> str:
        return self.catches.split(".", 1)[0]

    def source(self) -> str:
        text = (SOLUTIONS / f"{self.drill}.py").read_text()
        for old, new in self.edits:
            count = text.count(old)
            if count != 1:
                raise ValueError(f"mutant {self.name}: {old!r} occurs {count} times in the solution")
            text = text.replace(old, new)
        return text


def all_mutants() -> list[Mutant]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        found += importlib.import_module(f"{__name__}.{info.name}").MUTANTS
    return found
