"""The grading policy and the gradebook it fills: points, roster, BOM, columns never silently dropped."""

from __future__ import annotations

import csv
import io
import json
import subprocess

import pytest

from grader import manifest
from grader.batch import cohort as outputs
from grader.batch import lanes as batch
from grader.batch import policy
from grader.batch.writer import OptionError, load_roster, refuse_dropping_columns, roster_warnings
from tests.cohorts import ROOT, make_cohort
from tests.test_batch import GRADE

DRILLS = ["upload", "errors"]


def report(drill: str, core: list[str], stretch: list[str], status: str | None = None) -> dict:
    """A drill report with the given check outcomes (one character per check: p passed, f failed)."""
    checks = [{"id": f"{drill}.c{i}", "level": "core", "status": "passed" if s == "p" else "failed"}
              for i, s in enumerate(core)]
    checks += [{"id": f"{drill}.s{i}", "level": "stretch", "status": "passed" if s == "p" else "failed"}
               for i, s in enumerate(stretch)]
    if status is None:
        status = "passed" if all(s == "p" for s in core) else "failed"
    return {"drill": drill, "status": status, "checks": checks, "score": sum(c["status"] == "passed" for c in checks)}


def test_by_default_a_passing_drill_outranks_a_failing_one_whatever_the_stretch():
    passing = report("upload", ["p"] * 4, ["f"] * 5)
    failing = report("upload", ["p", "p", "p", "f"], ["p"] * 5)
    assert failing["score"] > passing["score"]  # checks passed: the old total got this wrong
    assert policy.Policy().points(passing).points > policy.Policy().points(failing).points
    assert policy.Policy().points(passing) == policy.Points(core=4, stretch=0, points=4, max_points=4)
    assert policy.Policy().points(failing) == policy.Points(core=3, stretch=5, points=3, max_points=4)


def test_stretch_is_a_bonus_once_the_core_passes():
    done = report("upload", ["p"] * 4, ["p", "f"])
    assert policy.Policy().points(done) == policy.Points(core=4, stretch=1, points=5, max_points=4)


def test_unrun_drills_score_nothing():
    plan = [{"id": "upload.c0", "level": "core", "title": "t", "hint": "h"}]
    for status in (outputs.MISSING, outputs.NOT_STARTED):
        document = outputs.unrun_document("upload", "ada/drills/upload.py", plan, status, "why")
        assert policy.Policy().points(document).points == 0
        assert document["checks"][0]["status"] == "skipped"


def test_a_policy_file_sets_weights_per_level_drill_and_check(tmp_path):
    path = tmp_path / "grading.toml"
    path.write_text('stretch_is_bonus = false\nstretch_needs_core = false\nstretch = 0.5\n'
                    '[drills.upload]\ncore = 2\n[checks]\n"upload.c0" = 10\n')
    rules = policy.load(path, DRILLS)
    failing = report("upload", ["p", "f", "p"], ["p", "p"])
    assert rules.points(failing) == policy.Points(core=12, stretch=1, points=13, max_points=15)
    assert rules.points(report("errors", ["p"], ["p"])) == policy.Points(core=1, stretch=0.5, points=1.5,
                                                                        max_points=1.5)


@pytest.mark.parametrize("text, says", [
    ("core = 'two'", "core = 'two' is not a number"),
    ("cores = 2", "unknown setting 'cores'"),
    ("[drills.uploads]\ncore = 2", "[drills.uploads]: no such drill"),
    ("[checks]\n'upload.x' = -1", "is not a number of points"),
    ("core = ", "is not valid TOML"),
    ("stretch_is_bonus = 1", "is not a boolean"),
])
def test_a_bad_policy_file_says_what_is_wrong(text, says, tmp_path):
    path = tmp_path / "grading.toml"
    path.write_text(text)
    with pytest.raises(policy.PolicyError) as caught:
        policy.load(path, DRILLS)
    assert says in str(caught.value)


def test_a_bad_policy_is_a_usage_error_before_grading(tmp_path, capsys):
    (tmp_path / "subs" / "ada").mkdir(parents=True)
    (tmp_path / "bad.toml").write_text("cores = 1\n")
    assert batch.main([str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--policy",
                       str(tmp_path / "bad.toml")]) == 2
    assert "unknown setting 'cores'" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_roster_columns_and_a_bom(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("\ufeffname,folder,email,student_id,section\n"
                      "Ada L,ada,ada@x.org,1001,A\nNo Show,nos,n@x.org,1003,B\n", encoding="utf-8")
    plan = {d: [{"id": f"{d}.c0", "level": "core", "title": "t", "hint": "h"}] for d in DRILLS}
    reports = {learner: {d: outputs.unrun_document(d, f"{learner}/drills/{d}.py", plan[d], outputs.MISSING, "why")
                         for d in DRILLS} for learner in ("ada", "bo")}
    cohort = outputs.Cohort(DRILLS, plan, reports, roster=load_roster(roster))
    text = outputs.gradebook_csv(cohort, bom=True)
    assert text.startswith("\ufefflearner,upload,errors,total,max_total,status,")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert list(rows[0])[-3:] == ["student_id", "name", "email"]
    assert (rows[0]["student_id"], rows[0]["name"], rows[0]["email"]) == ("1001", "Ada L", "ada@x.org")
    assert (rows[1]["learner"], rows[1]["student_id"]) == ("bo", "")
    assert roster_warnings(cohort) == ["not in the roster (their student_id, name and email are blank): bo",
                                       "in the roster, no submission: nos"]


def test_a_roster_without_a_folder_column_is_refused(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name\n1,Ada\n")
    with pytest.raises(OptionError, match="`folder` column"):
        load_roster(roster)


def test_a_run_that_would_drop_gradebook_columns_is_refused(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"drills": ["upload", "lifespan", "errors"]}))
    refuse_dropping_columns(tmp_path, ["upload", "lifespan", "errors", "jobs"])  # adding is fine
    with pytest.raises(OptionError, match="would drop lifespan, errors: use another --out"):
        refuse_dropping_columns(tmp_path, ["upload"])


def test_batch_with_policy_roster_and_bom(tmp_path):
    subs = make_cohort(tmp_path / "subs", {"ada": {"errors": "solution"},
                                           "bo": {"errors": "mutant:extra_key_in_shape"}})
    (tmp_path / "grading.toml").write_text("[drills.errors]\ncore = 3\n[checks]\n'errors.no_such_check' = 2\n")
    (tmp_path / "roster.csv").write_text("folder,student_id,name,email\nada,1,Ada,a@x\nbo,2,Bo,b@x\n")
    out = tmp_path / "out"
    done = subprocess.run([GRADE, "batch", str(subs), "--out", str(out), "--drills", "errors", "--policy",
                           str(tmp_path / "grading.toml"), "--roster", str(tmp_path / "roster.csv"), "--bom"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "warning: --policy: no check errors.no_such_check in the drills graded" in done.stderr
    raw = (out / "gradebook.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = {r["learner"]: r for r in csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))}
    core = sum(c["level"] == "core" for c in json.loads((out / "results.json").read_text())["ada"]["errors"]["checks"])
    assert rows["ada"]["max_points"] == str(3 * core) and int(rows["ada"]["points"]) >= int(rows["ada"]["max_points"])
    assert int(rows["bo"]["points"]) < int(rows["ada"]["max_points"]) and rows["bo"]["name"] == "Bo"
    assert json.loads((out / "run.json").read_text())["policy"]["drills"] == {"errors": {"core": 3}}
    again = subprocess.run([GRADE, "batch", str(subs), "--out", str(out), "--drills", "upload"],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "would drop errors" in again.stderr
    assert (out / "gradebook.csv").read_bytes() == raw  # left as it was


def test_the_example_policy_and_roster_load():
    rules = policy.load(ROOT / "examples" / "grading.toml", manifest.load().names)
    assert rules.knob("streaming", "core") == 2 and rules.checks == {"upload.unique_job_ids": 3}
    assert rules.unknown_checks({d: [{"id": c.id} for c in manifest.load().drill(d).checks]
                                 for d in manifest.load().names}) == []
    assert load_roster(ROOT / "examples" / "roster.csv")["José, Jr"]["name"] == "José Martí, Jr"
