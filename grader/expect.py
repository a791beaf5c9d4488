"""How checks fail: every failure says what was sent, what came back and what was expected."""

from __future__ import annotations

import json
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
