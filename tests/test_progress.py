"""`docchat-grade` with no file: every drill's status, score and next step, decided by grading."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from grader import cli, manifest, progress, skeletons
from grader.progress import ALL_PASSED, CORE_PASSED, FAILING, NOT_STARTED, Row
from grader.formats.text import Style
from tests.conftest import DRILLS, running_with, wait_for
from tests.mutants.upload import MUTANTS
from tests.workbooks import made_up_report, make_workbook, skeleton, solution

UPLOAD = manifest.load().drill("upload")


class Plain:
    """A stream that is not a terminal, with a UTF-8 encoding: no colour, unicode marks."""

    encoding = "utf-8"

    @staticmethod
    def isatty() -> bool:
        return False


def test_recorded_skeleton_fingerprints_are_current() -> None:
    stale = {name for name, fp in skeletons.current(DRILLS).items() if skeletons.recorded().get(name) != fp}
    assert stale == set(), f"skeletons changed: run `python -m grader.skeletons` to record {sorted(stale)}"


def test_fingerprint_ignores_line_endings_and_trailing_space_but_not_edits() -> None:
    text = skeleton()
    same = text.replace("\n", "  \r\n") + "\n\n"
    assert skeletons.fingerprint(same.encode()) == skeletons.fingerprint(text.encode())
    edited = text.replace("# TODO:", "# DONE:", 1)
    assert skeletons.fingerprint(edited.encode()) != skeletons.fingerprint(text.encode())


def test_untouched_and_missing_drills_are_not_started_without_grading(tmp_path: Path, monkeypatch) -> None:
    root = make_workbook(tmp_path, upload=skeleton().replace("\n", "\r\n"))
    started = []
    monkeypatch.setattr(progress, "grade_rows", lambda rows, *_: started.extend(rows))
    rows = progress.survey(root)
    assert [r.drill.name for r in rows] == manifest.load().names
    assert started == []
    assert {r.status for r in rows} == {NOT_STARTED}
    assert rows[0].next_step() == f"read {root / UPLOAD.lesson}, then edit {root / 'drills' / 'upload.py'}"
    missing = [r for r in rows if not r.path.exists()]
    assert all("is missing" in r.next_step() for r in missing)


def test_edited_drills_are_graded_two_at_a_time_into_each_status(tmp_path: Path) -> None:
    stretch_bug = next(m for m in MUTANTS if m.name == "no_upload_many")
    sources = {"done": solution(), "core": stretch_bug.source(),
               "started": skeleton() + "\n# I have started\n", "broken": "def oops(:\n"}
    rows = []
    for name, source in sources.items():
        (tmp_path / f"{name}.py").write_text(source)
        rows.append(Row(UPLOAD, tmp_path / f"{name}.py"))
    ticks = []
    started = time.monotonic()
    progress.grade_rows(rows, ["--timeout", "20"], lambda *tick: ticks.append(tick), jobs=2)
    took = time.monotonic() - started
    done, core, begun, broken = rows
    assert (done.status, core.status, begun.status, broken.status) == (ALL_PASSED, CORE_PASSED, FAILING, FAILING)
    assert done.next_step() == "done" and done.score == f"{len(UPLOAD.checks)}/{len(UPLOAD.checks)}"
    assert core.next_step() == "going further: upload.many"
    assert begun.next_step() == "fix upload.accepts_pdf"
    assert broken.report.error and "make it load" in broken.next_step()
    assert max(len(names) for _, _, names in ticks) == 2, "two drills are graded at once"
    assert {total for _, total, _ in ticks} == {4}
    assert took < 60


def test_ctrl_c_stops_a_grading_run_and_the_learners_code(tmp_path: Path) -> None:
    marker = f"learner-{uuid.uuid4().hex}"  # the learner's code runs sandboxed: found by its command line
    drill = tmp_path / "upload.py"
    drill.write_text(f"import subprocess, time\nsubprocess.Popen([{marker!r}, '60'], executable='sleep')\ntime.sleep(60)\n")
    grading = progress.Grading(Row(UPLOAD, drill), [])
    wait_for(lambda: running_with(marker), what="the learner's module to start")
    started = time.monotonic()
    grading.interrupt()
    assert time.monotonic() - started < 10
    assert grading.proc.returncode is not None
    wait_for(lambda: not running_with(marker), what="the learner's processes to end")


@pytest.mark.parametrize("script, says", [
    ("import sys; sys.stderr.write('Traceback...\\nRuntimeError: boom\\n'); sys.exit(3)", "RuntimeError: boom"),
    ("import sys; print(sys.argv[1]); sys.exit(3)", "a check failed inside the grader"),
], ids=["no report", "report with exit 3"])
def test_the_grader_breaking_is_never_blamed_on_the_learner(tmp_path: Path, monkeypatch, script: str, says: str) -> None:
    real = subprocess.Popen
    document = json.dumps(made_up_report(UPLOAD, "drills/upload.py").document())
    monkeypatch.setattr(progress.subprocess, "Popen",
                        lambda _cmd, **kwargs: real([sys.executable, "-c", script, document], **kwargs))
    row = Row(UPLOAD, tmp_path / "upload.py")
    progress.grade_rows([row], [])
    assert row.status == progress.BROKE and says in row.broke
    assert progress.exit_code([row]) == 3
    assert "the grader itself failed" in progress.render([row], tmp_path, Style(Plain()))


def test_table_lists_each_drill_and_names_the_first_unfinished_one_next(tmp_path: Path) -> None:
    (tmp_path / "other.py").write_text(skeleton())
    rows = [Row(UPLOAD, tmp_path / "upload.py", made_up_report(UPLOAD, "drills/upload.py", failing={"upload.saves_bytes"})),
            Row(UPLOAD, tmp_path / "other.py")]
    table = progress.render(rows, tmp_path, Style(Plain()))
    failing, not_started = (line.split() for line in table.splitlines()[2:4])
    assert failing == ["✗", "upload", "failing", f"{len(UPLOAD.checks) - 1}/{len(UPLOAD.checks)}",
                       "fix", "upload.saves_bytes"]
    assert not_started[:6] == ["-", "upload", "not", "started", f"-/{len(UPLOAD.checks)}", "read"]
    assert "Next: upload" in table
    assert "docchat-grade hint upload.saves_bytes" in table
    assert "docchat-grade --watch" in table
    assert "\x1b[" not in table


def test_table_when_every_core_passes(tmp_path: Path) -> None:
    rows = [Row(UPLOAD, tmp_path / "upload.py", made_up_report(UPLOAD, "drills/upload.py", failing={"upload.many"}))]
    table = progress.render(rows, tmp_path, Style(Plain()))
    assert "core passed" in table and "going further: upload.many" in table
    assert "the course is done" in table and "stretch checks are left in upload" in table
    assert progress.exit_code(rows) == 0
    assert progress.exit_code(rows + [Row(UPLOAD, tmp_path / "missing.py")]) == 1


def test_cli_progress_table_from_inside_the_workbook(tmp_path: Path, monkeypatch, capsys) -> None:
    root = make_workbook(tmp_path / "wb", upload=skeleton())
    (root / "drills" / "sub").mkdir()
    monkeypatch.chdir(root / "drills" / "sub")  # found by walking up
    assert cli.main([]) == 1
    out = capsys.readouterr().out
    assert "upload" in out and "not started" in out and "Next: upload" in out


def test_cli_progress_needs_a_workbook(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main([]) == 2
    assert "no workbook here" in capsys.readouterr().err
    assert cli.main(["--workbook", str(tmp_path)]) == 2
    assert cli.main(["--format", "json"]) == 2
    assert "--drill and --format need a PATH" in capsys.readouterr().err
    assert cli.main(["--watch"]) == 2, "following the course needs a workbook too"
    assert "no workbook here" in capsys.readouterr().err


def test_paths_are_shown_from_the_folder_the_learner_is_in(tmp_path: Path, monkeypatch) -> None:
    root = make_workbook(tmp_path / "wb", upload=skeleton())
    row = Row(UPLOAD, root / "drills" / "upload.py")
    monkeypatch.chdir(root)
    assert row.next_step() == f"read {UPLOAD.lesson}, then edit drills/upload.py"
    monkeypatch.chdir(root / "drills")
    assert row.next_step() == f"read ../{UPLOAD.lesson}, then edit upload.py"


def test_ctrl_c_during_the_table_stops_cleanly(tmp_path: Path, monkeypatch, capsys) -> None:
    root = make_workbook(tmp_path, upload=skeleton() + "\n# started\n")

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(progress, "grade_rows", interrupted)
    assert cli.main(["--workbook", str(root)]) == 130
    assert "stopped" in capsys.readouterr().err

