"""The CI templates instructors copy: the GitHub Classroom workflow and the Gradescope autograder.

Their grading scripts run here, against a sample submission in a temporary folder, with
docchat-grade from this checkout; nothing is installed and nothing is written to /autograder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT, SOLUTIONS
from tests.test_formats import GRADESCOPE_SCHEMA

TEMPLATES = ROOT / "templates"
BIN = str(Path(sys.executable).parent)
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
ENV.pop("GITHUB_ACTIONS", None)


def workflow() -> dict:
    return yaml.safe_load((TEMPLATES / "github-classroom.yml").read_text())


def step(name: str) -> dict:
    return next(s for s in workflow()["jobs"]["grade"]["steps"] if s.get("name") == name)


def test_the_workflow_parses_and_grades_on_every_push():
    data = workflow()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "push" in triggers
    uses = [s.get("uses", "") for s in data["jobs"]["grade"]["steps"]]
    assert uses[0].startswith("actions/checkout@") and any(u.startswith("actions/setup-python@") for u in uses)
    assert "docchat-grade" in step("Grade")["run"] and "batch" in step("Grade")["run"]
    assert "pip install" in step("Install docchat-grade")["run"]


def sample_workbook(root: Path, drills: dict[str, Path]) -> Path:
    (root / "drills").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'my-workbook'\n")
    for drill, source in drills.items():
        shutil.copy(source, root / "drills" / f"{drill}.py")
    return root


def test_the_workflow_grading_step_runs_against_a_learner_repository(tmp_path):
    workspace = sample_workbook(tmp_path / "repo", {"errors": SOLUTIONS / "errors.py",
                                                   "upload": ROOT / "drills" / "upload.py"})
    summary = tmp_path / "summary.md"
    env = {**ENV, **workflow()["env"], "DOCCHAT_DRILLS": "upload,errors", "GITHUB_ACTIONS": "true",
           "GITHUB_WORKSPACE": str(workspace), "GITHUB_ACTOR": "ada", "RUNNER_TEMP": str(tmp_path / "runner"),
           "GITHUB_STEP_SUMMARY": str(summary)}
    (tmp_path / "runner").mkdir()
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step("Grade")["run"]],
                          cwd=workspace, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr  # the skeleton upload does not pass yet
    annotations = [line for line in done.stdout.splitlines() if line.startswith("::error ")]
    assert len(annotations) == 1 and annotations[0].startswith("::error file=drills/upload.py,line=1,")
    assert "| ada | " in summary.read_text()
    results = tmp_path / "runner" / "docchat-results"
    assert (results / "gradebook.csv").read_text().splitlines()[1].startswith("ada,")


def autograder_env(tmp_path: Path, submission: Path, **more: str) -> dict:
    return {**ENV, "AUTOGRADER_DIR": str(tmp_path / "autograder"), "SUBMISSION_DIR": str(submission),
            "RESULTS_DIR": str(tmp_path / "results"), "DOCCHAT_GRADE": str(Path(BIN) / "docchat-grade"),
            "DOCCHAT_DRILLS": "errors", **more}


def run_autograder(env: dict) -> dict:
    script = TEMPLATES / "gradescope" / "run_autograder"
    done = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads((Path(env["RESULTS_DIR"]) / "results.json").read_text())


@pytest.mark.parametrize("layout", ["workbook", "files"])
def test_run_autograder_writes_gradescope_results_for_a_submission(layout, tmp_path):
    submission = tmp_path / "submission"
    if layout == "workbook":
        sample_workbook(submission, {"errors": SOLUTIONS / "errors.py"})
    else:
        submission.mkdir()
        shutil.copy(SOLUTIONS / "errors.py", submission / "errors.py")
    results = run_autograder(autograder_env(tmp_path, submission))
    jsonschema.validate(results, GRADESCOPE_SCHEMA)
    assert results["score"] == results["max_score"] == len(results["tests"]) == 9


def test_run_autograder_runs_the_hidden_checks_in_the_zip(tmp_path):
    submission = sample_workbook(tmp_path / "submission", {"upload": SOLUTIONS / "upload.py"})
    hidden = tmp_path / "autograder" / "source" / "hidden_checks"
    shutil.copytree(ROOT / "examples" / "hidden_checks", hidden)
    results = run_autograder(autograder_env(tmp_path, submission, DOCCHAT_DRILLS="upload"))
    names = {t["name"].split(":")[0]: t for t in results["tests"]}
    assert names["upload.hidden_same_pdf_twice"]["visibility"] == "after_published"
    assert results["score"] == results["max_score"] == 16


def test_run_autograder_says_so_when_the_grader_cannot_run(tmp_path):
    submission = sample_workbook(tmp_path / "submission", {"errors": SOLUTIONS / "errors.py"})
    results = run_autograder(autograder_env(tmp_path, submission, DOCCHAT_GRADE="/bin/false"))
    jsonschema.validate(results, GRADESCOPE_SCHEMA)
    assert results["score"] == 0 and "could not grade this submission" in results["output"]


def test_setup_sh_installs_the_zips_source_into_a_venv(tmp_path):
    script = TEMPLATES / "gradescope" / "setup.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    env = {**ENV, "DRY_RUN": "1", "AUTOGRADER_DIR": str(tmp_path)}
    done = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    commands = done.stdout.splitlines()
    assert any(c.endswith(f"-m venv {tmp_path}/venv") for c in commands)
    assert f"+ {tmp_path}/venv/bin/python -m pip install {tmp_path}/source" in commands
    assert os.access(TEMPLATES / "gradescope" / "run_autograder", os.X_OK)
