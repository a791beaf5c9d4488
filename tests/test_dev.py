"""`docchat-grade dev check`: holds on this workbook, and each rule fails on a copy broken for it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from grader import dev, skeletons
from grader.cli import main
from tests.conftest import ROOT

PARTS = ("grader/manifest.toml", "grader/skeletons.json", "grader/checks", "grader/fakes", "grader/quiz", "drills",
         "solutions", "notebooks", "tests/mutants", "docs/contract.md", "README.md")


def test_the_workbook_is_consistent(capsys) -> None:
    assert main(["dev", "check"]) == 0, capsys.readouterr().out
    assert "the workbook is consistent" in capsys.readouterr().out


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the parts of the source tree the rules read."""
    for part in PARTS:
        source, dest = ROOT / part, tmp_path / part
        dest.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copyfile)(source, dest)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} in {path}"
    path.write_text(text.replace(old, new))


def renamed_check(root: Path) -> None:
    edit(root / "grader/checks/check_docchat.py", '@check("docchat.survives_restart")', '@check("docchat.restarts")')


def removed_todos(root: Path) -> None:
    path = root / "drills/upload.py"
    path.write_text(path.read_text().replace("# TODO:", "# Done:"))
    prints = json.loads((root / "grader/skeletons.json").read_text())
    prints["upload"] = skeletons.fingerprint(path.read_bytes())  # recorded: only the TODOs are wrong
    (root / "grader/skeletons.json").write_text(json.dumps(prints))


def removed_seam(root: Path) -> None:
    path = root / "solutions/docchat.py"
    path.write_text(re.sub(r"^MAX_BYTES = .*$", "LIMIT = 1", path.read_text(), count=1, flags=re.M))


def todo_in_solution(root: Path) -> None:
    path = root / "solutions/errors.py"
    path.write_text(path.read_text() + "\n# TODO: tidy up\n")


def renamed_heading(root: Path) -> None:
    edit(root / "notebooks/06_docchat.ipynb", "## 6. Delete, and one error envelope", "## 6. Deleting")


def removed_quiz_entry(root: Path) -> None:
    path = root / "grader/quiz/06_docchat.json"
    path.write_text(json.dumps({}))


def removed_fakes(root: Path) -> None:
    (root / "grader/fakes/lifespan.py").unlink()


def removed_mutant(root: Path) -> None:
    path = root / "tests/mutants/docchat.py"
    text = path.read_text()
    start = text.index('    Mutant("queue_in_memory"')
    path.write_text(text[:start] + "]\n")


def edited_skeleton(root: Path) -> None:
    path = root / "drills/streaming.py"
    path.write_text(path.read_text() + "\nEXTRA = 1\n")


def removed_contract_row(root: Path) -> None:
    path = root / "docs/contract.md"
    path.write_text("".join(line for line in path.read_text().splitlines(keepends=True)
                            if not line.startswith("| docchat.delete_removes |")))


# how the copy is broken -> the rule that must fail, and words its problem must hold
BROKEN = {
    renamed_check: ("ids", ["docchat.survives_restart: in the manifest", "docchat.restarts: @check"]),
    removed_todos: ("skeleton", ["drills/upload.py: no `# TODO:`"]),
    removed_seam: ("solution", ["solutions/docchat.py: the seam MAX_BYTES"]),
    todo_in_solution: ("solution", ["solutions/errors.py: a solution holds no `# TODO`"]),
    renamed_heading: ("lesson", ["docchat.delete_removes: its lesson", "docchat.rejects_non_pdf_415: its lesson"]),
    removed_quiz_entry: ("lesson", ["notebooks/06_docchat.ipynb: asks the quiz question docchat.q1"]),
    removed_fakes: ("fakes", ["grader/fakes/lifespan.py: missing"]),
    removed_mutant: ("mutants", ["docchat.survives_restart: no mutant"]),
    edited_skeleton: ("fingerprints", ["streaming's fingerprint"]),
    removed_contract_row: ("docs", ["docs/contract.md: no row for docchat.delete_removes"]),
}


@pytest.mark.parametrize("breaks", BROKEN, ids=[f.__name__ for f in BROKEN])
def test_each_rule_fails_on_a_copy_broken_for_it(tree: Path, breaks) -> None:
    assert all(not said for said in dev.problems(tree).values()), "the unbroken copy is consistent"
    breaks(tree)
    rule, words = BROKEN[breaks]
    found = dev.problems(tree)
    assert {name for name, said in found.items() if said} == {rule}
    assert all(any(w in problem for problem in found[rule]) for w in words), found[rule]


def test_a_module_of_no_drill_is_named(tree: Path) -> None:
    shutil.copyfile(tree / "grader/fakes/upload.py", tree / "grader/fakes/uploads.py")
    assert dev.problems(tree)["ids"] == ["grader/fakes/uploads.py: no drill 'uploads' in the manifest"]


def test_a_quiz_bank_of_no_lesson_is_named(tree: Path) -> None:
    shutil.copyfile(tree / "grader/quiz/01_uploads.json", tree / "grader/quiz/07_more.json")
    assert dev.problems(tree)["lesson"] == ["grader/quiz/07_more.json: no drill's lesson is notebooks/07_more.ipynb"]


def test_the_command_exits_1_and_says_what_is_wrong(tree: Path, capsys) -> None:
    removed_fakes(tree)
    assert main(["dev", "check", "--root", str(tree)]) == 1
    out = capsys.readouterr().out
    assert "✗ fakes\n    grader/fakes/lifespan.py: missing" in out and "1 problem(s)" in out


def test_every_preloaded_module_is_installed():
    """A `preload` name that does not import is skipped by the sandbox without a word: say so here."""
    import importlib.util

    from grader import manifest

    names = manifest.load().preload(*manifest.load().names)
    assert names, "no drill preloads anything: the capstone preloads pypdf and Huey"
    assert [m for m in names if importlib.util.find_spec(m) is None] == []
