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
from grader.report import hint_for
from grader.report import from_document
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

    report: dict | None = None
    note: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.report) and self.report.get("status") == "passed"

    def _headline(self) -> str:
        r = self.report
        line = f"{r.get('drill', '?')}: {r.get('status', '?')} (score {r.get('score', 0)}/{r.get('max_score', 0)})"
        return f"{line}. {r['error']}" if r.get("error") else line

    def _checks(self):
        """(status with icon, level, id, title, message, hint) per check; hints only for failures."""
        for check in self.report.get("checks", []):
            status = check.get("status", "")
            hint = hint_for(check)
            yield (f"{_ICONS.get(status, '')} {status}", check.get("level", ""), check.get("id", ""),
                   check.get("title", ""), check.get("message") or "", hint or "")

    def __repr__(self) -> str:
        if self.report is None:
            return self.note
        report = render(from_document(self.report), _PlainUnicode())
        return f"{report}\n{_NOT_STARTED}\n" if self.report.get("not_started") else report

    def _repr_html_(self) -> str:
        if self.report is None:
            return f"<p>ℹ️ {html.escape(self.note)}</p>"
        esc = html.escape
        rows = "".join(
            f"<tr><td>{esc(status)}</td><td>{esc(level)}</td><td><code>{esc(check_id)}</code></td>"
            f"<td>{_code_spans(title)}</td><td style='text-align:left;white-space:pre-wrap'>{esc(message)}"
            + (f"<br><i>Hint: {_code_spans(hint)}</i>" if hint else "") + "</td></tr>"
            for status, level, check_id, title, message, hint in self._checks())
        note = f"<p>{_NOT_STARTED}</p>" if self.report.get("not_started") else ""
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


QUIZ: dict[str, dict] = {
    "uploads.q1": {"right": "1deebd91a373e2cebe62",
        "feedback": ("EzopW4rDtZXwvE2Cb6QIOjTUHGUBoO4SFlrHI31f9/YbOCkKyY30nOu8RYR2shdjZ5EZYVLk9gUMDsxs"
                     "bxbr8hprLVnFk/ub+LdYxSHtWzg+k0o1UNTxBQ1LgmpoFvX8SGs9GtjD55X6uEqMZvpbSiXVEXsG6fpA"
                     "G0HHcDtY9OdIaCkLw4a3mey/X4JzoAlufNMfcRvl6k5dAoIheBShs0pNOBXfgvOHubJZmWq3Hjo9wlB4"
                     "B+ztCQ9P0Hc0UPThBTUsGMSCu9T4vU/LRaAIbh3hOTUH8/wTX17bd3NZ9b4FbSQN2ZP2hu3zX4QjsRpo"
                     "L9RQYRrl9E5dAoIhfxShs0pMIByQgfaG/PNNinC1Gmo1kQB0Eev4BxoOymJoFvX8SHU9FcSK55Xrpwub"
                     "YrMIfy6KUGcd9e0FDA7Vam9eu/UBdC0KkIzl1P+8WYZw4RV/OdVQZQv08Q8RA892d0Ly4wlqPFeSng==")},
    "uploads.q2": {"right": "9d2e554746ec871613dc",
        "feedback": ("QZjcFb8Odr7WS5eyvFKrwwGURd9j1xHkI4EdlK2lEIpO0tgX5kI9uNdRw7S+R53aC8oAvGLBUvhrlAGQ"
                     "r+AWwl+a307xSyf9ylGCpaYGg94MjADaWuB3vmuUBp714k6KGNifDaUMErzKUaKHmwaa0g6BUt9my174"
                     "OMAIhfu0Cs8a2MRD4F1v/dZLj67yX5vCCsRDkG7BEfAqjkmCtakEzBrO1VLoAHbxmQeA9egG1uMQgQCZ"
                     "ZdZcsyKTSYa+rA6KXNXPWuBKbv3NTYaltwadxFiFAJljyFSzIo5JhbOlQsxT39FTpUA1sNxBw7G7SpGb"
                     "WJdP33zFXfovgR2YtK5C2lvJzlL2AHbxmQeH9egG1uMQgQCZY8hUsyKTSYWyrhuRGtTSQ+1HOrqZRIG4"
                     "p1LU3gyXAIxj3lSzIpNJhqmvDM0UmMA=")},
    "uploads.q3": {"right": "835bb4c5b057cf9fb741",
        "feedback": ("t8vfFVxegjPEHZ0LqKTgx+t/b0evIMzqX3SCrsGuWPy7gdFbA17CMcEc7kmlr+z2/HdnS+owg/5fZNH+"
                     "1LRJ/KSM31MDDNN+zAuhBbKk/Py0NmZNryrXv1hz0eHDo0/8uIHbFwoXzTfRS+BF5+L7uqI2Nxa/c4P2"
                     "QiCX4cfmSbSpydNCCgrJLsQXtkmrqfTx7GU1Cukqz/pCLNHo3KNRuL/FnkcHDNR+1gy4DO77ufm4dHpG"
                     "9mPM6VRy0ePUvmK+o43HaBUX2juFAqcdtOCtqas4Nw6vYcC9CyDT2dyyVfyth55fCRDFLdFFgQaptPz2"
                     "7DtZR+Ek1/cRdJnrladNrOyI0EQRG9IthQenD6iy/Ljqc3RG5i3Ev0VolK7XqVml7IjKFwcSzHCHSeJL"
                     "o+KjuLpCfUevNMvwXWXR7NqiRPyvhstZEg2MfsgQrh2usPjq7DZ6VOoxy/pQZNHn26VRqaiM2htGDc9+"
                     "zBHiALTg9u79ZDVW5yaD81htmPqZ5lyyqMnfWUYWzzDAFrZJhK/37P14YQ/DJs34RWjR4tCyTvy4gdsX"
                     "Bw7QftcApBy0pbnx7DZ3R+ks0foRcpTv0a9Tu+LLww==")},
    "lifespan.q1": {"right": "9c96a7f2649cd5b9b417",
        "feedback": ("NPNPJWLXTBptc0GqA1iXCqdqy5xVnJtFj9dvcn/zPdYqog5mNtcPL3VuVsswftESq3Taz0icmxnGnDNh"
                     "f+U52yCjSychngswaCBcmHNiywe8eNufCd2UHtWcM3s283zUPPFdby2DCjN7bhvJfzGdBOw2js1Kk6od"
                     "15wvL3/0KNQjvQ5iIJ4dKH8gV54nMdYV7mjLn1eYlhnVnCV3f+Yy2W+4WicxhE41a25amTZ1nwSrf8eL"
                     "QN2UWM2QJz4s9z3TYfMCJ3qUTGYsIniEN2TTA+Ngy5lAkdUbzp0key3yMs5vsFonMZoeM350Gcs9fstG"
                     "r3iOnFGchwzUiW17Puk4nSewXSc2mE4vZHVBjzxm0Ua9eMufC9/ZWIOdY2F/pRHUK7VCYi+WHDksckCF"
                     "IDHeFKF5wIsFmIMd04BhKTr2Kdg8pQInNpgafGNuVo5zYdoU7m3enwWPgBaP2zw=")},
    "lifespan.q2": {"right": "8d2a644317f1fe0bc054",
        "feedback": ("kuOsWNUZLQTMDsA7m10yfYo8hckELBrsoGgcq4T5nrGKpO0Oh1wvLMhehDyfXTJyxSTM3RQxSuy6Zl/r"
                     "yPuT/dPh7zObGWsi3V2EOpFaMmGQJoXaBWJb4bhoEqmLvNGrgaTtG59JLyXZXYQ13kJ7dYA71dofbBih"
                     "9Goe5dL505GG4agInVZ9YZhAyyDeS2R2i2jEmwYjSOO9Jhrnibueqp3hrx+GV2hty0XNJI5LdinFPM3a"
                     "BWJT/vQ/Faac+Zy+gqS+WoZNLynZQMMxjEFnYMtqiZtTJhi39Go/opuwlbrJoO0Whl9qPshPynjeQXxM"
                     "gD7A1QViW+OwaBKpt6qFvpu1uArPUW4j3ELBJo0Oc2GAaNbQGDJK6LBoCq6csZ6qneGsFJYZeCzKQM06"
                     "mQAyXoo+wJsFKlv59CsSo435mLGdru0Oh1wvIdFIwSeOT3w9xzU=")},
    "lifespan.q3": {"right": "fc903b846e5dafe83cb6",
        "feedback": ("fUXFEQ3Q4KB+QH4/Uyke7Szdq86T/GDjwE0bpOmk0WB1R9BbUtCjsX4LcCJIPALhYtbiypP8JfbATR6/"
                     "p7OUcyYVwUJClbG1IBJ8bAUqSLIsk5bdhfsD7toIGb+nsYRvdUfFQE6eoeF8XyU4QjtK7mXfp5bUo2Cg"
                     "0E9N66WMn21/R8REXoSq4VpVIzhkJAPtYsXq2Yb/aaLSHleo66qUb3JdxBNFhayyLkMkLVU8H/gs0Kzc"
                     "1vwo98cJGLzp7dMtJkXAEQ3Q4O5qXzM5Si0E/H+Rq8vW6TLn1lZXovPjmHImSMBcVIPitWZRJGx0Pwvv"
                     "a9SwmKPGYPbSBhK4qeGM")},
    "streaming.q1": {"right": "ae1d0ac656789df46c2c",
        "feedback": ("80Dn0olnoA1rBG9HN7jM7lnKPIFFU19acsiOnUZdBK3kG6af3STnbD8mWSgOgsbxTIU+m1MHFkwq0piH"
                     "QVNJ76hA5NKJZ6ANazxZbBCYzP5dhSGXThdFCTzUy5JcDhym+kLnhJMm7iBlbBAoW4mLpwmHFJtMFmRM"
                     "IcuEnUEYS7D8EOOR3jSiLWsoVWQcys/vRshylkkAXQVy1YSHEgkEqO0M9dDSNKI4IytFKBiYzL1OwDyX"
                     "UhJCTDaVyd8SXw/hskKko8c15y0mJ1JvK4/a7UbLIZcAAFNHNsjLllMeA+PrCvOe2GfjP2snSHtZjczz"
                     "TNczhk8BFlA73oeXQV0Ct6hK4J/BZ9EfDmIcTQ+Px+l6yieAQxZkTCHLhJ1BGEun5wf10Mcv52wtPF1l"
                     "EITOvV3KPdsOUUs=")},
    "streaming.q2": {"right": "bf001d51cb93f2242217",
        "feedback": ("uVZMYqpOSEqCDP9GOSSUDsupzuNi/9+oP0c1CU0DANDiHV5g8U4ZdKMm0AtwONJBwLqL6XnvhOd2CWNQ"
                     "T2pzt7YRVTS/HgZhuC2RFSQl0QDIv8Knb+ne5R9fJFwZAzzgsBdIYOcHBmzxLd4ScCXRAMHsh/Mjvobl"
                     "eEpjCE1yJ/C6AAIl5gsEdPwwxRQ1NtlBzL/O8GX93uUfXyRcGQM84LAXSGD1FhplsjfCSHJ7lEPB7tSn"
                     "L8jCpC4JKEFNMT21rRhJYP0bBnS4M9AUJHfHFdepj+pk8s3lLlAxV0FwPfq2VH4T1UBIfQ==")},
    "streaming.q3": {"right": "034e51782233534d8334",
        "feedback": ("sJRRelNl2iT9d4fv/5kxfLvsXODzGR1KhMJ8tlJCYt+u2FM3DSCLQft+iPLC1jJvtPxr9rpJFkWDxmbc"
                     "XS9El6faXwRLa9g44neF/4ylIXyu7HzW5QcGYYHCMogpf02FlNJRLAh41k+lO8n9w4RkfLn+LvHlEQYK"
                     "1Yt83mMvFtLp71k9BSGdBatkiPfZkzcuuftrpco6PWrawjKfbmlJlueWQzdJMZAEq2Gd6cWYIy6z7Gv1"
                     "80kbUISHLYlueUmB5ZQceEsm2lurML3zydYmfLf+feDySQFQhc4sjyF5RJfr0Fk9BSHYD+p/jKCMkiV6"
                     "ualm6uwNAQSYyTCFIXlEl+vAUTQcINRB/HqA+MTWLGuq7C7s80k4d7jpct4tLQ6W6YwQejoxigjldZq7"
                     "zYQhLrnlYur3DBYf19M0mXgtTYCulnoLJgvVBOVxhv/JkmRiseJrpeEHCwSY0zSZcy1ak6fDVXZLOA==")},
    "streaming.q4": {"right": "5f959a7e67771f42016b",
        "feedback": ("qSlwodT9mpYKvRuvHS/AEQAZQQVN5uHvg0ZTEe3UWizoK33qgLiD4hWwWrVYPsMUAhMWEwPr4e+WDlpY"
                     "59AOOrt/eaOAspimA6xa4R4xyRQKUkNMA6Dw7c0OFGXh0A4+t2h+7Yr91KsMvRfhGnSMEA8PQQ5Movau"
                     "g08MEe/cSyG2JzHwgf3Mqgf4WbMXL98dHFwIB03t4KqEDl9Fp5V9KLxvMeyAuJimA6xa+1g0xRYLXBEF"
                     "UaL+pplLFl7vlVoltytl7IW41uxA9BvjG3qWWEwoCQUD5Pu9hFoWXeDbS227eDH3hriYpgOsWuEUMcId"
                     "VVwVCEai4aqUQVhVqdxdbbtsf+ycuNzsQPQb4xx6llhMMw8MWqLz75VCV1/ilUIkvG4x5oC5y+IDthuk"
                     "Dj3CDEJcAA5Houankg5aWOfQDi/yYmKjgLLM4gP4X6AMOYwUBxIETgH/")},
    "errors.q1": {"right": "6062a21c2b37ea17ddfc",
        "feedback": ("Hrlj/W7w3X6cCHM5X0GTgYRr8svem+2p8eeUFpywfu8Au2uxdLWJT4YQJ2tCUZeBxX7vj4qa+6nn54oK"
                     "nKd+qwP0cLgxpNEI2Eklew8ew8a1fvOYw53vqfDjigPTvWLuRe9npyDwllnUD3V4Sk2Pgd4/6YrEl+Ts"
                     "ovKRFpy2aegA63a2O77fQ4AaYnVLCsHIxT3iyZDTqsbs49kb3b115wDpLv8mtZhDhx1ia0hAw4uLfOTH"
                     "iof9++z12QfUtjHuHfhnryC5kETUAGltQgSXjIA/8orHlqjD0cm3U9q8Y6sA7WetLfCNRYEdYjcPCMPG"
                     "gT27y4iy5qnn/poWzKd45Au7Yb46vpBe1ApvdkJXhsSRd+TL4qfc2aL0nADMvH/4AKAivnS4nkSQBWJr"
                     "DUCMgZYxo5Y=")},
    "errors.q2": {"right": "609a384252f8d147ea9c",
        "feedback": ("YSzMfngN4VCgful+AWCKyTHOPEN3WC2Kz//xv7nS+JBMb8EpJ2ixQbt0kk1Bb53YKpBAFkIRJo2D8vG/"
                     "o9XpkFBd4hJsDYBcpH+STU1pgZsy0wNNChU2goP67PvtzuTAfyCPcGIPoRHuJpB2S2DY2CzdEwkKECSV"
                     "0/7s7O3Y+NZ1fMh8I0O6E6ZjwVJMa4veftUTQUgNLInXtaCz7Zj+kiAujwgqSONbtWjWTkZ32NIqzwUN"
                     "TFgml8Lo6vq+murYc2LIfCBYql+wb9xFA3GQ3n72My5kVGWWzLv296ia/txza8MoYkqmR6cmhxITK9qX"
                     "fp4EQxBYZ6vM7+r2o9292XQu6z0xWYJjnSbTTFByncktnFRRGlgtgNH+rL2w")},
    "errors.q3": {"right": "2398c54ca95d7b05a546",
        "feedback": ("aDPwsyuxWl7Efg4/Q+RSej9Ej7PAeIwqCJ3d/JWj+IBhdPL4YvQUFdQ6RilYtk1hdhaI5t0rnnRTnczy"
                     "iKn20j8xs/Mzq1hOxn4aaGL5GUp8Cpmj2iyEOk/Izf6Jo6vQZHjl+THwFkyRI148VbZbZncdw+SYeJx5"
                     "HoeOv97g6tB+dPD/YrEMBJFuWSde/RlgYESMpdc9zm5Z2Y7/maT4nnxlsfd4/xEfnCtKZg66GSt3Rtfm"
                     "lmqOKxzQy/yCo/iDfHz05Xn4FgvUOU87DPVLbHIQiKKaesM=")},
    "background.q1": {"right": "b97ea8c0fd4ba835c63a",
        "feedback": ("leIuLnlVCd+36AmckbhOz8/hChHbjJXJRkBoRDT08rWd4C5gL1VM9a3kTIeV6w6A0fRFC9ePiZtCDngT"
                     "Lqf6roC1O2kwWQv9teVMk8W4B53J9hdJxYaUgkJcLA0yp+Szm6MkLC4QSvKs6QWegOVAw5+xB0uIycS9"
                     "T0ssETHr+KaK4D1pMgBO76+hG52QpwbPzOcMBd7JlZ1GVywLMeL554ivPSw3AkS8tugCh5GuEcGdv0VL"
                     "0cvcyQVvLCYg5PygnK86YichSu+w8kyGhLgJz8v6ABqSnJbJU0ZpRDLi5bGLsm98MRpI+ajyQNKMuEKD"
                     "0OARSduPxp1PT3hEMfX4pIuzPCwgB0rvs+Qf0oq5QobMsw4A3oWDjQsObQolp/60zq4qeiYHC+6+9R6b"
                     "gK9MzZOzRw2Q08bLZk1vATHzu+ePrjx7JgcLruuzTIWMvwrP3rMPBtDJj40LDnwWLuTytJ3gJmJjFAvr"
                     "tPMHl5fnQp/Q/wlJ3ZvGnkJMZAsu7Lnlkw==")},
    "background.q2": {"right": "106ecc554ab41c7c74df",
        "feedback": ("dZO7rOh3q8Ne2kGq2VDpgyJbhk4fepMd59XLTWqMKS9i3rTpoXfg+RHUQbPaXb7SNlCXC1k93ku8jcke"
                     "Po4Kan3Ztfyme6nxWMcE9NRR+o4lWpAJEmvSGPeLjgR7yi0vbcXgrrcv6PRF2Rj5wlf/12N3gw0ceIAE"
                     "64GPcH/fIDku2KmutDj7uROZQfvWHaSDYXeDDRx4gATrgY9wf98gOS7fv/i3JanlVMETsNBMpYM2RodO"
                     "Fj+DHvuajgRpxT8iLsO/+qA+7OQfl035l1u8mWMXoA8UdJUZ8ZqFQErNOCF9kbbnpDL6t1jbQa3dWr7Q"
                     "JkeUCwU/ghnxjI5XbYwqJGqRvue3JKngWMEJ+dxLsIE+")},
    "background.q3": {"right": "a1735f778c28be7c8ae8",
        "feedback": ("N+Z2oWEQwJWwVHmZx7yICEcMip4q9ca5sCkb7BSjZiI45Hb3e1+Mt/UMK6v9k/wiZ2HLzTX92KHjZQHp"
                     "GLMpOSLjZKM8QoO39VF+lJSnwBJBSITJL7CKovgsF/dRpyciOLc35TRCwqblWWWR2rOIBVRPgNkz89+7"
                     "9GUA/gK7NWVu6DehORLY9LJCfZHXu9oJEl/L2TP9ybD2MBi/ArgzPyirYO17R4O95EQrntumiBVAQoXX"
                     "L/uKt/EmH/gDvzMlKORj4ihbkfqwY2OdlKDJFF4Mgs1h8MWm5GUb8VGxZig+pWTrdxCD9MN+TLP9mORL"
                     "FU2Fni7p3vj/I1nyFL0pOTXkfOo3XM70/0Urj9yxxkdBRI6eMfDLofYqBvJWo2YsPqV05ntAh6b5WG/Y"
                     "nJDHBF5JmZ5wrIqmvGU/6hO1NCUpsHLwewPS9OMXaYGUsM0BVFmHymi82KD+NlTwBKRmLSW2ZPd1Es70"
                     "slQpwpT25ghBRILQJrzYsPMqBvsC8DIjKeRj4ihbwrX+TnyQ0abNSxVfhJ419M+n9WUd7FG+KT8krXnk"
                     "e0SN9OJSeI3ZsZJHXErLyin5iqXiKhf6AqNmLyWhZKM5VYS74lIrjNyxiBNUX4CeJPLOprxlHetRuTVr"
                     "K6t55nUSzvSyUynClPbuBkZYqu4IvMGw9TUHvx+/Zjkpp3jxPxCNsrBVapvfs9oIQEKPnjX92b7jZRXx"
                     "FfAoLjqhZaMpVZam+VJ42MC8zQobDpY=")},
    "docchat.q1": {"right": "e4b9395b61166fe301ef",
        "feedback": ("c4FQcvo2WfNUzpBHWi57NBb3frAWR0uGLiXoefWLLsNtg1g+4HdbxkzOnBNWCC4VLoNUijd+ap1nPvU1"
                     "/d4G02XMQymIYx7ZBYqWQR8HLgEWo326HRdUzzQlsnnikTnRbddCcK94W8EF0JxASwd8JUH1OfVRVRqc"
                     "Z3PPMeHeOsNt1lRwqWVbwQXEkF9aSi4wAbM1oRtSGMgiKe9594oqxHzWQXezNhjPS9GMXloULiUOvHCm"
                     "U0BQxzNx8iqkiSrffMpfN+BiE8VXx8MTXkZ8NByjdKcHF1TJNDToeeqRP95hzVZwtH4a1AXVmEAfA2Ag"
                     "GrJgsBcZGopnc/h7vt5p9yjEQzGjcx3VSYKKR1AWLj0Ko2b1B19dhi0++SqkiiPXfINQIqU2CdVLzJBd"
                     "WEZoOAG+Zr1IF1HSZzX0PPfeJdl8g0IkoWQPgFHKnBNOE2skCrM1uh1SS4hlfbt74NxxlirtXiSofxXH"
                     "Bc+YQVQVLiUHsnj1FVZRyiI1oXnwli7PKMJDNeBlD8lJztlCSgN7NAv7NbQdUxjUMj+7LuybJZZpg1I/"
                     "rmUOzUDQ2UFKCH1xDrB0vB0ZGts=")},
}
