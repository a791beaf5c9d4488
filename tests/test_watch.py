"""`docchat-grade --watch [PATH]`: re-grade on save, show what changed, follow the course, stop cleanly.

Most tests drive the loop with a fast fake grader (the file holds the ids that pass) from a
thread, write the file to trigger runs and stop the loop with an event; two tests run the
real command in a process, save a solution over the skeleton and stop it with SIGINT.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader import manifest, watch
from grader.engine.sandbox import descendants
from grader.api import UsageError
from grader.report import CheckResult, Report
from tests.conftest import interruptible, wait_for
from tests.workbooks import made_up_report, make_workbook, skeleton, solution

CHECKS = [("w.a", "core"), ("w.b", "core"), ("w.c", "stretch")]


def fake_grade(path: Path):
    """A grader that reads the passing check ids from the file itself."""
    def grade() -> Report:
        if not path.exists():
            raise UsageError(f"no such file: {path}")
        passing = set(path.read_text().split())
        return Report("w", str(path), checks=[
            CheckResult(i, level, f"check {i}", "passed" if i in passing else "failed", "wrong", "a hint", 0.0)
            for i, level in CHECKS])
    return grade


class Loop:
    """The watch loop running in a thread, writing into a buffer, until stopped."""

    def __init__(self, path: Path, grade=None, target=watch.watch, **kwargs) -> None:
        self.out, self.stop = io.StringIO(), threading.Event()
        if target is watch.watch:
            kwargs["path"], grade = path, grade or fake_grade(path)
        self.thread = threading.Thread(target=target, daemon=True, kwargs=dict(
            grade=grade, out=self.out, stop=self.stop, **kwargs))
        self.thread.start()

    def runs(self) -> int:
        return self.out.getvalue().count("watching ")

    def wait_runs(self, n: int) -> str:
        wait_for(lambda: self.runs() >= n, what=f"run {n}")
        return self.out.getvalue().split("since the last graded run")[-1] if n > 1 else self.out.getvalue()

    def end(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive(), "the watch loop did not stop"


@pytest.fixture(params=[False, True], ids=["watchfiles", "polling"])
def polling(request) -> bool:
    return request.param


def test_regrades_on_each_save_and_shows_what_changed(tmp_path: Path, polling: bool) -> None:
    path = tmp_path / "w.py"
    path.write_text("w.a")
    loop = Loop(path, polling=polling)
    try:
        first = loop.wait_runs(1)
        assert "since the last graded run" not in first and "run 1 at" in first
        path.write_text("w.a w.b")
        assert "newly passing: w.b" in loop.wait_runs(2)
        path.write_text("w.b w.c")
        changed = loop.wait_runs(3)
        assert "newly passing: w.c" in changed and "newly failing: w.a" in changed
        path.write_text("w.c w.b ")
        assert "no check changed" in loop.wait_runs(4)
    finally:
        loop.end()
    assert loop.runs() == 4


def test_a_save_that_changes_nothing_is_not_graded_again(tmp_path: Path, monkeypatch) -> None:
    wakes = []
    real = watch.wakeups

    def counted(*args, **kwargs):
        for _ in real(*args, **kwargs):
            wakes.append(1)
            yield
    monkeypatch.setattr(watch, "wakeups", counted)
    path = tmp_path / "w.py"
    path.write_text("w.a")
    loop = Loop(path, polling=True)
    try:
        loop.wait_runs(1)
        path.write_text("w.a")
        seen = len(wakes)
        wait_for(lambda: len(wakes) >= seen + 2, what="the loop to look at the file again")
        assert loop.runs() == 1
    finally:
        loop.end()


def test_a_save_during_the_first_run_is_not_missed(tmp_path: Path) -> None:
    path = tmp_path / "w.py"
    path.write_text("")
    grade = fake_grade(path)
    calls = []

    def saved_while_grading() -> Report:
        report = grade()
        calls.append(1)
        if len(calls) == 1:
            path.write_text("w.a")  # saved after the grader read the file, before watching began
        return report
    loop = Loop(path, grade=saved_while_grading)
    try:
        assert "newly passing: w.a" in loop.wait_runs(2)
    finally:
        loop.end()


def test_a_vanished_file_is_reported_and_watching_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "w.py"
    path.write_text("w.a")
    loop = Loop(path, polling=True)
    try:
        loop.wait_runs(1)
        path.unlink()
        wait_for(lambda: "no such file" in loop.out.getvalue(), what="the missing-file note")
        path.write_text("w.a w.b")
        assert "newly passing: w.b" in loop.wait_runs(3), "changes are shown against the last graded run"
    finally:
        loop.end()


def test_clears_the_screen_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "w.py"
    path.write_text("w.a")
    for clear in (True, False):
        loop = Loop(path, clear=clear)
        try:
            loop.wait_runs(1)
        finally:
            loop.end()
        assert (watch.CLEAR in loop.out.getvalue()) is clear


def test_falls_back_to_polling_when_native_watching_fails(tmp_path: Path, monkeypatch) -> None:
    import watchfiles

    def broken(*_args, **_kwargs):
        raise OSError("inotify watch limit reached")
        yield
    monkeypatch.setattr(watchfiles, "watch", broken)
    path = tmp_path / "w.py"
    path.write_text("")
    stop = threading.Event()
    wake = watch.wakeups(path, stop)
    started = time.monotonic()
    assert next(wake, "ended") is None
    assert time.monotonic() - started < 10 * watch.POLL_S, "polling wakes up every POLL_S, not never"
    stop.set()
    assert next(wake, "ended") == "ended"


def course_grade(path: Path, drill: str) -> Report:
    """A grader for the course loop: every check of `drill` passes once its file says "done"."""
    if not path.exists():
        raise UsageError(f"no such file: {path}")
    failing = set() if "done" in path.read_text() else {c.id for c in manifest.load().drill(drill).checks}
    return made_up_report(manifest.load().drill(drill), str(path), failing=failing)


def test_with_no_path_it_follows_the_course_and_moves_on_when_the_core_passes(tmp_path: Path) -> None:
    first, second, third, *_ = manifest.load().drills
    root = make_workbook(tmp_path, **{d.name: "started" for d in manifest.load().drills})
    (root / "drills" / f"{first.name}.py").write_text("done")
    loop = Loop(root, grade=course_grade, target=watch.follow_course, root=root, polling=True)
    try:
        wait_for(lambda: f"watching {root / 'drills' / second.name}.py" in loop.out.getvalue(),
                 what="the watcher to move past the passing first drill")
        screen = loop.out.getvalue().split(f"{first.name} done: every core check passes")[-1]
        assert f"{first.name}: every core check passes, moving on to {second.name}" in screen
        assert "course: drill 2 of" in screen and f"watching {root / 'drills' / third.name}.py" not in screen
        (root / "drills" / f"{second.name}.py").write_text("done now")
        wait_for(lambda: f"moving on to {third.name}" in loop.out.getvalue(), what="the move to the third drill")
        assert f"watching {root / 'drills' / third.name}.py" in loop.out.getvalue().split(f"moving on to {third.name}")[-1]
    finally:
        loop.end()


def test_the_course_ends_when_the_last_drill_passes(tmp_path: Path) -> None:
    root = make_workbook(tmp_path, **{d.name: "done" for d in manifest.load().drills})
    out = io.StringIO()
    watch.follow_course(root, course_grade, out, threading.Event(), polling=True, clear=False)
    assert out.getvalue().count("every core check passes, moving on to") == len(manifest.load().drills) - 1
    assert "the course is done" in out.getvalue().splitlines()[-1]


def test_usage_errors_exit_2(tmp_path: Path, capsys) -> None:
    from grader import cli

    assert cli.main(["--watch", str(tmp_path / "upload.py")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert cli.main(["--watch", "notebooks/01_uploads.ipynb"]) == 2
    assert "is a lesson, not a drill" in capsys.readouterr().err
    assert cli.main(["--watch", "--drill", "upload"]) == 2
    (tmp_path / "notes.py").write_text("")
    assert cli.main(["--watch", str(tmp_path / "notes.py")]) == 2
    assert cli.main(["--watch", "--format", "json", str(tmp_path / "notes.py")]) == 2


def test_the_real_command_regrades_a_save_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    root = make_workbook(tmp_path, upload=skeleton())
    log = tmp_path / "watch.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "grader", "--watch", "drills/upload.py"], cwd=root,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=interruptible,
                                env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    try:
        wait_for(lambda: "run 1 at" in log.read_text(), timeout=60, what="the first report")
        assert "not started: drills/upload.py is still the skeleton" in log.read_text()
        (root / "drills" / "upload.py").write_text(solution())
        wait_for(lambda: "run 2 at" in log.read_text(), timeout=60, what="the re-grade after a save")
        second = log.read_text().split("run 1 at")[1]
        assert "newly passing: upload.accepts_pdf" in second
        assert "upload done: every core check passes" in second
        warm = warm_processes(proc.pid)
        (root / "drills" / "upload.py").write_text(solution() + "\n# saved again\n")
        wait_for(lambda: "run 3 at" in log.read_text(), timeout=60, what="the re-grade after another save")
        assert "since the last graded run: no check changed" in log.read_text().split("run 2 at")[1]
        assert warm and warm_processes(proc.pid) == warm, "saves are graded by the same warm fork server and sandbox"
        session = descendants(proc.pid)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        assert log.read_text().rstrip().endswith("stopped watching.")
        assert "Traceback" not in log.read_text()
        assert [pid for pid in session if Path(f"/proc/{pid}").exists()] == [], "nothing of the session outlives it"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def warm_processes(pid: int) -> dict[int, str]:
    """The fork server and the sandbox template below `pid`: pid -> which."""
    kinds = {b"grader.engine.forkserver": "fork server", b"grader.engine.apphost": "sandbox template"}
    found = {}
    for child in descendants(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        found.update({child: kind for key, kind in kinds.items() if key in command and b"bwrap" not in command})
    return found


def test_the_real_command_with_no_path_moves_on_to_the_next_drill(tmp_path: Path) -> None:
    first, second = manifest.load().drills[:2]
    root = make_workbook(tmp_path, **{first.name: skeleton(first.name), second.name: skeleton(second.name)})
    log = tmp_path / "watch.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "grader", "--watch"], cwd=root / "drills",
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=interruptible,
                                env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    try:
        wait_for(lambda: "run 1 at" in log.read_text(), timeout=60, what="the first report")
        assert f"not started: {first.name}.py is still the skeleton" in log.read_text()
        (root / "drills" / f"{first.name}.py").write_text(solution(first.name))
        wait_for(lambda: f"watching {second.name}.py" in log.read_text(), timeout=90, what="the move to the next drill")
        moved = log.read_text().split(f"{first.name}: every core check passes, moving on to {second.name}")[1]
        assert f"not started: {second.name}.py is still the skeleton" in moved
        assert f"lesson ../{second.lesson}" in moved, "paths are shown from the folder the learner is in"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        assert "Traceback" not in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
