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
import json
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["GradeView", "QuizResult", "check_answer", "show_grade"]


# --------------------------------------------------------------------------- grading

_ICONS = {"passed": "✅", "failed": "❌", "error": "💥", "skipped": "⏭️"}


@dataclass
class GradeView:
    """A grade report (or a short note when there is none) that renders in Jupyter."""

    report: dict | None = None
    note: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.report) and self.report.get("status") == "passed"

    def _rows(self) -> list[tuple[str, str, str, str]]:
        rows = []
        for check in self.report.get("checks", []):
            status = check.get("status", "")
            feedback = check.get("message") or ""
            if status in ("failed", "error") and check.get("hint"):
                feedback = f"{feedback} Hint: {check['hint']}".strip()
            rows.append((f"{_ICONS.get(status, '')} {status}", check.get("level", ""),
                         check.get("title") or check.get("id", ""), feedback))
        return rows

    def _headline(self) -> str:
        r = self.report
        line = (f"{r.get('drill', '?')}: {r.get('status', '?')} "
                f"({r.get('score', 0)}/{r.get('max_score', 0)})")
        if r.get("error"):
            line += f" - {r['error']}"
        return line

    def __repr__(self) -> str:
        if self.report is None:
            return self.note
        lines = [self._headline()]
        lines += [f"  {s:<11} {lvl:<8} {title}" + (f"\n{'':22}{fb}" if fb else "")
                  for s, lvl, title, fb in self._rows()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if self.report is None:
            return f"<p>ℹ️ {html.escape(self.note)}</p>"
        esc = html.escape
        body = "".join(
            f"<tr><td>{esc(s)}</td><td>{esc(lvl)}</td><td>{esc(title)}</td>"
            f"<td style='text-align:left'>{esc(fb)}</td></tr>"
            for s, lvl, title, fb in self._rows())
        return (f"<p><b>{esc(self._headline())}</b></p>"
                "<table><thead><tr><th>status</th><th>level</th><th>check</th>"
                f"<th>feedback</th></tr></thead><tbody>{body}</tbody></table>")


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
        report = api.grade(str(path), drill=drill)
    except usage_error as exc:
        return GradeView(note=f"Could not grade {path}: {exc}")
    return GradeView(report=report)


# --------------------------------------------------------------------------- quiz
#
# The quiz bank below stores a salted hash of each right choice and scrambled feedback,
# so that reading a notebook (or this file) does not spoil a question by accident. It is
# not protection against cheating: with four choices, anyone can simply try them all.
# To edit a question, decode its feedback with `_unscramble` and re-encode with `_entry`.

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
        return f"<p>{html.escape(repr(self))}</p>"


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


QUIZ: dict[str, dict] = {}
