"""Intake: submissions the way they really arrive, found, graded, and listed in intake.md and run.json."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from grader.batch import intake
from tests.cohorts import ROOT
from tests.test_batch import GRADE

SOLUTION = ROOT / "solutions" / "errors.py"
SKELETON = ROOT / "drills" / "errors.py"


def put(path: Path, source: Path | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source.read_text() if isinstance(source, Path) else source)


@pytest.fixture(scope="module")
def real_cohort(tmp_path_factory) -> Path:
    """Thirteen-ish learners shaped like a real course's submissions, for the errors drill."""
    subs = tmp_path_factory.mktemp("real") / "submissions"
    put(subs / "clone" / "drills" / "errors.py", SOLUTION)  # a GitHub Classroom clone
    put(subs / "clone" / "solutions" / "errors.py", SKELETON)  # the workbook's own folder: ignored
    put(subs / "toplevel" / "errors.py", SOLUTION)  # a Gradescope-style upload
    put(subs / "nested" / "project-main" / "drills" / "errors.py", SOLUTION)  # a downloaded zip, extracted
    put(subs / "upper" / "drills" / "Errors.py", SOLUTION)
    put(subs / "macos" / "__MACOSX" / "drills" / "errors.py", "garbage")
    put(subs / "macos" / "drills" / "errors.py", SOLUTION)
    put(subs / "macos" / "drills" / "._errors.py", "resource fork")
    (subs / "empty").mkdir()
    put(subs / "José, Jr" / "errors.py", SOLUTION)
    put(subs / "José, Jr" / "helper.py", "X = 1\n")
    put(subs / "untouched" / "drills" / "errors.py", SKELETON)
    put(subs / "broken" / "drills" / "errors.py", SOLUTION.read_text() + "\ndef broken(:\n")
    put(subs / "both" / "drills" / "errors.py", SOLUTION)
    put(subs / "both" / "errors.py", SKELETON)  # second choice: listed as not graded
    put(subs / "zipped" / "placeholder.txt", "the work is in the zip")
    with zipfile.ZipFile(subs / "zipped" / "work.zip", "w") as z:
        z.write(SOLUTION, "work/drills/errors.py")
        z.writestr("__MACOSX/work/drills/._errors.py", "resource fork")
        z.writestr("../escape.py", "never extracted")
    with zipfile.ZipFile(subs / "onlyzip.zip", "w") as z:  # a learner who is a zip file
        z.write(SOLUTION, "errors.py")
    return subs


@pytest.fixture(scope="module")
def taken(real_cohort, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("out")
    done = subprocess.run([GRADE, "batch", str(real_cohort), "--out", str(out), "--drills", "errors", "--jobs", "2"],
                          capture_output=True, text=True, timeout=300)
    return out, done


EXPECTED = {"clone": ("passed", "clone/drills/errors.py"), "toplevel": ("passed", "toplevel/errors.py"),
            "nested": ("passed", "nested/project-main/drills/errors.py"),
            "upper": ("passed", "upper/drills/Errors.py"), "macos": ("passed", "macos/drills/errors.py"),
            "empty": ("missing", "empty/drills/errors.py"), "José, Jr": ("passed", "José, Jr/errors.py"),
            "untouched": ("not started", "untouched/drills/errors.py"),
            "broken": ("error", "broken/drills/errors.py"), "both": ("passed", "both/drills/errors.py"),
            "zipped": ("passed", "zipped/work.zip/work/drills/errors.py"),
            "onlyzip": ("passed", "onlyzip/onlyzip.zip/errors.py")}


def test_every_layout_is_found_and_graded(taken):
    out, done = taken
    found = json.loads((out / "results.json").read_text())
    assert {learner: (r["errors"]["status"], r["errors"]["target"]) for learner, r in found.items()} == EXPECTED, \
        done.stderr
    for learner, (status, _) in EXPECTED.items():
        if status != "missing":  # found somewhere: never told the drill is missing
            assert "missing" not in (out / "feedback" / f"{learner}.md").read_text()


def test_intake_report_says_what_was_graded_and_what_was_not(taken):
    out, _ = taken
    text = (out / "intake.md").read_text()
    assert "- `nested/project-main/drills/errors.py` → **errors**" in text
    assert "- `José, Jr/helper.py` not graded: not named after a drill (errors)" in text
    assert "- `both/errors.py` not graded: both/drills/errors.py was graded as errors" in text
    assert "- `untouched/drills/errors.py` → **errors** (not started: the untouched skeleton)" in text
    assert "## empty\n\n- **errors**: missing" in text
    assert "__MACOSX" not in text and "._errors" not in text and "solutions/" not in text
    assert "escape.py" not in text and not (out.parent / "escape.py").exists()
    run = json.loads((out / "run.json").read_text())
    assert run["intake"]["zipped"]["graded"] == {"errors": "zipped/work.zip/work/drills/errors.py"}
    assert run["intake"]["zipped"]["unpacked"] == ["zipped/work.zip"]
    assert run["intake"]["José, Jr"]["ignored"] == [{"file": "José, Jr/helper.py",
                                                    "why": "not named after a drill (errors)"}]


def test_the_gradebook_holds_a_non_ascii_name_with_a_comma(taken):
    out, _ = taken
    rows = {r["learner"]: r for r in csv.DictReader((out / "gradebook.csv").open(encoding="utf-8"))}
    assert rows["José, Jr"]["errors_status"] == "passed"
    assert rows["untouched"]["errors_status"] == "not started" and rows["untouched"]["points"] == "0"
    assert rows["untouched"]["status"] == "not started" and rows["empty"]["status"] == "missing"


def test_not_started_and_missing_are_not_pass_rates_nor_junit_errors(taken):
    out, done = taken
    text = (out / "cohort.md").read_text()
    # 12 learners, 10 handed in (not empty, not untouched), 9 passed, broken could not be graded, 1 not started
    row = next(line for line in text.splitlines() if line.startswith("| errors |"))
    assert row.startswith("| errors | 10/12 | 9 | 1 |") and row.endswith("| 1 |")
    checks = [line.split("|") for line in text.splitlines() if line.startswith("| `errors.")]
    assert {cells[4].strip() for cells in checks} == {"9/9"}  # every graded file, and only those
    root = ET.parse(out / "junit.xml").getroot()
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert suites["empty/errors"].get("errors") == "0" and suites["untouched/errors"].get("errors") == "0"
    assert suites["empty/errors"].get("skipped") == suites["empty/errors"].get("tests")
    assert int(suites["broken/errors"].get("errors")) > 0  # could not be graded: that is an error
    assert "(unchanged)" not in done.stderr  # a first run reuses nothing


def test_a_zip_member_that_climbs_out_is_never_written(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../../outside.py", "x")
        z.writestr("/abs.py", "x")
        z.writestr("ok/errors.py", "x")
    intake.unzip(archive, tmp_path / "into")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.py")) == ["into/ok/errors.py"]


def test_a_skeleton_with_other_line_endings_is_still_not_started(tmp_path):
    path = tmp_path / "errors.py"
    path.write_bytes(SKELETON.read_bytes().replace(b"\n", b"\r\n"))
    assert intake.untouched(path, "errors")
    path.write_text(SKELETON.read_text() + "\nx = 1\n")
    assert not intake.untouched(path, "errors")


def test_a_file_moved_to_another_folder_is_graded_again_under_its_new_name(tmp_path):
    subs = tmp_path / "subs"
    put(subs / "ada" / "errors.py", SOLUTION)
    command = [GRADE, "batch", str(subs), "--out", str(tmp_path / "out"), "--drills", "errors"]
    subprocess.run(command, capture_output=True, text=True, timeout=300)
    (subs / "ada" / "drills").mkdir()
    (subs / "ada" / "errors.py").rename(subs / "ada" / "drills" / "errors.py")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert json.loads((tmp_path / "out" / "run.json").read_text())["grades"]["graded"] == 1, done.stderr
    assert json.loads((tmp_path / "out" / "results.json").read_text())["ada"]["errors"]["target"] == \
        "ada/drills/errors.py"


def test_a_rerun_reuses_everything_and_says_unchanged(real_cohort, taken, tmp_path):
    out, _ = taken
    again = tmp_path / "again"
    shutil.copytree(out, again)
    done = subprocess.run([GRADE, "batch", str(real_cohort), "--out", str(again), "--drills", "errors"],
                          capture_output=True, text=True, timeout=300)
    run = json.loads((again / "run.json").read_text())
    assert run["grades"] == {"total": 12, "graded": 0, "missing": 1, "reused": 10, "not_started": 1}, done.stderr
    assert "clone: 9/9 passed (errors 9/9) (unchanged)" in done.stderr
    assert not any("empty:" in line and "(unchanged)" in line for line in done.stderr.splitlines())
    for name in ("gradebook.csv", "results.json", "intake.md", "cohort.html"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name
