"""The lesson notebooks: stored clean, well formed, runnable offline; and their helpers.

"Your turn" exercises (see grader.notebook.with_answers): a code cell tagged `exercise` holds a
task with `...` blanks that ends in an `assert`; the markdown cell right after it, tagged
`answer`, holds the filled-in cell as a ```python block inside a <details> fold. When a lesson
runs here (`test_runs_top_to_bottom_offline`) or in bench/notebooks.py, each exercise runs
twice: first as the learner finds it, which must fail (an exercise whose blanks already pass
checks nothing), then with the answer's code in its place, which must pass. So neither the
task nor its answer can rot.
"""

from __future__ import annotations

import json
import os
import re
import sys
import types
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import grader
from grader import manifest
from grader import notebook as nbh

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
DRILLS = {Path(d.lesson).stem: d.name for d in manifest.load().drills}  # lesson -> its drill
CELL_TIMEOUT_S = 60

# Loaded in the kernel through PYTHONPATH: refuses any connection that leaves the machine.
OFFLINE_GUARD = '''
import ipaddress, socket
_connect = socket.socket.connect
def _local_only(self, address):
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise OSError(f"notebook tests run offline: refused a connection to {host}")
    return _connect(self, address)
socket.socket.connect = _local_only
'''


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def text_of(nb: nbformat.NotebookNode) -> str:
    return "\n".join(cell.source for cell in nb.cells)


ids = [p.stem for p in NOTEBOOKS]


def test_one_notebook_per_lesson():
    assert [p.stem for p in NOTEBOOKS] == list(DRILLS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_valid_nbformat(path):
    nbformat.validate(read(path))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_stored_without_outputs(path):
    dirty = [i for i, cell in enumerate(read(path).cells) if cell.cell_type == "code"
             and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"{path.name}: clear the outputs of cells {dirty} before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_lesson_shape(path):
    nb = read(path)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# Lesson")
    assert "**In one line:**" in first.source and "**You will build:**" in first.source
    headings = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown"]
    tail = [h for h in headings if h in ("## Flashcards", "## Quiz", "## Going further", "## Your drill")]
    assert tail == ["## Flashcards", "## Quiz", "## Going further", "## Your drill"]
    source = text_of(nb)
    assert "<details><summary>" in source
    assert "**PHP bridge.**" in source
    drill = DRILLS[path.stem]
    assert f"docchat-grade drills/{drill}.py" in source
    assert nb.cells[-1].source == f'show_grade("../drills/{drill}.py")'


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_each_lesson_makes_the_learner_do_something(path):
    nb = read(path)
    found = nbh.exercises(nb)
    assert found, f"{path.name} has no 'your turn' exercise (a code cell tagged exercise)"
    for i, answer in found:
        task = nb.cells[i].source
        assert "..." in task and "assert " in task, f"exercise cell {i} has blanks (...) and ends in an assert"
        assert "..." not in answer and answer != task
        assert "<details><summary>" in nb.cells[i + 1].source, "the answer is folded away"
    assert "**Predict, then run.**" in text_of(nb)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_every_flashcard_block_asks_for_recall_first(path):
    cards = next(c.source for c in read(path).cells if c.source.startswith("## Flashcards"))
    assert "out loud before you open it" in cards


def headings(nb: nbformat.NotebookNode) -> set[str]:
    return {line.lstrip("#").strip() for cell in nb.cells if cell.cell_type == "markdown"
            for line in cell.source.splitlines() if re.match(r"#{1,6} ", line)}


@pytest.mark.parametrize("drill", manifest.load().drills, ids=lambda d: d.name)
def test_every_check_points_at_a_heading_of_its_lesson(drill):
    """`docchat-grade hint` ends with 'Reread "<lesson>" in <notebook>': that section must exist."""
    sections = headings(read(ROOT / drill.lesson))
    missing = {c.id: c.lesson for c in drill.checks if c.lesson not in sections}
    assert missing == {}, f"not headings of {drill.lesson}: {missing}"


def test_every_quiz_question_is_asked_once():
    asked = re.findall(r'check_answer\("([\w.]+)"', "".join(text_of(read(p)) for p in NOTEBOOKS))
    assert sorted(asked) == sorted(nbh.QUIZ)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_quiz_answers_are_not_in_the_notebook(path):
    raw = path.read_text()
    for qid, entry in nbh.QUIZ.items():
        assert entry["right"] not in raw
        for explanation in json.loads(nbh._unscramble(qid, entry["feedback"])).values():
            assert json.dumps(explanation)[1:-1] not in raw, f"{qid} feedback is readable in {path.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_runs_top_to_bottom_offline(path, tmp_path):
    (tmp_path / "sitecustomize.py").write_text(OFFLINE_GUARD)
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    nb = nbh.with_answers(read(path))
    client = NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT_S,
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    before = sorted(NOTEBOOK_DIR.iterdir())
    with _patched_env(env):
        client.execute()
    assert sorted(NOTEBOOK_DIR.iterdir()) == before, "a lesson left files next to the notebooks"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


class _patched_env:
    """Set environment variables for the kernel the client starts, then restore them."""

    def __init__(self, values: dict[str, str]):
        self.values, self.saved = values, {}

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in self.values}
        os.environ.update(self.values)

    def __exit__(self, *exc):
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# --------------------------------------------------------------------------- the helpers

def right_choice(qid: str) -> str:
    return next(c for c in "abcd" if nbh.check_answer(qid, c).correct)


@pytest.mark.parametrize("qid", sorted(nbh.QUIZ))
def test_each_question_has_exactly_one_right_choice(qid):
    verdicts = [nbh.check_answer(qid, c).correct for c in "abcd"]
    assert verdicts.count(True) == 1 and verdicts.count(False) == 3


def test_quiz_right_and_wrong():
    qid = "uploads.q1"
    right = right_choice(qid)
    wrong = next(c for c in "abcd" if c != right)
    ok, ko = nbh.check_answer(qid, f" {right.upper()} "), nbh.check_answer(qid, wrong)
    assert ok.correct and repr(ok).startswith("✅ Right.") and "python-multipart" in repr(ok)
    assert ko.correct is False and repr(ko).startswith("❌ Not quite.")
    assert "<p>" in ok._repr_html_()


def test_quiz_unanswered_and_unknown():
    assert nbh.check_answer("uploads.q1", "").correct is None
    assert 'one of "a", "b", "c", "d"' in repr(nbh.check_answer("uploads.q1", "z"))
    assert "no quiz question" in repr(nbh.check_answer("nope.q9", "a"))


FAKE_REPORT = {
    "schema": 1, "drill": "upload", "target": "drills/upload.py", "status": "failed",
    "score": 1, "max_score": 2, "error": None,
    "checks": [
        {"id": "upload.accepts_pdf", "level": "core", "title": "accepts a PDF", "status": "passed",
         "message": "", "hint": "", "duration_s": 0.1},
        {"id": "upload.rejects_non_pdf", "level": "core", "title": "rejects <non-PDF> files",
         "status": "failed", "message": "got 200, expected 415.", "hint": "Check content_type.",
         "duration_s": 0.1},
    ],
}


def test_grade_view_renders_a_table():
    view = nbh.GradeView(report=FAKE_REPORT)
    page = view._repr_html_()
    assert page.count("<tr>") == 3 and "upload: failed (score 1/2)" in page
    assert "rejects &lt;non-PDF&gt; files" in page and "Hint: Check content_type." in page
    assert "<td><code>upload.rejects_non_pdf</code></td>" in page, "ids to paste into docchat-grade hint"
    text = repr(view)  # the terminal report, as `docchat-grade drills/upload.py` prints it
    assert text.splitlines()[0] == "docchat-grade · upload · drills/upload.py"
    assert "✓ upload.accepts_pdf" in text and "✗ upload.rejects_non_pdf" in text
    assert "got 200, expected 415." in text and "hint:     Check content_type." in text
    assert "score 1/2" in text and "\x1b[" not in text
    assert not view.passed


def test_backticks_render_as_code_not_literally():
    report = {**FAKE_REPORT, "checks": [{**FAKE_REPORT["checks"][1], "hint": "Look at `file.content_type`."}]}
    page = nbh.GradeView(report=report)._repr_html_()
    assert "Hint: Look at <code>file.content_type</code>." in page and "`" not in page
    unanswered = nbh.check_answer("uploads.q1", "")._repr_html_()
    assert "<code>answer</code>" in unanswered and "`" not in unanswered
    assert nbh._code_spans("a `<b>` and a stray `") == "a `&lt;b&gt;` and a stray `"


def test_grade_view_shows_a_report_error():
    report = {**FAKE_REPORT, "status": "error", "checks": [], "error": "drills/upload.py has no `app`."}
    assert "has no `app`" in repr(nbh.GradeView(report=report))


@pytest.fixture
def fake_api(monkeypatch):
    """Replace grader.api with a stand-in whose grade() the test controls."""
    api = types.ModuleType("grader.api")

    class UsageError(Exception):
        pass

    api.UsageError = UsageError
    api.resolve_drill = lambda path, drill=None: drill or Path(path).stem
    api.calls = []
    monkeypatch.setitem(sys.modules, "grader.api", api)
    monkeypatch.setattr(grader, "api", api, raising=False)
    return api


def test_show_grade_uses_the_engine(fake_api, tmp_path):
    drill = tmp_path / "upload.py"
    drill.write_text("app = None\n")
    fake_api.grade = lambda path, drill=None: fake_api.calls.append((path, drill)) or FAKE_REPORT
    view = nbh.show_grade(drill, drill="upload")
    assert fake_api.calls == [(str(drill), "upload")]
    assert view.report is FAKE_REPORT


def test_show_grade_explains_usage_errors(fake_api, tmp_path):
    drill = tmp_path / "mystery.py"
    drill.write_text("app = None\n")

    def grade(path, drill=None):
        raise fake_api.UsageError("unknown drill 'mystery'")

    fake_api.grade = grade
    view = nbh.show_grade(drill)
    assert view.report is None and "unknown drill 'mystery'" in repr(view)
    assert "unknown drill" in view._repr_html_()


def test_show_grade_missing_file(tmp_path):
    view = nbh.show_grade(tmp_path / "nowhere.py")
    assert view.report is None and "No drill file" in repr(view)


def exercise_notebook(task: str, answer: str | None) -> nbformat.NotebookNode:
    cells = [nbformat.v4.new_code_cell(task, metadata={"tags": ["exercise"]})]
    if answer is not None:
        cells.append(nbformat.v4.new_markdown_cell(
            f"<details><summary>Answer</summary>\n\n```python\n{answer}\n```\n</details>", metadata={"tags": ["answer"]}))
    return nbformat.v4.new_notebook(cells=cells)


def test_an_exercise_needs_its_answer_right_after_it():
    with pytest.raises(ValueError, match="needs an answer cell"):
        nbh.exercises(exercise_notebook("x = ...\nassert x == 2", None))


@pytest.mark.parametrize("task, fails", [("x = ...\nassert x == 2", False), ("x = 2  # ...\nassert x == 2", True)],
                         ids=["blank fails until filled", "blank that already passes"])
def test_ci_runs_each_exercise_unfilled_then_answered(task, fails):
    nb = nbh.with_answers(exercise_notebook(task, "x = 2\nassert x == 2"))
    assert [c.source for c in nb.cells][1] == "x = 2\nassert x == 2"
    NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT_S, allow_errors=True).execute()
    errors = [o.evalue for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == (["the exercise passes with its blanks unfilled: it checks nothing"] if fails else [])
