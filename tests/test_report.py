"""Report and CheckResult, as batch and the formats pass them, and their schema-1 documents at the edges."""

from __future__ import annotations

import json

import pytest

from grader.batch import cohort as outputs
from grader.batch import resume
from grader.report import CheckResult, Report, as_report, from_document

PLAN = [{"id": "upload.accepts_pdf", "level": "core", "title": "accepts", "hint": "h1"},
        {"id": "upload.many", "level": "stretch", "title": "many", "hint": "h2"}]


def graded() -> Report:
    return Report("upload", "ada/drills/upload.py", [
        CheckResult("upload.accepts_pdf", "core", "accepts", "failed", "sent x\ngot y", "h1", 0.25),
        CheckResult("upload.many", "stretch", "many", "passed", "", "h2", 0.5)], isolation="bubblewrap")


@pytest.mark.parametrize("status", ["missing", "not started", "error"])
def test_a_file_batch_did_not_grade_keeps_its_status_and_its_document_layout(status):
    report = outputs.unrun_report("upload", "ada/drills/upload.py", PLAN, status, "why")
    document = report.document()
    assert list(document) == ["schema", "drill", "target", "status", "score", "max_score", "error", "checks"]
    assert list(document["checks"][0]) == ["id", "level", "title", "hint", "status", "message", "duration_s"]
    assert (report.status, report.score, report.max_score) == (status, 0, 2)
    assert json.dumps(from_document(document).document()) == json.dumps(document)  # read back, written the same


def test_a_graded_report_reads_back_from_its_document_as_it_was():
    report = graded()
    assert from_document(report.document()) == report
    assert json.dumps(from_document(report.document()).document()) == json.dumps(report.document())
    assert as_report(report) is report and as_report(report.document()) == report


def test_with_durations_sets_each_checks_duration_by_id():
    report = graded().with_durations({"upload.many": 1.5})
    assert [c.duration_s for c in report.checks] == [0.0, 1.5]
    assert graded().with_durations({}).document()["checks"][1]["duration_s"] == 0.0


def test_the_resume_store_gives_back_the_report_it_saved(tmp_path):
    store = resume.Store(tmp_path)
    store.put("ada", "upload", "k", graded(), 2.5)
    assert store.get("ada", "upload", "k") == (graded(), 2.5)
    assert store.get("ada", "upload", "another key") is None


@pytest.mark.parametrize("tamper", [
    lambda d: d.update(status="passed"),  # a verdict its checks do not give
    lambda d: d.update(score=2),
    lambda d: d["checks"][0].pop("level"),
    lambda d: d["checks"][0].update(duration_s="fast"),
    lambda d: d["checks"][0].update(extra="x"),
    lambda d: d.pop("isolation"),
    lambda d: d.update(target=None),
])
def test_the_resume_store_ignores_a_saved_grade_it_would_not_have_written(tamper, tmp_path):
    store = resume.Store(tmp_path)
    store.put("ada", "upload", "k", graded(), 2.5)
    path = tmp_path / resume.STATE_DIR / "ada" / "upload.json"
    saved = json.loads(path.read_text())
    tamper(saved["entry"]["report"])
    path.write_text(json.dumps(saved))
    assert store.get("ada", "upload", "k") is None


def test_merge_refuses_a_shard_whose_results_hold_no_reports(tmp_path, capsys):
    from grader.batch import merge

    for part in ("a", "b"):
        (tmp_path / part).mkdir()
        (tmp_path / part / "run.json").write_text("{}")
        (tmp_path / part / "results.json").write_text(json.dumps({"ada": {"upload": {"checks": "none"}}}))
    assert merge.main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "m")]) == 2
    assert "is not a batch OUT_DIR" in capsys.readouterr().err
