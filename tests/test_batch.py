"""`docchat-grade batch`: a generated cohort with known verdicts, every output, resuming, determinism.

The cohort mixes correct, buggy (mutants), unstarted (skeletons), missing and hostile files
(hangs, crashes, exits, memory hogs, syntax errors, a detached process); it is graded once per
module with a short per-check limit, and the tests read what that run wrote.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from grader import manifest
from grader.batch import lanes as batch
from grader.engine import confine
from grader.report import CheckResult, Report
from grader.batch.progress import Progress
from tests.cohorts import ROOT, make_cohort, verdict, write_learner
from tests.conftest import interruptible, running_with
from tests.test_formats import GRADESCOPE_SCHEMA, counts, outcomes

GRADE = str(Path(sys.executable).with_name("docchat-grade"))
DRILLS = ["upload", "errors"]
MARKER = f"docchat-batch-detached-{uuid.uuid4().hex}"
COHORT = {
    "ada": {"upload": "solution", "errors": "solution"},
    "bo": {"upload": "skeleton", "errors": "skeleton"},
    "cy": {"upload": "mutant:same_job_id", "errors": "mutant:extra_key_in_shape"},
    "di": {"upload": "missing", "errors": "solution"},
    "ed": {"upload": "hang", "errors": "syntax"},
    "fay": {"upload": "crash", "errors": "exit"},
    "gus": {"upload": "detached", "errors": "memory"},
    "hal": {"upload": "missing", "errors": "missing"},
}
CAUGHT = {("cy", "upload"): "upload.unique_job_ids", ("cy", "errors"): "errors.not_found_shape"}
LEARNER_STATUS = {"ada": "passed", "bo": "not started", "cy": "failed", "di": "failed", "ed": "error",
                  "fay": "error", "gus": "error", "hal": "missing"}
FAST = ["--timeout", "5", "--jobs", "2"]  # short enough for the hangs, long enough for a busy machine
TAG = "DOCCHAT_TEST_BATCH"


def run_batch(submissions: Path, out: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a batch; `.tag` is in the environment of every process it started (see `left_running`)."""
    tag = uuid.uuid4().hex
    done = subprocess.run([GRADE, "batch", str(submissions), "--out", str(out), "--drills", ",".join(DRILLS),
                           *FAST, *extra], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {}), TAG: tag})
    done.tag = tag
    return done


def left_running(tag: str, wait_s: float = 5.0) -> list[int]:
    """Processes (fork servers, grading processes, what learners started) of the run tagged `tag`."""
    needle = f"{TAG}={tag}".encode()
    deadline = time.monotonic() + wait_s
    while True:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and needle in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                pass
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    return make_cohort(tmp_path_factory.mktemp("cohort") / "submissions", COHORT, marker=MARKER)


@pytest.fixture(scope="module")
def graded(cohort, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("out")
    done = run_batch(cohort, out)
    return out, done


def results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def test_every_drill_file_gets_its_known_verdict(graded):
    out, done = graded
    found = results(out)
    assert sorted(found) == sorted(COHORT)
    for learner, kinds in COHORT.items():
        for drill, kind in kinds.items():
            report = found[learner][drill]
            assert report["status"] == verdict(kind), (learner, drill, report["error"])
            assert report["target"] == f"{learner}/drills/{drill}.py"
    for (learner, drill), check_id in CAUGHT.items():
        checks = {c["id"]: c for c in found[learner][drill]["checks"]}
        assert checks[check_id]["status"] == "failed" and checks[check_id]["message"]
    assert done.returncode == 1, done.stderr


def test_hostile_code_costs_only_its_own_row(graded):
    out, _ = graded
    found = results(out)
    assert "took longer than 5 s" in found["ed"]["upload"]["error"]
    assert "syntax error" in found["ed"]["errors"]["error"]
    assert "ended while importing" in found["fay"]["errors"]["error"]
    assert "more than 1024 MiB" in found["gus"]["errors"]["error"]
    crashed = found["fay"]["upload"]["checks"][0]
    assert crashed["status"] == "error" and "ended while this check ran" in crashed["message"]
    assert found["gus"]["upload"]["status"] == "passed"
    assert all(r["status"] == "passed" for r in found["ada"].values())


def test_nothing_the_run_or_a_learner_started_outlives_it(graded):
    _, done = graded
    assert left_running(done.tag) == []
    deadline = time.monotonic() + 5
    while running_with(MARKER) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running_with(MARKER) == []


def test_code_that_kills_its_parent_ends_its_own_grade_not_the_batch(tmp_path):
    """The parent of the learner's process is its sandbox's app host template: killing it ends
    only that learner's grade (each later check says the sandbox stopped).

    Which checks finish before the kill lands is a race, so this learner is not in COHORT
    (whose results must be byte-identical from run to run).
    """
    subs = make_cohort(tmp_path / "subs", {"ivy": {"errors": "killparent"}, "joe": {"errors": "solution"}})
    done = subprocess.run([GRADE, "batch", str(subs), "--out", str(tmp_path / "out"), "--drills", "errors",
                           "--jobs", "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    found = results(tmp_path / "out")
    assert found["ivy"]["errors"]["status"] == "failed"
    messages = [c["message"] for c in found["ivy"]["errors"]["checks"]]
    if confine.available() and confine.landlock_abi() >= 6:  # signals scoped to the app host's own domain
        assert any("PermissionError" in m for m in messages), messages
    else:
        assert any("sandbox that runs your code stopped" in m for m in messages), messages
    assert found["joe"]["errors"]["status"] == "passed"


def test_gradebook_has_the_documented_columns_and_one_row_per_learner(graded):
    out, _ = graded
    rows = list(csv.DictReader((out / "gradebook.csv").open()))
    assert list(rows[0])[:6] == ["learner", *DRILLS, "total", "max_total", "status"]  # the historical ones first
    assert list(rows[0])[6:] == [f"{d}_{c}" for d in DRILLS for c in ("status", "core", "stretch", "points")] + [
        "points", "max_points"]
    assert [r["learner"] for r in rows] == sorted(COHORT)
    most = sum(len(manifest.load().drill(d).checks) for d in DRILLS)
    found = results(out)
    for row in rows:
        reports = found[row["learner"]]
        assert [int(row[d]) for d in DRILLS] == [reports[d]["score"] for d in DRILLS]
        assert int(row["total"]) == sum(reports[d]["score"] for d in DRILLS)
        assert int(row["max_total"]) == most
        assert row["status"] == LEARNER_STATUS[row["learner"]]
        assert [row[f"{d}_status"] for d in DRILLS] == [reports[d]["status"] for d in DRILLS]
        assert float(row["points"]) == sum(float(row[f"{d}_points"]) for d in DRILLS)
    core = sum(c.level == "core" for d in DRILLS for c in manifest.load().drill(d).checks)
    assert {r["max_points"] for r in rows} == {str(core)}  # by default the core carries the grade
    by = {r["learner"]: r for r in rows}
    assert by["ada"]["points"] == str(most) and by["bo"]["points"] == "0"  # bo: untouched skeletons


def test_results_hold_schema_1_reports_without_run_specific_values(graded):
    out, _ = graded
    text = (out / "results.json").read_text()
    assert "/tmp" not in text and str(ROOT) not in text
    for learner, drills in json.loads(text).items():
        assert list(drills) == DRILLS
        for report in drills.values():
            optional = {"not_started", "isolation"}  # added to schema 1; the batch's own reports may omit them
            assert set(report) - optional == {"schema", "drill", "target", "status", "score", "max_score", "checks",
                                              "error"}
            assert report["score"] == sum(c["status"] == "passed" for c in report["checks"])
            for check in report["checks"]:
                assert set(check) == {"id", "level", "title", "status", "message", "hint", "duration_s"}
                assert check["duration_s"] == 0.0


def test_a_missing_drill_scores_zero_with_the_status_missing(graded):
    out, _ = graded
    report = results(out)["di"]["upload"]
    assert (report["status"], report["score"]) == ("missing", 0)
    assert report["max_score"] == len(manifest.load().drill("upload").checks)
    assert "no upload.py in this submission" in report["error"]
    assert all(c["status"] == "skipped" for c in report["checks"])  # not run, and not an error


def test_run_json_holds_the_times_and_versions(graded):
    out, _ = graded
    run = json.loads((out / "run.json").read_text())
    assert run["grades"] == {"total": 16, "graded": 11, "missing": 3, "reused": 0, "not_started": 2}
    assert run["timings"]["hal"]["upload"]["reused"] is False  # missing: neither graded nor reused
    assert run["drills"] == DRILLS and run["jobs"] == 2 and run["versions"]["fastapi"]
    assert run["timings"]["ada"]["upload"]["seconds"] > 0
    assert set(run["timings"]["ada"]["upload"]["checks"]) == {c.id for c in manifest.load().drill("upload").checks}


def test_feedback_per_learner(graded):
    out, _ = graded
    assert sorted(p.stem for p in (out / "feedback").glob("*.md")) == sorted(COHORT)
    cy = (out / "feedback" / "cy.md").read_text()
    assert "# Feedback for cy" in cy and "`upload.unique_job_ids`" in cy and "Hint:" in cy
    assert "Could not grade this file" in (out / "feedback" / "ed.md").read_text()


def test_cohort_report_lists_every_check_most_failed_first(graded):
    out, _ = graded
    text = (out / "cohort.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    ids = [row.split("`")[1] for row in rows]
    assert sorted(ids) == sorted(c.id for d in DRILLS for c in manifest.load().drill(d).checks)
    rates = [int(row.split("|")[5].strip().rstrip("%")) for row in rows]
    assert rates == sorted(rates)
    assert "| upload | 5/8 |" in text  # handed in: not bo's untouched skeleton, not di's or hal's missing file


def test_progress_is_a_line_per_learner_when_not_on_a_terminal(graded):
    _, done = graded
    lines = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert len(lines) == len(COHORT)
    assert any("ada: 23/23 passed" in line for line in lines)


def test_batch_junit_counts_match_the_results(graded):
    out, _ = graded
    root = ET.parse(out / "junit.xml").getroot()
    results = json.loads((out / "results.json").read_text())
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert sorted(suites) == sorted(f"{l}/{d}" for l in results for d in results[l])
    assert counts(root) == outcomes(root.findall("testsuite/testcase"))
    for learner, reports in results.items():
        for drill, report in reports.items():
            statuses = [c["status"] for c in report["checks"]]
            assert counts(suites[f"{learner}/{drill}"]) == {
                "tests": len(statuses), "failures": statuses.count("failed"),
                "errors": statuses.count("error"), "skipped": statuses.count("skipped")}


def test_batch_gradescope_files_follow_the_schema(graded):
    out, _ = graded
    for learner in COHORT:
        data = json.loads((out / "gradescope" / f"{learner}.json").read_text())
        jsonschema.validate(data, GRADESCOPE_SCHEMA)
        row = next(r for r in csv.DictReader((out / "gradebook.csv").open()) if r["learner"] == learner)
        assert (data["score"], data["max_score"]) == (int(row["points"]), int(row["max_points"]))
        assert [t["number"] for t in data["tests"]][:2] == ["1.1", "1.2"]


def test_same_submissions_give_identical_gradebook_and_results(cohort, graded, tmp_path):
    first, _ = graded
    run_batch(cohort, tmp_path / "again")
    for name in ("gradebook.csv", "results.json"):
        assert (tmp_path / "again" / name).read_bytes() == (first / name).read_bytes(), name


def test_a_rerun_reuses_unchanged_grades_and_regrades_changed_files(tmp_path):
    subs = make_cohort(tmp_path / "subs", {"ada": {"upload": "skeleton", "errors": "solution"},
                                           "bo": {"upload": "skeleton", "errors": "skeleton"},
                                           "gus": {"upload": "missing", "errors": "solution"}})
    out = tmp_path / "out"
    run_batch(subs, out)
    import shutil
    shutil.rmtree(subs / "gus")  # gone from the class
    write_learner(subs, "bo", {"upload": "skeleton", "errors": "solution"})  # bo finished errors
    done = run_batch(subs, out)
    run = json.loads((out / "run.json").read_text())
    assert run["grades"]["graded"] == 1, done.stderr  # only bo's new errors.py
    assert run["timings"]["bo"]["errors"]["reused"] is False
    assert run["timings"]["ada"]["errors"]["reused"] is True
    assert run["timings"]["ada"]["upload"]["reused"] is False  # the skeleton: not started, never graded
    rows = list(csv.DictReader((out / "gradebook.csv").open()))
    assert [r["learner"] for r in rows] == ["ada", "bo"]
    assert results(out)["bo"]["errors"]["status"] == "passed"
    assert not (out / "feedback" / "gus.md").exists() and not (out / "gradescope" / "gus.json").exists()
    assert "(unchanged)" in done.stderr.splitlines()[1]  # ada: nothing graded again


def _state_entries(out: Path) -> int:
    return len(list((out / ".state").glob("*/*.json"))) if (out / ".state").is_dir() else 0


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["killed", "ctrl-c"])
def test_an_interrupted_run_resumes_without_duplicate_or_lost_rows(how, tmp_path):
    learners = {f"l{n}": {"errors": "solution"} for n in range(6)}
    subs = make_cohort(tmp_path / "subs", learners)
    out = tmp_path / "out"
    tag = uuid.uuid4().hex
    proc = subprocess.Popen([GRADE, "batch", str(subs), "--out", str(out), "--drills", "errors", "--jobs", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, TAG: tag},
                            preexec_fn=interruptible)
    deadline = time.monotonic() + 120
    while _state_entries(out) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(how)
    _, err = proc.communicate(timeout=60)
    saved = _state_entries(out)
    assert 2 <= saved < 6
    if how == signal.SIGINT:
        assert proc.returncode == batch.EXIT_INTERRUPTED and "run the same command again" in err
    assert left_running(tag) == []  # the fork server and its grading process ended with the run
    done = subprocess.run([GRADE, "batch", str(subs), "--out", str(out), "--drills", "errors", "--jobs", "2"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    run = json.loads((out / "run.json").read_text())
    assert run["grades"]["reused"] == saved and run["grades"]["graded"] == 6 - saved
    rows = list(csv.DictReader((out / "gradebook.csv").open()))
    assert [r["learner"] for r in rows] == sorted(learners)
    assert all(r["status"] == "passed" for r in rows)


def test_hidden_checks_join_their_drill_only(cohort, tmp_path):
    extra = tmp_path / "hidden"
    extra.mkdir()
    example = ROOT / "examples" / "hidden_checks" / "check_upload_hidden.py"
    (extra / example.name).write_text(example.read_text())
    (extra / "check_lifespan_hidden.py").write_text(
        "import pytest\n\n@pytest.mark.check('lifespan.hidden_never', level='core', title='t', hint='h')\n"
        "def check_never():\n    raise AssertionError('not for this batch')\n")
    (extra / "helpers.py").write_text("raise RuntimeError('not a check file: never loaded')\n")
    subs = tmp_path / "subs"
    make_cohort(subs, {"ada": COHORT["ada"], "bo": COHORT["bo"], "di": COHORT["di"]})
    started = subs / "bo" / "drills" / "upload.py"  # bo began: no longer the untouched skeleton
    started.write_text(started.read_text() + "\n# started\n")
    done = run_batch(subs, tmp_path / "out", "--checks", str(extra))
    found = results(tmp_path / "out")
    ids = {d: [c["id"] for c in found["ada"][d]["checks"]] for d in DRILLS}
    assert ids["upload"][-2:] == ["upload.hidden_same_pdf_twice", "upload.hidden_unicode_filename"]
    assert not any("hidden" in i for i in ids["errors"])
    hidden = {c["id"]: c for c in found["bo"]["upload"]["checks"]}["upload.hidden_same_pdf_twice"]
    assert (hidden["level"], hidden["status"]) == ("core", "failed")
    assert hidden["title"] == "The same PDF uploaded twice is saved as two files" and hidden["hint"]
    assert found["ada"]["upload"]["status"] == "passed"
    assert found["di"]["upload"]["max_score"] == found["ada"]["upload"]["max_score"] == 16  # missing too
    assert "†" in (tmp_path / "out" / "cohort.md").read_text()
    assert done.returncode == 1, done.stderr
    shown = json.loads((tmp_path / "out" / "gradescope" / "ada.json").read_text())
    assert shown["output"].splitlines()[:2] == ["docchat-grade: passed, 23/23 checks pass", "upload: passed (14/14)"]
    assert "16" not in shown["output"]  # the visible output never counts the hidden checks


def test_a_hidden_check_that_names_no_drill_is_a_warning_or_with_strict_an_error(cohort, tmp_path, capsys):
    extra = tmp_path / "hidden"
    extra.mkdir()
    (extra / "check_typo.py").write_text(
        "import pytest\ncheck = pytest.mark.check\n\n@check('wrongprefix.thing', level='core', title='t', hint='h')\n"
        "def check_thing():\n    pass\n")
    assert batch.main([str(cohort), "--out", str(tmp_path / "out"), "--checks", str(extra), "--strict"]) == 2
    err = capsys.readouterr().err
    assert "check_typo.py:4: the hidden check 'wrongprefix.thing' names no drill" in err and "--strict" in err
    assert not (tmp_path / "out").exists()  # nothing graded


def test_a_hidden_check_file_that_fails_to_import_shows_its_traceback(cohort, tmp_path):
    extra = tmp_path / "hidden"
    extra.mkdir()
    (extra / "check_upload_boom.py").write_text("import no_such_module_for_docchat\n")
    done = run_batch(cohort, tmp_path / "out", "--checks", str(extra))
    assert done.returncode == 2
    assert "Traceback" in done.stderr and "no_such_module_for_docchat" in done.stderr, done.stderr


def test_a_broken_hidden_check_file_is_a_usage_error(cohort, tmp_path):
    extra = tmp_path / "hidden"
    extra.mkdir()
    (extra / "check_upload_broken.py").write_text("def check_x(:\n")
    done = run_batch(cohort, tmp_path / "out", "--checks", str(extra))
    assert done.returncode == 2 and "check_upload_broken.py has a syntax error on line 1" in done.stderr


@pytest.mark.parametrize("args, says", [
    (["/no/such/folder", "--out", "x"], "no such folder"),
    (["{subs}", "--out", "{out}", "--drills", "uploads"], "unknown drill uploads"),
    (["{subs}", "--out", "{out}", "--checks", "/no/such/hidden"], "no such folder"),
    (["{empty}", "--out", "{out}"], "no learner folders"),
    (["{subs}", "--out", "{subs}"], "must not be SUBMISSIONS_DIR"),
    (["{subs}"], "--out"),
])
def test_usage_errors_exit_2(args, says, cohort, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    argv = [a.format(subs=cohort, out=tmp_path / "out", empty=tmp_path / "empty") for a in args]
    assert batch.main(argv) == 2
    assert says in capsys.readouterr().err


def test_github_actions_get_annotations_and_a_summary(cohort, tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    done = run_batch(cohort, tmp_path / "out", env={
        "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKSPACE": str(cohort)})
    errors = [line for line in done.stdout.splitlines() if line.startswith("::error ")]
    files = {line.split("file=", 1)[1].split(",", 1)[0] for line in errors}
    assert "cy/drills/upload.py" in files and "ed/drills/errors.py" in files
    assert not any(f.startswith(("ada/", "hal/")) for f in files)  # passed, or nothing handed in
    assert all(",line=1,title=" in line and "\n" not in line for line in errors)
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "| learner | upload | errors | total | status |" in text
    assert "| ada | 14/14 passed | 9/9 passed | 23/23 | passed |" in text


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal():
    screen = Terminal()
    progress = Progress(screen, {"ada": 2, "bo": 1}, DRILLS)
    progress.say("grading 3 files")
    for learner, drill, status in (("ada", "upload", "passed"), ("bo", "upload", "failed"), ("ada", "errors", "passed")):
        progress.finished(learner, {"drill": drill, "status": status, "score": 1, "max_score": 1})
    text = screen.getvalue()
    assert text.count("\r") >= 3 and "3/3 grades · 2/2 learners" in text and text.endswith("\n")
    assert "ada:" not in text  # no per-learner lines on a terminal


def test_reports_lose_what_differs_from_run_to_run(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    runner = batch.Batch(subs, tmp_path / "out", DRILLS, [], 1, batch.Limits())
    message = (f"opened http://127.0.0.1:52453/?q=x; saved {subs.resolve()}/ada/uploads/a.pdf and "
               "/tmp/docchat-grade-k2j3h4l5/check_saves_bytes-ab12cd34/uploads/b.pdf")
    report = Report("upload", "ada/drills/upload.py", checks=[
        CheckResult("upload.saves_bytes", "core", "t", "failed", message, "h", 0.1)])
    assert runner.normalize(report).checks[0].message == (
        "opened http://127.0.0.1:<port>/?q=x; saved ada/uploads/a.pdf and <scratch>/check_saves_bytes/uploads/b.pdf")


def test_a_lane_that_cannot_be_tidied_is_replaced_not_the_end_of_the_batch(tmp_path, monkeypatch):
    """Emptying a lane after a grade failing (its folder gone, say) costs that lane, not the
    batch: the grade's verdict stands and the next grade gets a fresh lane."""
    from grader.batch import lanes
    from grader.engine import isolation

    if isolation.available() == ("none",):
        pytest.skip("no sandbox on this machine: a batch has no lanes")
    made, real_after = [], isolation.Lane.after_grade
    real_init = isolation.Lane.__init__

    def init(self, *args, **kwargs):
        made.append(self)
        real_init(self, *args, **kwargs)

    def after_grade(self):
        if self is made[0]:
            raise FileNotFoundError("the lane's folder is gone")
        real_after(self)

    monkeypatch.setattr(isolation.Lane, "__init__", init)
    monkeypatch.setattr(isolation.Lane, "after_grade", after_grade)
    for learner in ("ada", "bo"):
        (tmp_path / "in" / learner / "drills").mkdir(parents=True)
        (tmp_path / "in" / learner / "drills" / "errors.py").write_bytes((ROOT / "solutions" / "errors.py").read_bytes())
    code = lanes.main([str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--drills", "errors", "--jobs", "1"])
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert code == 0 and {results[l]["errors"]["status"] for l in ("ada", "bo")} == {"passed"}
    assert len(made) == 2 and not made[0].folder.exists(), "the untidy lane closed, a fresh one made"
