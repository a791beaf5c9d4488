"""The terminal report: a line per check, details for what went wrong, a score line."""

from __future__ import annotations

import functools
import os
import sys
import textwrap
from pathlib import Path
from typing import TextIO

from grader import manifest, workbook
from grader.report import NOT_RUN, Report, hint_for

wrap = functools.partial(textwrap.wrap, break_on_hyphens=False, break_long_words=False)

MARKS = {"passed": ("✓", "v"), "failed": ("✗", "x"), "error": ("!", "!"), "skipped": ("-", "-")}
COLOURS = {"passed": "32", "failed": "31", "error": "33", "skipped": "2", "dim": "2", "bold": "1"}


class Style:
    def __init__(self, stream: TextIO) -> None:
        self.colour = stream.isatty() and not os.environ.get("NO_COLOR")
        encoding = (getattr(stream, "encoding", None) or "ascii").lower()
        self.unicode = encoding.startswith("utf")

    def paint(self, text: str, what: str) -> str:
        return f"\x1b[{COLOURS[what]}m{text}\x1b[0m" if self.colour else text

    def mark(self, status: str) -> str:
        symbol = MARKS[status][0 if self.unicode else 1]
        return self.paint(symbol, status)


def render(report: Report, stream: TextIO | None = None) -> str:
    stream = stream or sys.stdout
    style = Style(stream)
    lines = [style.paint(f"docchat-grade · {report.drill} · {report.target}"
                         if style.unicode else f"docchat-grade - {report.drill} - {report.target}",
                         "bold"), ""]
    if report.error:
        lines += [style.paint("Could not grade this file:", "error"),
                  *wrap(report.error, 88, initial_indent="  ", subsequent_indent="  "), ""]
    width = max((len(c.id) for c in report.checks), default=0)
    # Grading stopped part way (a hang): the checks that ran keep their results.
    not_run = {c.id for c in report.checks if report.error and c.message == NOT_RUN + report.error}
    for level in ("core", "stretch"):
        checks = [c for c in report.checks if c.level == level]
        if not checks or len(not_run) == len(report.checks) and report.error:
            continue
        lines.append(style.paint(f"{level} checks", "bold"))
        for c in checks:
            tag = "" if c.status in ("passed", "failed") else style.paint(
                f"  ({'not run' if c.id in not_run else c.status})", c.status)
            lines.append(f"  {style.mark(c.status)} {c.id.ljust(width)}  {c.title}{tag}")
            if c.id in not_run:
                continue
            if c.status in ("failed", "error") or (c.status == "skipped" and c.message):
                for line in c.message.splitlines():
                    lines += wrap(line, 100, initial_indent="      ", subsequent_indent="                ")
                if hint_for(c):
                    lines += wrap("hint:     " + hint_for(c), 100, initial_indent="      ",
                                  subsequent_indent="                ")
                lines.append("")
        lines.append("")
    lines.append(summary(report, style))
    if report.status == "passed":
        lines.append(celebration(report, style))
    if report.isolation == "none":
        lines.append(style.paint(UNSANDBOXED, "dim"))
    return "\n".join(lines) + "\n"


UNSANDBOXED = ("note: this machine has no sandbox for your code (bubblewrap, or Landlock on Linux 6.7+), "
               "so it ran unconfined; fine for your own file, not for grading others'")


def celebration(report: Report, style: Style) -> str:
    """A drill's core is done: say so, and name the next drill in course order."""
    names = manifest.load().names
    later = names[names.index(report.drill) + 1:] if report.drill in names else []
    cheer = f"{'★' if style.unicode else '*'} {report.drill} done: every core check passes!"
    if not later:
        return style.paint(cheer, "passed") + " That was the last drill: docchat-grade with no file shows them all."
    nxt = manifest.load().drill(later[0])
    target = Path(report.target)
    file = target.with_name(f"{nxt.name}.py") if target.parent.name in ("drills", "") else f"drills/{nxt.name}.py"
    return style.paint(cheer, "passed") + (f" Next drill: {nxt.name} ({workbook.lesson(nxt.name, target)}), "
                                           f"docchat-grade {file}")


def summary(report: Report, style: Style) -> str:
    parts = []
    for level in ("core", "stretch"):
        checks = [c for c in report.checks if c.level == level]
        if checks:
            parts.append(f"{level} {sum(c.status == 'passed' for c in checks)}/{len(checks)}")
    # a file batch did not grade (missing, not started) has an error too: it could not be graded
    status = "error" if report.error is not None else report.status
    verdict = {"passed": "PASSED: every core check passes",
               "failed": "not yet: some core checks fail",
               "error": "ERROR: could not be graded"}[status]
    sep = " · " if style.unicode else " - "
    return sep.join([*parts, f"score {report.score}/{report.max_score}", style.paint(verdict, status)])
