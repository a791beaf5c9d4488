"""The grading plugin, tested the way pytest plugins are: with `pytester`."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import SOLUTIONS

CHECKS = '''
import pytest
from grader.expect import fail

@pytest.mark.check("upload.hidden_passes", level="stretch", title="A hidden check", hint="h1")
def check_passes(upload, serve):
    with serve(upload.learner) as client:
        assert client.get("/openapi.json").status_code == 200

@pytest.mark.check("upload.hidden_fails", title="Fails on purpose", hint="h2")
def check_fails(upload, serve):
    fail(sent="GET /", got="404", expected="200")

@pytest.mark.check("upload.hidden_learner_crash", title="The app raises", hint="h3")
def check_learner_crash(upload, serve):
    upload.learner.app.add_api_route("/boom", lambda: 1 / 0)
    with serve(upload.learner) as client:
        client.get("/boom")

@pytest.mark.check("upload.hidden_grader_bug", title="The check itself is broken", hint="h4")
def check_grader_bug(upload):
    {}["missing"]

@pytest.mark.check("upload.hidden_skips", title="Skips with a reason", hint="h5")
def check_skips():
    pytest.skip("no browser here")

@pytest.mark.check("streaming.other_drill", title="Not this drill's", hint="h6")
def check_other_drill():
    raise AssertionError("must not run")

def check_without_marker():
    raise AssertionError("must not run")
'''


@pytest.fixture
def graded(pytester: pytest.Pytester, tmp_path):
    """Run CHECKS through the plugin against the upload solution; return the channel records."""
    pytester.makepyfile(check_hidden=CHECKS)
    read_fd, write_fd = os.pipe()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    result = pytester.runpytest_inprocess(
        "-p", "grader.engine.plugin", "-o", "python_files=check_*.py", "-o", "python_functions=check_*",
        f"--docchat-target={SOLUTIONS / 'upload.py'}", "--docchat-drill=upload",
        f"--docchat-channel={write_fd}", f"--docchat-scratch={scratch}", "-p", "no:cacheprovider")
    return result, _drain(read_fd)


def _drain(read_fd: int) -> list[dict]:
    """Every record written so far (the in-process run may still hold the write end open)."""
    os.set_blocking(read_fd, False)
    data = b""
    while True:
        try:
            chunk = os.read(read_fd, 1 << 16)
        except BlockingIOError:
            break
        if not chunk:
            break
        data += chunk
    os.close(read_fd)
    return [json.loads(line) for line in data.decode().splitlines()]


def _results(records):
    return {r["id"]: r for r in records if r["event"] == "result"}


def test_the_check_marker_is_registered(pytester):
    result = pytester.runpytest_inprocess("-p", "grader.engine.plugin", "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.check(id, level=None, title=None, hint=None)*"])


def test_options_are_registered(pytester):
    result = pytester.runpytest_inprocess("-p", "grader.engine.plugin", "--help")
    result.stdout.fnmatch_lines(["*--docchat-target*", "*--docchat-drill*", "*--docchat-channel*"])


def test_plan_lists_only_this_drills_marked_checks_with_their_metadata(graded):
    _, records = graded
    plan = next(r for r in records if r["event"] == "plan")["checks"]
    ids = [c["id"] for c in plan]
    assert "streaming.other_drill" not in ids and len(ids) == 5
    hidden = next(c for c in plan if c["id"] == "upload.hidden_passes")
    assert hidden == {"id": "upload.hidden_passes", "level": "stretch", "title": "A hidden check", "hint": "h1"}
    assert next(c for c in plan if c["id"] == "upload.hidden_fails")["level"] == "core"


def test_every_check_starts_then_reports_once(graded):
    _, records = graded
    started = [r["id"] for r in records if r["event"] == "start"]
    reported = [r["id"] for r in records if r["event"] == "result"]
    assert started == reported and len(set(reported)) == 5


def test_outcomes_are_classified(graded):
    _, records = graded
    results = _results(records)
    assert results["upload.hidden_passes"]["status"] == "passed"
    assert results["upload.hidden_fails"]["status"] == "failed"
    assert "expected: 200" in results["upload.hidden_fails"]["message"]
    crash = results["upload.hidden_learner_crash"]
    assert crash["status"] == "error" and "ZeroDivisionError" in crash["message"]
    assert not crash.get("internal")
    bug = results["upload.hidden_grader_bug"]
    assert bug["status"] == "error" and bug["internal"] and "grader itself failed" in bug["message"]
    skipped = results["upload.hidden_skips"]
    assert skipped["status"] == "skipped" and skipped["message"] == "no browser here"


def test_the_session_lives_in_the_config_stash(pytester, tmp_path):
    pytester.makeconftest('''
from grader.engine.session import SESSION
def pytest_configure(config):
    pass
def pytest_collection_finish(session):
    grading = session.config.stash[SESSION]
    print("DRILL=" + grading.drill)
''')
    pytester.makepyfile(check_none="")
    read_fd, write_fd = os.pipe()
    result = pytester.runpytest_inprocess(
        "-p", "grader.engine.plugin", "-s", f"--docchat-target={SOLUTIONS / 'upload.py'}",
        "--docchat-drill=upload", f"--docchat-channel={write_fd}", f"--docchat-scratch={tmp_path}")
    os.close(read_fd)
    result.stdout.fnmatch_lines(["*DRILL=upload*"])
