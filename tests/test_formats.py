"""`--format junit|gradescope` for one file, and the batch's junit.xml and gradescope/ files."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from grader import manifest
from grader.formats import github, gradescope, junit
from grader.report import CheckResult, Report
from tests.conftest import DRILLS, SOLUTIONS

GRADE = str(Path(sys.executable).with_name("docchat-grade"))
# Gradescope's autograder results.json, as its "Autograder Specifications" describe it.
VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
GRADESCOPE_SCHEMA = {
    "type": "object",
    "required": ["score", "output", "tests", "visibility", "stdout_visibility", "execution_time"],
    "properties": {
        "score": {"type": "number"}, "max_score": {"type": "number"}, "output": {"type": "string"},
        "visibility": VISIBILITY, "stdout_visibility": VISIBILITY, "execution_time": {"type": "number"},
        "tests": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "score", "max_score", "status", "output", "visibility"],
            "properties": {"name": {"type": "string"}, "number": {"type": "string"},
                           "score": {"type": "number"}, "max_score": {"type": "number"},
                           "status": {"enum": ["passed", "failed"]}, "output": {"type": "string"},
                           "visibility": VISIBILITY}}},
    },
}


def graded_as(path: Path, fmt: str) -> tuple[str, int]:
    done = subprocess.run([GRADE, str(path), "--format", fmt], capture_output=True, text=True, timeout=120)
    return done.stdout, done.returncode


def counts(element: ET.Element) -> dict[str, int]:
    return {k: int(element.get(k)) for k in ("tests", "failures", "errors", "skipped")}


def outcomes(cases: list[ET.Element]) -> dict[str, int]:
    tags = [child.tag for case in cases for child in case]
    return {"tests": len(cases), "failures": tags.count("failure"), "errors": tags.count("error"),
            "skipped": tags.count("skipped")}


def begun_skeleton(folder: Path) -> Path:
    """The upload skeleton with one edit: graded (an untouched skeleton is "not started")."""
    path = folder / "upload.py"
    path.write_text((DRILLS / "upload.py").read_text() + "\n# begun\n")
    return path


@pytest.mark.parametrize("path, passed", [(SOLUTIONS / "errors.py", True), (None, False)])
def test_junit_for_one_file_parses_and_its_counts_match(path, passed, tmp_path):
    path = path or begun_skeleton(tmp_path)
    text, code = graded_as(path, "junit")
    assert code == (0 if passed else 1)
    root = ET.fromstring(text)
    suites = root.findall("testsuite")
    assert root.tag == "testsuites" and len(suites) == 1
    cases = suites[0].findall("testcase")
    assert counts(root) == counts(suites[0]) == outcomes(cases)
    assert all(c.get("classname") == path.stem and c.get("name").startswith(path.stem + ".") for c in cases)
    assert (counts(root)["failures"] == 0) == passed
    if not passed:
        failure = next(c.find("failure") for c in cases if c.find("failure") is not None)
        assert failure.get("message") and "hint:" in failure.text


@pytest.mark.parametrize("path", [SOLUTIONS / "errors.py", None])
def test_gradescope_for_one_file_has_the_fields_its_schema_requires(path, tmp_path):
    text, _ = graded_as(path or begun_skeleton(tmp_path), "gradescope")
    data = json.loads(text)
    jsonschema.validate(data, GRADESCOPE_SCHEMA)
    assert data["score"] == sum(t["score"] for t in data["tests"])
    # the default policy: the core checks carry the grade, stretch ones are a bonus
    assert data["max_score"] == sum(t["max_score"] for t in data["tests"] if t["name"].split(":")[0] in CORE)
    assert all(t["visibility"] == "visible" for t in data["tests"])


CORE = {c.id for d in manifest.load().names for c in manifest.load().drill(d).checks if c.level == "core"}


def _report(message: str, status: str = "failed", check_id: str = "upload.accepts_pdf") -> Report:
    return Report("upload", "drills/upload.py", [CheckResult(check_id, "core", "title", status, message, "a hint", 0.5)])


def test_junit_shows_control_bytes_a_learner_sent_instead_of_breaking_the_xml():
    root = ET.fromstring(junit.render(_report("got: b'\x00\x1b[31m'")))
    assert "\\x00\\x1b[31m" in root.find("testsuite/testcase/failure").text


def test_gradescope_shows_hidden_checks_only_once_published():
    data = json.loads(gradescope.render(_report("", "passed", "upload.hidden_extra")))
    assert data["tests"][0]["visibility"] == "after_published"
    skipped = json.loads(gradescope.render(_report("no Chromium", "skipped")))["tests"][0]
    assert (skipped["status"], skipped["output"]) == ("failed", "skipped: no Chromium")


def test_github_workflow_commands_are_escaped():
    assert github.escape_data("50%\r\nnext") == "50%25%0D%0Anext"
    assert github.escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    line = github.annotation("ada", _report("sent: x\ngot: y").document(), Path("drills/upload.py"))
    assert line.startswith("::error file=") and ",line=1,title=ada%3A upload failed (0/1)::" in line
    assert "\n" not in line  # the whole message, on lines GitHub shows
    assert line.endswith("::upload.accepts_pdf (failed): title%0A    sent: x%0A    got: y")


def test_gradescope_tests_add_up_to_the_score_and_the_output_hides_hidden_checks():
    report = Report("upload", "drills/upload.py", [
        CheckResult("upload.accepts_pdf", "core", "t", "failed", "m", "h", 0.1),
        CheckResult("upload.unique_job_ids", "core", "t", "passed", "", "h", 0.1),
        CheckResult("upload.hidden_extra", "core", "t", "passed", "", "h", 0.1),
        CheckResult("upload.streams_to_disk", "stretch", "t", "passed", "", "h", 0.1)])
    data = gradescope.results([report.document()])
    scores = {t["name"].split(":")[0]: (t["score"], t["max_score"]) for t in data["tests"]}
    assert scores["upload.streams_to_disk"] == (0, 1)  # a bonus: counted once the core passes
    assert (data["score"], data["max_score"]) == (2, 3) == (sum(s for s, _ in scores.values()), 3)
    assert data["output"].splitlines() == ["docchat-grade: failed, 2/3 checks pass", "upload: failed (2/3)"]


def test_every_format_shows_a_hint_exactly_for_the_checks_that_ran_and_failed_or_errored():
    from grader.batch.cohort import feedback_md
    from grader.formats import classroom, text
    from grader.notebook import GradeView

    statuses = ("passed", "failed", "error", "skipped", "not run")
    checks = [CheckResult(f"upload.c{i}", "core", "t", "error" if s == "not run" else s,
                          "not run: stopped" if s == "not run" else f"what {s}", f"HINT-{s}", 0.1)
              for i, s in enumerate(statuses)]
    report = Report("upload", "drills/upload.py", checks, error="stopped")
    document = report.document()
    rendered = {
        "text": text.render(report), "junit": junit.render(report), "gradescope": gradescope.render(report),
        "classroom": json.dumps(classroom.results([document])), "feedback": feedback_md("ada", [dict(document, error=None)]),  # (lists no check of a stopped grade)
        "notebook": GradeView(document)._repr_html_(),
    }
    for name, output in rendered.items():
        shown = {s for s in statuses if f"HINT-{s}" in output}
        assert shown == {"failed", "error"}, name
