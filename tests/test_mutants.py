"""Every check can fail: each mutant is caught by the check that names its bug, and only by it."""

from __future__ import annotations

import pytest

from grader import manifest
from tests.mutants import Mutant, all_mutants

MUTANTS = all_mutants()


@pytest.mark.parametrize("mutant", MUTANTS, ids=[f"{m.drill}-{m.name}" for m in MUTANTS])
def test_mutant_is_caught_by_its_check(mutant: Mutant, grade_source) -> None:
    report = grade_source(mutant.source(), mutant.drill)
    checks = {c["id"]: c for c in report["checks"]}
    caught = checks[mutant.catches]
    assert report["error"] is None, report["error"]
    assert caught["status"] == mutant.status, caught
    assert caught["message"], "a failing check must say what went wrong"
    collateral = [c["id"] for c in report["checks"] if c["level"] == "core" and c["status"] != "passed"
                  and c["id"] != mutant.catches and c["id"] not in mutant.also]
    assert collateral == [], f"{mutant.name} also fails unrelated core checks: {collateral}"
    assert report["status"] == ("failed" if caught["level"] == "core" or mutant.also else report["status"])


def test_every_check_has_a_mutant() -> None:
    caught = {m.catches for m in MUTANTS}
    built = {c.id for d in manifest.load().drills for c in d.checks}
    assert sorted(built - caught) == []


def test_mutant_names_are_unique() -> None:
    names = [(m.drill, m.name) for m in MUTANTS]
    assert len(names) == len(set(names))
