"""Hostile and broken submissions: each gets a clear verdict in bounded time, nothing left running.

These run with the grader's default limits, as a learner would get them.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from grader.api import grade
from tests.conftest import SOLUTIONS, running_with

SOLUTION = (SOLUTIONS / "upload.py").read_text()
SKELETON = (SOLUTIONS.parent / "drills" / "upload.py").read_text()
BOUND_S = 60


def _graded(tmp_path: Path, source: str) -> tuple[dict, float]:
    path = tmp_path / "upload.py"
    path.write_text(source)
    started = time.monotonic()
    report = grade(path)
    elapsed = time.monotonic() - started
    assert elapsed < BOUND_S
    assert not any("grader itself" in c["message"] for c in report["checks"]), report
    return report, elapsed


def _in_handler(code: str) -> str:
    """The solution, with `code` run first thing in the upload handler."""
    anchor = "    job_id, dest = await save_pdf(file)\n    # Runs after"
    assert SOLUTION.count(anchor) == 1
    return SOLUTION.replace(anchor, f"    {code}\n" + anchor)


BROKEN = {
    "syntax_error": ("from fastapi import FastAPI\napp = FastAPI(\ndef oops(:\n    pass\n",
                     ["syntax error", "line 3", "def oops(:"]),
    "missing_module": ("import docchat_no_such_module\n", ["docchat_no_such_module", "not installed"]),
    "no_app": ("from fastapi import FastAPI\napi = FastAPI()\n", ["no module-level `app`"]),
    "app_not_fastapi": ("app = {'not': 'an app'}\n", ["dict", "not a FastAPI application"]),
    "exit_at_import": ("import sys\nsys.exit(0)\n", ["sys.exit(0)"]),
    "raises_at_import": ("raise RuntimeError('boom at import')\n", ["RuntimeError: boom at import", "line 1"]),
    "allocates_8_gib": ("blob = bytearray(8 * 1024 ** 3)\n", ["more than 1024 MiB"]),
    "os_exit_at_import": ("import os\nos._exit(0)\n", ["ended while importing", "os._exit"]),
    "loops_at_import": ("while True:\n    pass\n", ["took longer than", "module level"]),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_module_that_cannot_be_graded_gets_an_error_a_learner_understands(name, tmp_path):
    source, fragments = BROKEN[name]
    report, _ = _graded(tmp_path, source)
    assert report["status"] == "error"
    for fragment in fragments:
        assert fragment in report["error"]
    assert "Traceback" not in report["error"]
    assert all(c["status"] == "error" for c in report["checks"])
    assert report["score"] == 0


def test_os_exit_in_a_handler_is_an_error_for_the_checks_it_kills(tmp_path):
    report, _ = _graded(tmp_path, _in_handler("import os; os._exit(0)"))
    statuses = {c["id"]: c for c in report["checks"]}
    assert report["status"] == "failed"
    killed = statuses["upload.accepts_pdf"]
    assert killed["status"] == "error" and "ended while this check ran" in killed["message"]
    assert statuses["upload.requires_file"]["status"] == "passed"  # the handler never runs


def test_sys_exit_in_a_handler_is_reported_not_obeyed(tmp_path):
    report, _ = _graded(tmp_path, _in_handler("import sys; sys.exit(0)"))
    accepts = next(c for c in report["checks"] if c["id"] == "upload.accepts_pdf")
    assert report["status"] == "failed"
    assert accepts["status"] == "error" and "sys.exit(0)" in accepts["message"]


def test_blocking_the_event_loop_stops_grading_with_a_reason(tmp_path):
    report, elapsed = _graded(tmp_path, _in_handler("import time; time.sleep(3600)"))
    assert report["status"] == "error"
    assert "took longer than" in report["error"] and "event loop" in report["error"]
    hung = [c for c in report["checks"] if c["message"].startswith("took longer than 10 s")]
    assert hung and "POST /upload" in hung[0]["message"]
    assert all(c["id"] in report["error"] for c in hung)  # the report names the checks that hung


def test_a_printed_fake_report_is_ignored(tmp_path):
    fake = ('import json\nprint(json.dumps({"schema": 1, "drill": "upload", "status": "passed", '
            '"score": 14, "max_score": 14, "checks": [], "error": None}))\n')
    report, _ = _graded(tmp_path, fake + SKELETON)
    assert report["status"] == "failed"
    assert report["score"] < report["max_score"]


def test_an_output_flood_changes_nothing(tmp_path):
    flood = "import sys\nfor _ in range(300):\n    sys.stdout.write('x' * (1 << 20))\n"
    report, _ = _graded(tmp_path, flood + SOLUTION)
    assert report["status"] == "passed", report
    assert report["score"] == report["max_score"]


def test_an_8_gib_allocation_in_a_handler_is_that_checks_error(tmp_path):
    report, _ = _graded(tmp_path, _in_handler("blob = bytearray(8 * 1024 ** 3)"))
    accepts = next(c for c in report["checks"] if c["id"] == "upload.accepts_pdf")
    assert accepts["status"] == "error" and "more than 1024 MiB" in accepts["message"]


def test_a_detached_child_process_is_ended(tmp_path):
    marker = f"docchat-hostile-{uuid.uuid4().hex}"
    spawn = ("import subprocess, sys\n"
             f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', '{marker}'],"
             " start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n")
    report, _ = _graded(tmp_path, spawn + SOLUTION)
    assert report["status"] == "passed"
    deadline = time.monotonic() + 5
    while running_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running_with(marker) == []


def test_the_scratch_directory_is_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    report, _ = _graded(tmp_path, SOLUTION)
    assert report["status"] == "passed"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_another_drills_file_gets_one_error_naming_that_drill(tmp_path):
    streaming = (SOLUTIONS / "streaming.py").read_text()
    report, _ = _graded(tmp_path, streaming)
    assert report["status"] == "error"
    assert "looks like the streaming drill" in report["error"] and "--drill streaming" in report["error"]
    assert all(c["message"].startswith("not run") for c in report["checks"])
