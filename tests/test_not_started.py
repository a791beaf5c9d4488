"""An untouched skeleton is "not started": no check is run, none passes, in every learner view."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from grader import manifest, skeletons
from grader.notebook import show_grade
from grader.report import from_document
from tests.conftest import DRILLS, ROOT
from tests.workbooks import skeleton

SCHEMA = json.loads((ROOT / "grader" / "report.schema.json").read_text())


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


@pytest.mark.parametrize("drill", manifest.load().names)
def test_every_shipped_skeleton_is_untouched(drill: str) -> None:
    assert skeletons.is_untouched(DRILLS / f"{drill}.py", drill)


def test_an_edit_or_a_missing_file_is_not_untouched(tmp_path: Path) -> None:
    begun = tmp_path / "upload.py"
    begun.write_text(skeleton().replace("# TODO: refuse", "# DONE: refuse", 1))
    assert not skeletons.is_untouched(begun, "upload")
    assert not skeletons.is_untouched(tmp_path / "missing.py", "upload")
    begun.write_text(skeleton().replace("\n", "\r\n"))
    assert skeletons.is_untouched(begun, "upload"), "an editor's line endings are no edit"
    assert not skeletons.is_untouched(begun, "lifespan"), "the upload skeleton is not the lifespan drill"


def test_json_report_says_not_started_with_no_passing_check() -> None:
    done = cli("drills/upload.py", "--format", "json")
    report = json.loads(done.stdout)
    jsonschema.validate(report, SCHEMA)
    assert done.returncode == 1
    assert report["not_started"] is True and report["status"] == "failed" and report["error"] is None
    assert report["score"] == 0 and {c["status"] for c in report["checks"]} == {"skipped"}
    assert [c["id"] for c in report["checks"]] == [c.id for c in manifest.load().drill("upload").checks]


def test_text_report_says_not_started_and_what_to_do() -> None:
    done = cli("drills/upload.py")
    assert done.returncode == 1
    assert "✓" not in done.stdout and "score 0/" in done.stdout
    assert "not started: drills/upload.py is still the skeleton you were given" in done.stdout
    assert "Read notebooks/01_uploads.ipynb" in done.stdout


def test_a_begun_drill_is_graded_and_says_so(tmp_path: Path) -> None:
    begun = tmp_path / "upload.py"
    begun.write_text(skeleton() + "\n# begun\n")
    report = json.loads(cli(str(begun), "--format", "json").stdout)
    assert report["not_started"] is False
    assert {c["status"] for c in report["checks"]} - {"skipped"}, "its checks were really run"


def test_the_notebook_view_of_a_skeleton() -> None:
    view = show_grade(DRILLS / "upload.py")
    assert view.report["not_started"] is True and not view.passed
    assert "Not started" in view._repr_html_() and "Not started" in repr(view)
    assert from_document(view.report).score == 0


def test_the_watcher_shows_a_skeleton_as_not_started(tmp_path: Path) -> None:
    import threading

    from grader import watch

    path = tmp_path / "upload.py"
    path.write_text(skeleton())
    stop, out = threading.Event(), io.StringIO()
    reached = watch.watch(path, lambda: skeletons.graded(path), out, stop, clear=False,
                          until=lambda report: report.not_started)
    assert reached and "not started: " in out.getvalue() and "score 0/" in out.getvalue()
