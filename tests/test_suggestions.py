"""A path that is not a drill file gets a pointer to the one the learner meant."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import cli
from tests.workbooks import make_workbook, skeleton


@pytest.mark.parametrize("typed, meant", [
    ("upload", "drills/upload.py"),
    ("drills/uploads.py", "drills/upload.py"),
    ("drills/stream.py", "drills/streaming.py"),
])
def test_a_typo_suggests_the_drill_file(tmp_path: Path, monkeypatch, capsys, typed: str, meant: str) -> None:
    make_workbook(tmp_path, upload=skeleton(), streaming=skeleton("streaming"))
    monkeypatch.chdir(tmp_path)
    assert cli.main([typed]) == 2
    assert f"no such file: {typed}; did you mean {meant}?" in capsys.readouterr().err


def test_from_inside_drills_the_suggestion_is_relative_to_there(tmp_path: Path, monkeypatch, capsys) -> None:
    make_workbook(tmp_path, upload=skeleton())
    monkeypatch.chdir(tmp_path / "drills")
    assert cli.main(["uploads.py"]) == 2
    assert "did you mean upload.py?" in capsys.readouterr().err


def test_nothing_close_is_a_plain_no_such_file(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(["zzz.py"]) == 2
    err = capsys.readouterr().err
    assert "no such file: zzz.py" in err and "did you mean" not in err


def test_a_notebook_is_a_lesson_not_a_drill(capsys) -> None:
    assert cli.main(["notebooks/01_uploads.ipynb"]) == 2
    err = capsys.readouterr().err
    assert "notebooks/01_uploads.ipynb is a lesson, not a drill" in err and "its drill is drills/upload.py" in err
