"""The text report celebrates a drill whose core checks all pass, and names the next drill."""

from __future__ import annotations

import io

from grader import manifest
from grader.formats import text
from tests.workbooks import made_up_report

MANIFEST = manifest.load()


def test_core_done_names_the_next_drill_and_its_file() -> None:
    first, *rest = MANIFEST.drills
    out = text.render(made_up_report(first, f"drills/{first.name}.py"), io.StringIO())
    last_line = out.splitlines()[-1]
    assert f"{first.name} done: every core check passes!" in last_line
    if rest:
        assert f"Next drill: {rest[0].name} ({rest[0].lesson}), docchat-grade drills/{rest[0].name}.py" in last_line
    elsewhere = text.render(made_up_report(first, f"solutions/{first.name}.py"), io.StringIO())
    assert not rest or f"docchat-grade drills/{rest[0].name}.py" in elsewhere


def test_the_last_drill_says_the_course_is_done() -> None:
    last = MANIFEST.drills[-1]
    out = text.render(made_up_report(last, f"drills/{last.name}.py"), io.StringIO())
    assert "That was the last drill" in out.splitlines()[-1]


def test_no_celebration_while_a_core_check_fails() -> None:
    drill = MANIFEST.drills[0]
    core = next(c.id for c in drill.checks if c.level == "core")
    out = text.render(made_up_report(drill, "drills/x.py", failing={core}), io.StringIO())
    assert "done: every core check passes" not in out
