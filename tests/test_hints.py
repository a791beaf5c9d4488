"""`docchat-grade hint CHECK_ID`: nudge, stronger hint, then the lesson section; memory per workbook."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader import cli, hints, manifest
from tests.conftest import DRILLS
from tests.workbooks import make_workbook, skeleton

CHECK = next(c for d in manifest.load().drills for c in d.checks if len(c.hints) >= 2)
LESSON = manifest.load().drill(CHECK.drill).lesson


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_workbook(tmp_path, upload=skeleton())


def ask(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["hint", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def squash(text: str) -> str:
    """Text with its line wrapping undone, to look for a whole hint in it."""
    return " ".join(text.split())


def test_each_ask_unlocks_the_next_step(root: Path, capsys) -> None:
    code, first, _ = ask(capsys, CHECK.id, "--workbook", str(root))
    assert code == 0
    assert squash(CHECK.hints[0]) in squash(first) and squash(CHECK.hints[1]) not in squash(first)
    assert "Ask again for a stronger hint" in first
    _, second, _ = ask(capsys, CHECK.id, "--workbook", str(root))
    assert squash(CHECK.hints[1]) in squash(second) and "hint 2 of" in second
    assert LESSON not in second
    for _ in range(len(CHECK.hints) - 1):
        _, last, _ = ask(capsys, CHECK.id, "--workbook", str(root))
    assert f'Reread "{CHECK.lesson}" in {LESSON}' in last
    assert all(squash(h) in squash(last) for h in CHECK.hints), "everything asked so far stays on screen"
    assert json.loads((root / ".docchat" / "hints.json").read_text()) == {"asked": {CHECK.id: len(CHECK.hints) + 1}}


def test_memory_is_per_check_and_found_from_inside_the_workbook(root: Path, capsys, monkeypatch) -> None:
    other = next(c for c in manifest.load().drill(CHECK.drill).checks if c.id != CHECK.id)
    monkeypatch.chdir(root / "drills")
    ask(capsys, CHECK.id)
    _, out, _ = ask(capsys, other.id)
    assert "hint 1 of" in out and "hint 2 of" not in out


def test_reset_starts_one_check_or_every_check_over(root: Path, capsys) -> None:
    other = next(c for c in manifest.load().drill(CHECK.drill).checks if c.id != CHECK.id)
    for check in (CHECK, CHECK, other):
        ask(capsys, check.id, "--workbook", str(root))
    assert ask(capsys, CHECK.id, "--reset", "--workbook", str(root))[:2] == (0, f"Hints for {CHECK.id} start over.\n")
    assert hints.Memory(root).asked == {other.id: 1}
    ask(capsys, "--reset", "--workbook", str(root))
    assert hints.Memory(root).asked == {}


def test_unknown_check_exits_2_with_close_matches(capsys) -> None:
    typo = CHECK.id[:-1]
    code, out, err = ask(capsys, typo)
    assert code == 2 and out == ""
    assert f"no check '{typo}'" in err and CHECK.id in err
    code, _, err = ask(capsys, "no.such_thing_at_all")
    assert code == 2 and "docchat-grade --list" in err
    assert ask(capsys)[0] == 2


def test_behaviour_part_alone_is_enough_when_unambiguous(root: Path, capsys) -> None:
    behaviour = CHECK.id.split(".", 1)[1]
    if sum(c.id.endswith("." + behaviour) for d in manifest.load().drills for c in d.checks) > 1:
        pytest.skip(f"{behaviour} names a check in several drills")
    code, out, _ = ask(capsys, behaviour, "--workbook", str(root))
    assert code == 0 and out.startswith(CHECK.id)


def test_outside_a_workbook_the_first_hint_is_given_without_memory(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        code, out, _ = ask(capsys, CHECK.id)
        assert code == 0 and "hint 2 of" not in out and "Run this inside your workbook" in out
    assert not (tmp_path / ".docchat").exists()


def test_a_damaged_memory_file_starts_over(root: Path, capsys) -> None:
    (root / ".docchat").mkdir()
    (root / ".docchat" / "hints.json").write_text("{not json")
    code, out, _ = ask(capsys, CHECK.id, "--workbook", str(root))
    assert code == 0 and "hint 1 of" in out


@pytest.mark.parametrize("drill", manifest.load().names)
def test_hints_live_in_the_manifest_not_in_the_drill_file(drill: str) -> None:
    path = DRILLS / f"{drill}.py"
    if not path.exists():
        pytest.skip(f"drills/{drill}.py is not written yet")
    source = path.read_text()
    leaked = [c.id for c in manifest.load().drill(drill).checks for h in c.hints if h in source]
    assert leaked == []


def test_a_drill_name_lists_its_checks_instead_of_guessing_one(capsys) -> None:
    drill = manifest.load().drills[0]
    code, out, _ = ask(capsys, drill.name)
    assert code == 0 and "hint 1 of" not in out
    assert [line.split()[1] for line in out.splitlines() if line.startswith("   ")] == [c.id for c in drill.checks]
    assert "docchat-grade hint CHECK_ID" in out


def test_the_lesson_to_reread_is_shown_from_the_learners_folder(root: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(root / "drills")
    for _ in range(len(CHECK.hints) + 1):
        _, out, _ = ask(capsys, CHECK.id)
    assert f'Reread "{CHECK.lesson}" in ../{LESSON}' in out
