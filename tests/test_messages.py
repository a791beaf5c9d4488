"""Messages that fit what came back: each once misled a learner (issue 12), each is pinned here."""

from __future__ import annotations

import pytest

from grader import manifest
from tests.conftest import DRILLS
from tests.mutants import all_mutants

MUTANTS = {m.name: m for m in all_mutants()}

# mutant -> (words the named check's message must hold, words it must not)
FITTING = {
    "splitlines_frames": ('arrived as "\\n": its last newline was lost', "separated by a blank line"),
    "done_trailing_space": ('instead an event with data "[DONE] "', "no [DONE] event"),
    "huge_chunks": ("each chunk is too large", "held whole"),
    "reads_whole_file": ("it was held whole somewhere", "chunk is too large"),
    "body_limit_too_tight": ("your route never ran", "look at your comparison"),
    "off_by_one": ("look at your comparison", "your route never ran"),
    "worker_dies_on_exception": ("the worker may have died with the exception", "your app raised"),
    "blank_line_first": ("one token late", "buffered"),
}


@pytest.mark.parametrize("name", sorted(FITTING))
def test_message_fits_the_mistake(name: str, grade_source) -> None:
    mutant = MUTANTS[name]
    holds, lacks = FITTING[name]
    report = grade_source(mutant.source(), mutant.drill)
    check = next(c for c in report["checks"] if c["id"] == mutant.catches)
    assert check["status"] == "failed", check
    assert holds in check["message"], check["message"]
    assert lacks not in check["message"], check["message"]


def test_overwritten_upload_is_named(grade_source) -> None:
    mutant = MUTANTS["uses_client_filename"]  # saves_bytes fails there too, as collateral
    report = grade_source(mutant.source(), "upload")
    message = next(c for c in report["checks"] if c["id"] == "upload.saves_bytes")["message"]
    assert "report.pdf (an earlier upload's file) overwritten" in message, message


def test_missing_job_id_is_named_as_the_precondition(grade_source) -> None:
    """The untouched skeleton answers no job id at all: say that, not "the same id twice"."""
    report = grade_source((DRILLS / "upload.py").read_text(), "upload")
    check = next(c for c in report["checks"] if c["id"] == "upload.unique_job_ids")
    assert "needs what upload.accepts_pdf checks first" in check["message"], check["message"]
    assert "same job_id" not in check["message"]
    assert "came back with the same job id" not in check["hint"]
    assert "came back with the same job id" not in " ".join(manifest.load().check(check["id"]).hints)


def test_a_background_check_names_its_precondition(grade_source) -> None:
    """The skeleton's upload answers no job id: every check that needs one says so."""
    report = grade_source((DRILLS / "background.py").read_text(), "background")
    completes = next(c for c in report["checks"] if c["id"] == "background.completes")
    assert "needs what background.accepts_202 checks first" in completes["message"], completes["message"]


def test_a_stopped_grading_keeps_the_results_of_the_checks_that_ran() -> None:
    """A hang stops grading part way: what passed before it, and what hung, still show."""
    from grader.formats import text
    from grader.report import from_document
    from tests.goldens import Terminal

    error = "2 checks took longer than 10 s each, so grading stopped"
    checks = [("upload.accepts_pdf", "passed", ""), ("upload.saves_bytes", "error", "took longer than 10 s"),
              ("upload.many", "error", f"not run: {error}")]
    shown = text.render(from_document({"drill": "upload", "target": "upload.py", "error": error, "checks": [
        {"id": i, "level": "core", "title": i, "status": s, "message": m, "hint": "", "duration_s": 0.0}
        for i, s, m in checks]}), Terminal())
    assert "✓ upload.accepts_pdf" in shown
    assert "took longer than 10 s" in shown.split("upload.saves_bytes", 2)[2]
    assert "upload.many" in shown and "(not run)" in shown
    assert shown.count(error) == 1  # in the heading, not once per check that did not run
