"""A lane kept warm from grade to grade (grader/engine/warm.py), as a `--watch` session grades:
the same verdicts as cold grades, from the same fork server and sandbox, and nothing of one
grade reaching the next."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import pytest

from grader import manifest
from grader.engine import isolation, runner
from grader.engine.warm import WarmLane
from tests.conftest import ROOT, boot_ticks, running_with, zombie_children
from tests.mutants import all_mutants
from tests.test_isolation import BASE, SANDBOXES, attack, verdicts

DRILLS = ("errors", "lifespan")


def files(tmp_path: Path) -> list[tuple[str, Path]]:
    """Each drill's solution and two of its mutants, as learners' files."""
    found = []
    for drill in DRILLS:
        found.append((drill, ROOT / "solutions" / f"{drill}.py"))
        for mutant in [m for m in all_mutants() if m.drill == drill][:2]:
            path = tmp_path / mutant.name / f"{drill}.py"
            path.parent.mkdir()
            path.write_text(mutant.source())
            found.append((drill, path))
    return found


def statuses(report) -> dict[str, str]:
    return {c.id: c.status for c in report.checks}


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_warm_grades_are_cold_grades_from_one_fork_server_and_one_sandbox(tmp_path, sandbox):
    learners = files(tmp_path)
    cold = [statuses(runner.grade(path, drill, isolation=sandbox)) for drill, path in learners]
    with WarmLane(sandbox, runner.Limits(), preload=manifest.load().preload(*DRILLS)) as warm:
        reports = [warm.grade(path, drill) for drill, path in learners]
        assert [r.isolation for r in reports] == [sandbox] * len(learners)
        assert [statuses(r) for r in reports] == cold
        assert {c for r in reports for c in statuses(r).values()} >= {"passed", "failed"}
        server, template = warm.server._server.pid, warm.lane.template.pid
        warm.grade(*reversed(learners[0]))
        assert (warm.server._server.pid, warm.lane.template.pid) == (server, template), \
            "the next grade forked from the same warm processes"


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_nothing_of_one_grade_reaches_the_next_in_a_warm_lane(tmp_path, sandbox):
    """What a `--watch` session sees when a save plants files and a process for the next: the
    next grade finds nothing, and once the lane closes, nothing of it runs or waits to be reaped."""
    marker = f"planted-{uuid.uuid4().hex}"
    planter, prober, empty = (tmp_path / name / "upload.py" for name in ("plant", "probe", "empty"))
    for path, source in ((planter, attack("plant", MARKER=marker)), (prober, attack("probe")), (empty, BASE)):
        path.parent.mkdir()
        path.write_text(source)
    started = boot_ticks()
    with WarmLane(sandbox, runner.Limits()) as warm:
        baseline = warm.grade(empty, "upload")
        warm.grade(planter, "upload")
        probed = warm.grade(prober, "upload")
    assert probed.error is None, probed.error
    assert verdicts(probed.document()) == verdicts(baseline.document())
    assert not running_with(marker)
    assert zombie_children(since=started) == []


@pytest.mark.skipif("bubblewrap" not in isolation.available() and "landlock" not in isolation.available(),
                    reason="no sandbox on this machine: a warm lane has no template to lose")
def test_a_template_killed_between_grades_is_replaced(tmp_path):
    solution = ROOT / "solutions" / "errors.py"
    with WarmLane(isolation.choose(), runner.Limits()) as warm:
        assert warm.grade(solution, "errors").status == "passed"
        os.kill(warm.lane.template.pid, signal.SIGKILL)
        assert warm.grade(solution, "errors").status == "passed"
