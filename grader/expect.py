"""How checks fail: every failure says what was sent, what came back and what was expected."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any, NoReturn

LIMIT = 400


class CheckFailed(AssertionError):
    """The learner's app answered, but not as the check expected."""

    def __init__(self, *, sent: str, got: str, expected: str, note: str = "") -> None:
        self.sent, self.got, self.expected, self.note = sent, got, expected, note
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"sent:     {self.sent}", f"got:      {self.got}", f"expected: {self.expected}"]
        if self.note:
            lines.append(f"note:     {self.note}")
        return "\n".join(lines)


def fail(*, sent: str, got: str, expected: str, note: str = "") -> NoReturn:
    raise CheckFailed(sent=sent, got=got, expected=expected, note=note)


@contextmanager
def needs_first(check_id: str, what: str) -> Iterator[None]:
    """A failure inside is this check's precondition, not its own bug: the note says so.

    The check's hint is about its own bug; without the note, a learner whose app never got
    that far (no job id at all) would read a hint about something that never happened.
    """
    try:
        yield
    except CheckFailed as exc:
        if exc.note:  # it already says why
            raise
        fail(sent=exc.sent, got=exc.got, expected=exc.expected,
             note=f"this check needs what {check_id} checks first: {what}")


def trim(text: str, limit: int = LIMIT) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def size(n: int) -> str:
    """A byte count as a learner reads it: 20 MiB, 1.5 KiB, 20 MiB + 1 byte."""
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        whole, rest = divmod(n, scale)
        if whole and rest == 0:
            return f"{whole} {unit}"
        if whole and rest < 16:
            return f"{whole} {unit} + {rest} byte{'s' * (rest != 1)}"
        if whole:
            return f"{n / scale:.1f} {unit}"
    return f"{n} byte{'s' * (n != 1)}"


def describe(response: Any) -> str:
    """A response in one line: status, reason and a trimmed body."""
    status = response.status_code
    reason = getattr(response, "reason_phrase", "") or _reason(status)
    body = response.text if hasattr(response, "text") else str(response)
    shown = trim(body) if body else "(empty body)"
    return f"{status} {reason}".strip() + f", body {shown}"


def _reason(status: int | None) -> str:
    try:
        return HTTPStatus(status).phrase
    except (ValueError, TypeError):
        return ""


def json_body(response: Any, *, sent: str) -> Any:
    """The response's JSON, or a failure saying the body was not JSON."""
    try:
        return json.loads(response.text if hasattr(response, "text") else response.body)
    except ValueError:
        fail(sent=sent, got=describe(response), expected="a JSON body")


def compact(value: Any) -> str:
    """JSON on one line, as a learner would write it: {"error": "x", "id": "y"}."""
    return json.dumps(value, ensure_ascii=False)


def side_by_side(expected: Any, got: Any, width: int = 30) -> str:
    """Expected and actual JSON in two columns, a row per top-level key, differences marked.

    Anything but two objects is shown as two aligned lines instead.
    """
    if not (isinstance(expected, dict) and isinstance(got, dict)):
        return f"expected  {trim(compact(expected))}\ngot       {trim(compact(got))}"
    keys = [*expected, *(k for k in got if k not in expected)]
    rows = [("", "expected", "got", "")]
    for key in keys:
        want = trim(compact(expected[key]), width) if key in expected else "(no such key)"
        have = trim(compact(got[key]), width) if key in got else "(missing)"
        same = key in expected and key in got and expected[key] == got[key]
        rows.append((compact(key), want, have, "" if same else "<- differs"))
    key_w = max(len(r[0]) for r in rows)
    want_w = max(len(r[1]) for r in rows)
    have_w = max(len(r[2]) for r in rows)
    return "\n".join(f"{k.ljust(key_w)}  {w.ljust(want_w)}  {h.ljust(have_w)}  {m}".rstrip()
                     for k, w, h, m in rows)


def fail_json(*, sent: str, response: Any, status: int, body: Any, note: str = "",
              shape: str = "") -> NoReturn:
    """Fail showing the expected status and JSON body beside what came back.

    `shape` describes the expected body in words when `body` alone would mislead (a template).
    """
    got = json_or_text(response)
    same_status = response.status_code == status
    reason = getattr(response, "reason_phrase", "") if same_status else ""
    table = "\n".join(" " * 10 + line for line in side_by_side(body, got).splitlines())
    fail(sent=sent, got=describe(response),
         expected=f"{status} {reason or _reason(status)}".strip()
         + f", body {shape or 'exactly ' + trim(compact(body))}",
         note=(note + "\n" + " " * 10 if note else "") + "side by side:\n" + table)


def expect_json(response: Any, *, sent: str, status: int, body: Any, note: str = "") -> None:
    """Pass when the response has exactly this status and JSON body; else `fail_json`."""
    if response.status_code != status or json_or_text(response) != body:
        fail_json(sent=sent, response=response, status=status, body=body, note=note)


def json_or_text(response: Any) -> Any:
    """The response's JSON, or its text when the body is not JSON."""
    try:
        return json.loads(response.text)
    except ValueError:
        return response.text


def shown(path: object) -> str:
    """A path as the learner thinks of it: relative to the check's working directory."""
    relative = os.path.relpath(str(path))
    return relative if relative.startswith("..") else os.path.join(".", relative)


JOB_SHAPE = '{"job_id": "<non-empty string>", "status": "queued"}'


def job_id_of(response: Any, *, sent: str) -> str:
    """The response's non-empty `job_id`, or a failure showing the job shape expected."""
    body = json_body(response, sent=sent)
    job_id = body.get("job_id") if isinstance(body, dict) else None
    if not isinstance(job_id, str) or not job_id:
        fail(sent=sent, got=describe(response), expected=f"a JSON body like {JOB_SHAPE}")
    return job_id


def expect_queued(response: Any, *, sent: str) -> None:
    """202 Accepted with a queued job: the answer to an upload in both job drills."""
    body = json_body(response, sent=sent)
    ok = (response.status_code == 202 and isinstance(body, dict) and body.get("status") == "queued"
          and isinstance(body.get("job_id"), str) and body["job_id"])
    if not ok:
        fail(sent=sent, got=describe(response), expected=f"202 Accepted with JSON {JOB_SHAPE}")
