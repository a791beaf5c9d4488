"""`batch --shard K/N` and `docchat-grade merge`: shards merged give the bytes of a single run."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from grader.batch import merge, shards
from tests.cohorts import make_cohort
from tests.test_batch import GRADE

COHORT = {
    "ada": {"upload": "solution", "errors": "solution"},
    "bo": {"upload": "skeleton", "errors": "mutant:extra_key_in_shape"},
    "cy": {"upload": "mutant:same_job_id", "errors": "missing"},
    "di": {"upload": "missing", "errors": "syntax"},
    "ed": {"upload": "solution", "errors": "mutant:extra_key_in_shape"},
    "fay": {"upload": "solution", "errors": "solution"},
}
DRILLS = ["--drills", "upload,errors", "--jobs", "2", "--timeout", "5"]


def batch(subs: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([GRADE, "batch", str(subs), "--out", str(out), *DRILLS, *extra],
                          capture_output=True, text=True, timeout=300)


def files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != "run.json" and not p.relative_to(out).parts[0].startswith(".")}


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    subs = make_cohort(root / "subs", COHORT)
    assert batch(subs, root / "single").returncode == 1
    for k in (1, 2):
        done = batch(subs, root / f"part{k}", "--shard", f"{k}/2")
        assert done.returncode in (0, 1), done.stderr
    return root


def test_the_split_is_stable_and_covers_every_learner_once():
    for n in (1, 2, 3, 7):
        owners = {learner: [k for k in range(1, n + 1) if shards.mine(learner, k, n)] for learner in COHORT}
        assert all(len(ks) == 1 for ks in owners.values())
    assert {learner for learner in COHORT if shards.mine(learner, 1, 2)} not in (set(), set(COHORT))


def without_times(name: str, data: bytes) -> bytes:
    """junit.xml, the Gradescope and Classroom files carry measured durations, which differ between gradings."""
    if name == "junit.xml":
        return re.sub(rb' time="[0-9.]+"', b"", data)
    if name.startswith("gradescope/"):
        return json.dumps({**json.loads(data), "execution_time": None}).encode()
    if name.startswith("classroom/"):
        data = json.loads(data)
        return json.dumps({**data, "tests": [{**t, "execution_time": None} for t in data["tests"]]}).encode()
    return data


def test_shards_merged_equal_a_single_run_byte_for_byte(sharded, tmp_path):
    done = subprocess.run([GRADE, "merge", str(sharded / "part1"), str(sharded / "part2"), "--out",
                           str(sharded / "merged")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    single, merged = files(sharded / "single"), files(sharded / "merged")
    assert sorted(merged) == sorted(single) and "cohort.html" in single and "feedback/ada.md" in single
    for name in single:  # a separate grading: the same bytes but for the measured durations
        assert without_times(name, merged[name]) == without_times(name, single[name]), name
    # the same grades (the shards' saved ones, which merge keeps) through a single run: every byte
    shutil.copytree(sharded / "merged" / ".state", tmp_path / "again" / ".state")
    again = batch(sharded / "subs", tmp_path / "again")
    assert json.loads((tmp_path / "again" / "run.json").read_text())["grades"]["graded"] == 0, again.stderr
    assert files(tmp_path / "again") == merged
    run = json.loads((sharded / "merged" / "run.json").read_text())
    assert [s["shard"] for s in run["shards"]] == ["1/2", "2/2"]
    assert run["grades"]["total"] == 12 and sorted(run["timings"]) == sorted(COHORT)


def test_merge_refuses_shards_graded_differently(sharded, tmp_path):
    other = tmp_path / "other"
    subprocess.run(["cp", "-r", str(sharded / "part2"), str(other)], check=True)
    run = json.loads((other / "run.json").read_text())
    run["versions"]["fastapi"] = "0.0.1"
    (other / "run.json").write_text(json.dumps(run))
    assert merge.main([str(sharded / "part1"), str(other), "--out", str(tmp_path / "m")]) == 2
    assert merge.main([str(sharded / "part1"), "--out", str(tmp_path / "m")]) == 2  # 2/2 is missing
    assert merge.main([str(sharded / "part1"), str(sharded / "part1"), "--out", str(tmp_path / "m")]) == 2


def test_a_bad_shard_is_a_usage_error(tmp_path, capsys):
    from grader.batch import lanes
    (tmp_path / "subs" / "ada").mkdir(parents=True)
    assert lanes.main([str(tmp_path / "subs"), "--out", str(tmp_path / "o"), "--shard", "3/2"]) == 2
    assert "K must be between 1 and N" in capsys.readouterr().err
