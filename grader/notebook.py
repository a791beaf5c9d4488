"""Helpers for the lesson notebooks: grade a drill from a cell, check a quiz answer.

    from grader.notebook import show_grade, check_answer
    show_grade("../drills/upload.py")        # a table of the drill's checks
    answer = "b"
    check_answer("uploads.q1", answer)       # right or wrong, with an explanation
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from grader import skeletons
from grader.report import Report, from_document, hint_for
from grader.formats.text import render

__all__ = ["GradeView", "QuizResult", "check_answer", "exercises", "peak_mib", "serving", "show_grade",
           "with_answers"]


# --------------------------------------------------------------------------- grading

_ICONS = {"passed": "✅", "failed": "❌", "error": "💥", "skipped": "⏭️"}
_NOT_STARTED = ("Not started: this file is still the skeleton you were given, so no check was run. "
                "Fill in its TODOs, save, and run this cell again.")


class _PlainUnicode(io.StringIO):
    """Where the plain-text view is "printed": no colour, but the Unicode marks."""

    encoding = "utf-8"


@dataclass
class GradeView:
    """A grade report (or a short note when there is none) that renders in Jupyter."""

    report: dict | None = None  # the JSON report, as `grader.api.grade` returns it
    note: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.report) and self._graded.status == "passed"

    @property
    def _graded(self) -> Report:
        return from_document(self.report)

    def _headline(self) -> str:
        r = self._graded
        line = f"{r.drill}: {r.status} (score {r.score}/{r.max_score})"
        return f"{line}. {r.error}" if r.error else line

    def _checks(self):
        """(status with icon, level, id, title, message, hint) per check; hints only for failures."""
        for check in self._graded.checks:
            yield (f"{_ICONS.get(check.status, '')} {check.status}", check.level, check.id,
                   check.title, check.message, hint_for(check))

    def __repr__(self) -> str:
        if self.report is None:
            return self.note
        report = render(self._graded, _PlainUnicode())
        return f"{report}\n{_NOT_STARTED}\n" if self._graded.not_started else report

    def _repr_html_(self) -> str:
        if self.report is None:
            return f"<p>ℹ️ {html.escape(self.note)}</p>"
        esc = html.escape
        rows = "".join(
            f"<tr><td>{esc(status)}</td><td>{esc(level)}</td><td><code>{esc(check_id)}</code></td>"
            f"<td>{_code_spans(title)}</td><td style='text-align:left;white-space:pre-wrap'>{esc(message)}"
            + (f"<br><i>Hint: {_code_spans(hint)}</i>" if hint else "") + "</td></tr>"
            for status, level, check_id, title, message, hint in self._checks())
        note = f"<p>{_NOT_STARTED}</p>" if self._graded.not_started else ""
        return (f"<p><b>{esc(self._headline())}</b></p>{note}"
                "<table><thead><tr><th>status</th><th>level</th><th>check id (for <code>docchat-grade hint</code>)"
                "</th><th>check</th><th>feedback</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>")


def _code_spans(text: str) -> str:
    """`text` as HTML, its `backticked` parts as <code>, as Markdown would show them."""
    parts = html.escape(text).split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick: show the text as it is
        return html.escape(text)
    return "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))


def show_grade(path: str | Path, drill: str | None = None) -> GradeView:
    """Grade a drill file with the same engine as `docchat-grade` and show the result."""
    path = Path(path)
    if not path.is_file():
        return GradeView(note=f"No drill file at {path} yet: create it, then run this cell again.")
    try:
        from grader import api
    except ImportError:
        return GradeView(note="The grading engine (grader.api) is not installed yet.")
    usage_error = getattr(api, "UsageError", Exception)
    try:
        name = api.resolve_drill(path, drill)
        if skeletons.is_untouched(path, name):
            return GradeView(report=skeletons.not_started(name, str(path)).document())
        report = api.grade(str(path), drill=drill)
    except usage_error as exc:
        return GradeView(note=f"Could not grade {path}: {exc}")
    return GradeView(report=report)


# --------------------------------------------------------------------------- demos

async def peak_mib(app, path: str, size: int) -> float:
    """POST a `size`-byte PDF straight into the ASGI `app`, as a server would: in 512 KiB
    pieces, never whole. Return the peak of the memory Python allocated meanwhile, in MiB."""
    from grader.asgi import drive
    from grader.bodies import pdf_upload

    body = pdf_upload(size)
    exchange = await drive(app, "POST", path, body=body.pieces(), trace_memory=True,
                           headers={"content-type": body.content_type, "content-length": str(len(body))})
    return round(exchange.peak_memory / 2**20, 1)


def serving(app):
    """Serve `app` with a real uvicorn on 127.0.0.1 for the `with` block: `with serving(app) as live:`
    gives `live.url` to send real HTTP requests to."""
    from grader.live_server import serving as live

    return live(app)


# --------------------------------------------------------------------------- "your turn" exercises
#
# A code cell tagged `exercise` holds a task with `...` blanks ending in an `assert`; the
# markdown cell right after it, tagged `answer`, folds the filled-in cell away as one ```python
# block. The test suite and bench/notebooks.py run a lesson through `with_answers`.

_ANSWER_CODE = re.compile(r"```python\n(.*?)\n```", re.S)

_UNFILLED = """\
try:
    exec(compile({source!r}, "your turn (unfilled)", "exec"), get_ipython().user_ns)
except Exception as exc:
    print("as given, the exercise fails, as it should:", type(exc).__name__)
else:
    raise AssertionError("the exercise passes with its blanks unfilled: it checks nothing")
"""


def _tagged(cell, tag: str) -> bool:
    return tag in cell.get("metadata", {}).get("tags", [])


def exercises(nb) -> list[tuple[int, str]]:
    """(index of each exercise cell, the code of its answer) in an nbformat notebook."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and _tagged(cell, "exercise"):
            after = nb.cells[i + 1] if i + 1 < len(nb.cells) else None
            if after is None or after.cell_type != "markdown" or not _tagged(after, "answer"):
                raise ValueError(f"exercise cell {i} needs an answer cell (markdown, tagged answer) right after it")
            code = _ANSWER_CODE.findall(after.source)
            if len(code) != 1:
                raise ValueError(f"the answer to exercise cell {i} must hold exactly one ```python block")
            found.append((i, code[0]))
    return found


def with_answers(nb):
    """`nb` as CI runs it: each exercise first as given (it must fail), then with its answer
    in its place (it must pass, like every cell)."""
    import nbformat

    answers = dict(exercises(nb))
    cells = []
    for i, cell in enumerate(nb.cells):
        if i in answers:
            cells.append(nbformat.v4.new_code_cell(_UNFILLED.format(source=cell.source)))
            cell = nbformat.v4.new_code_cell(answers[i])
        cells.append(cell)
    nb.cells = cells
    return nb


# --------------------------------------------------------------------------- quiz
#
# Each lesson's quiz bank (grader/quiz/<notebook's name>.json) stores a salted hash of each
# right choice and scrambled feedback, so that reading a notebook (or the bank) does not
# spoil a question by accident. It is not protection against cheating: with four choices,
# anyone can simply try them all. To add or edit a question, make its entry with `_entry`
# (decode old feedback with `_unscramble`).

_SALT = "docchat-workbook-quiz"


def _digest(question_id: str, choice: str) -> str:
    return hashlib.sha256(f"{_SALT}:{question_id}:{choice}".encode()).hexdigest()[:20]


def _keystream(question_id: str, length: int) -> bytes:
    seed = hashlib.sha256(f"{_SALT}:{question_id}".encode()).digest()
    return (seed * (length // len(seed) + 1))[:length]


def _scramble(question_id: str, text: str) -> str:
    raw = text.encode()
    return base64.b64encode(bytes(a ^ b for a, b in zip(raw, _keystream(question_id, len(raw))))).decode()


def _unscramble(question_id: str, blob: str) -> str:
    raw = base64.b64decode(blob)
    return bytes(a ^ b for a, b in zip(raw, _keystream(question_id, len(raw)))).decode()


def _entry(question_id: str, right: str, feedback: dict[str, str]) -> dict:
    """Author helper: the bank entry for a question (feedback: choice -> explanation)."""
    return {"right": _digest(question_id, right),
            "feedback": _scramble(question_id, json.dumps(feedback))}


@dataclass
class QuizResult:
    """The verdict on one answer; renders as a line of text or HTML."""

    question_id: str
    correct: bool | None  # None: the answer could not be checked
    explanation: str = field(default="")

    def __repr__(self) -> str:
        if self.correct is None:
            return self.explanation
        verdict = "✅ Right." if self.correct else "❌ Not quite."
        return f"{verdict} {self.explanation}"

    def _repr_html_(self) -> str:
        return f"<p>{_code_spans(repr(self))}</p>"


def check_answer(question_id: str, answer: str) -> QuizResult:
    """Check a quiz answer such as "b" and explain it."""
    entry = QUIZ.get(question_id)
    if entry is None:
        return QuizResult(question_id, None, f"There is no quiz question {question_id!r}.")
    feedback = json.loads(_unscramble(question_id, entry["feedback"]))
    choice = str(answer).strip().lower()
    if choice not in feedback:
        options = ", ".join(f'"{c}"' for c in sorted(feedback))
        return QuizResult(question_id, None, f"Set `answer` to one of {options}, then run the cell again.")
    return QuizResult(question_id, _digest(question_id, choice) == entry["right"], feedback[choice])


QUIZ_DIR = Path(__file__).with_name("quiz")  # a bank per lesson: quiz/<notebook's name>.json
QUIZ: dict[str, dict] = {qid: entry for bank in sorted(QUIZ_DIR.glob("*.json"))
                         for qid, entry in json.loads(bank.read_text()).items()}
