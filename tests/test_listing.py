"""`docchat-grade --list`: the drills in course order and their checks, with levels."""

from __future__ import annotations

import json

from grader import cli, manifest

MANIFEST = manifest.load()


def test_lists_every_drill_in_course_order_with_each_check_and_level(capsys) -> None:
    assert cli.main(["--list"]) == 0
    out = capsys.readouterr().out
    headings = [line for line in out.splitlines() if line[:1].isdigit()]
    assert [h.split()[1] for h in headings] == MANIFEST.names
    rows = {line.split()[1]: line.split()[0] for line in out.splitlines() if line.startswith("   ")}
    assert rows == {c.id: c.level for d in MANIFEST.drills for c in d.checks}


def test_one_drill_by_name_or_by_file(capsys) -> None:
    drill = MANIFEST.drills[0]
    for argv in (["--list", "--drill", drill.name], ["--list", f"drills/{drill.name}.py"]):
        assert cli.main(argv) == 0
        listed = {line.split()[1] for line in capsys.readouterr().out.splitlines() if line.startswith("   ")}
        assert listed == {c.id for c in drill.checks}


def test_json_listing_and_unknown_drill(capsys) -> None:
    assert cli.main(["--list", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in doc["drills"]] == MANIFEST.names
    assert doc["drills"][0]["checks"][0]["id"] == MANIFEST.drills[0].checks[0].id
    assert "hints" not in doc["drills"][0]["checks"][0], "hints are given one at a time, by `hint`"
    assert cli.main(["--list", "--drill", "nope"]) == 2
    assert "unknown drill 'nope'" in capsys.readouterr().err
