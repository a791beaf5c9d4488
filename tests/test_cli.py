"""The command line as learners and their scripts use it: formats, colour, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import ROOT, SOLUTIONS

SCHEMA = json.loads((ROOT / "grader" / "report.schema.json").read_text())


def run(*args: str, env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})}, timeout=120)


def test_solution_exits_0_with_a_passing_summary():
    done = run("solutions/upload.py")
    assert done.returncode == 0, done.stderr
    assert "score 14/14" in done.stdout and "PASSED" in done.stdout
    assert "\x1b[" not in done.stdout  # not a TTY: no colour


def test_drill_exits_1_and_explains_each_failure(tmp_path):
    begun = tmp_path / "upload.py"
    begun.write_text((ROOT / "drills" / "upload.py").read_text() + "\n# begun\n")
    done = run(str(begun))
    assert done.returncode == 1
    failure = done.stdout.split("upload.accepts_pdf", 1)[1]
    for label in ("sent:", "got:", "expected:", "hint:"):
        assert label in failure


@pytest.mark.parametrize("target", ["solutions/upload.py", "drills/upload.py"])
def test_json_report_matches_the_documented_schema(target):
    done = run(target, "--format", "json")
    report = json.loads(done.stdout)
    jsonschema.validate(report, SCHEMA)
    assert report["target"] == target
    assert done.returncode == (0 if report["status"] == "passed" else 1)


def test_error_report_matches_the_schema_too(tmp_path):
    broken = tmp_path / "upload.py"
    broken.write_text("def (:\n")
    done = run(str(broken), "--format", "json")
    report = json.loads(done.stdout)
    jsonschema.validate(report, SCHEMA)
    assert done.returncode == 1 and report["status"] == "error" and "syntax error" in report["error"]


@pytest.mark.parametrize("args, says", [
    (["no/such/file.py"], "no such file"),
    (["solutions/upload.py", "--drill", "nonsense"], "unknown drill 'nonsense'"),
    (["tests/conftest.py"], "can't tell which drill"),
    (["solutions/upload.py", "--format", "yaml"], "invalid choice"),
])
def test_usage_errors_exit_2(args, says):
    done = run(*args)
    assert done.returncode == 2
    assert says in done.stderr and "usage" in done.stderr


def test_drill_can_be_named_explicitly(tmp_path):
    renamed = tmp_path / "my_attempt.py"
    renamed.write_text((SOLUTIONS / "upload.py").read_text())
    assert run(str(renamed), "--drill", "upload").returncode == 0


def test_colour_on_a_tty_unless_no_color():
    from grader.report import CheckResult, Report
    from grader.formats.text import render

    class Tty:
        encoding = "utf-8"

        def isatty(self) -> bool:
            return True

    report = Report("upload", "drills/upload.py", [
        CheckResult("upload.accepts_pdf", "core", "t", "failed", "sent: x", "h", 0.1)])
    assert "\x1b[31m" in render(report, Tty())
    os.environ["NO_COLOR"] = "1"
    try:
        assert "\x1b[" not in render(report, Tty())
    finally:
        del os.environ["NO_COLOR"]


def test_ascii_marks_when_the_terminal_cannot_show_unicode():
    from grader.report import CheckResult, Report
    from grader.formats.text import render

    class Ascii:
        encoding = "ascii"

        def isatty(self) -> bool:
            return False

    report = Report("upload", "x.py", [CheckResult("upload.accepts_pdf", "core", "t", "passed", "", "h", 0.1)])
    text = render(report, Ascii())
    text.encode("ascii")
    assert "  v upload.accepts_pdf" in text


def test_the_grader_breaking_exits_3(tmp_path, monkeypatch):
    """A bug in a check (not in the learner's code) is exit 3, never blamed on the learner."""
    from grader import cli, report

    broken = report.Report("upload", "x.py", [], grader_broke=True)
    monkeypatch.setattr("grader.api.grade_report", lambda *a, **k: broken)
    assert cli.main([str(SOLUTIONS / "upload.py")]) == 3


@pytest.mark.parametrize("command", [["batch", "SUBS", "--out", "OUT"], ["merge", "OUT", "--out", "OUT2"], ["PATH"]])
def test_an_unexpected_exception_in_any_command_exits_3_with_its_traceback(tmp_path, monkeypatch, capsys, command):
    """Python's own exit code for an uncaught exception is 1, which says "a check failed": a CI
    script that lets 1 through (the shard workflow) would carry on without the results."""
    from grader import cli
    from grader.batch import lanes, merge

    def broken(*args, **kwargs):
        raise RuntimeError("a bug of the grader's")

    monkeypatch.setattr(lanes.Batch, "run", broken)
    monkeypatch.setattr(merge, "merge", broken)
    monkeypatch.setattr("grader.skeletons.graded", broken)
    (tmp_path / "subs" / "ada").mkdir(parents=True)
    places = {"SUBS": tmp_path / "subs", "OUT": tmp_path / "out", "OUT2": tmp_path / "out2",
              "PATH": SOLUTIONS / "errors.py"}
    assert cli.main([str(places.get(arg, arg)) for arg in command]) == 3
    err = capsys.readouterr().err
    assert "RuntimeError: a bug of the grader's" in err and "the grader itself broke" in err


def test_stopped_with_sigterm_it_ends_its_sandbox_and_removes_its_folders(tmp_path):
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "grader", "solutions/background.py"], cwd=ROOT,
                            env={**os.environ, "DOCCHAT_SCRATCH": str(tmp_path)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("docchat-lane-*/docchat-grade-*/work/*/work")):  # a check has begun
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
    assert not [p for p in Path("/proc").iterdir() if p.name.isdigit() and _runs_in(p, tmp_path)]


def _runs_in(proc: Path, folder: Path) -> bool:
    try:
        return str(folder) in (proc / "cmdline").read_bytes().decode(errors="replace") or \
            os.readlink(proc / "cwd").startswith(str(folder))
    except OSError:
        return False


def test_the_folders_of_a_killed_grader_are_swept_by_the_next_one(tmp_path, monkeypatch):
    from grader.engine import isolation

    monkeypatch.setenv("DOCCHAT_SCRATCH", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    hour = 3600
    stale = tmp_path / f"docchat-lane-{dead.pid}-abc"
    young = tmp_path / f"docchat-grade-{dead.pid}-def"
    running = tmp_path / f"docchat-grade-{os.getppid()}-ghi"
    other = tmp_path / "docchat-notes"
    for folder in (stale, young, running, other):
        (folder / "work").mkdir(parents=True)
    for folder in (stale, running, other):
        os.utime(folder, (os.path.getmtime(folder) - hour,) * 2)
    made = isolation.new_scratch("docchat-grade-")
    assert made.name.startswith(f"docchat-grade-{os.getpid()}-")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([young.name, running.name, other.name, made.name])
