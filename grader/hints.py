"""`docchat-grade hint CHECK_ID`: a nudge, then on a second ask a stronger one, then the lesson.

`docchat-grade hint DRILL` lists that drill's checks, to pick one from.

The hints live in the ordered manifest, never in the drill file. How many times each hint
was asked is the only thing remembered, in `.docchat/hints.json` under the workbook (kept
out of git): it is a courtesy, not progress, so `--reset` simply forgets it.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import textwrap
from pathlib import Path

from grader import manifest, workbook
from grader.atomic import write_atomic
from grader.report import EXIT_PASSED, EXIT_USAGE
from grader.formats.text import Style


class UnknownCheck(LookupError):
    def __init__(self, given: str, close: list[str]) -> None:
        super().__init__(given)
        self.given, self.close = given, close


def resolve(given: str) -> manifest.Check:
    """A check by its id, or by the part after the dot when only one drill has it."""
    checks = [c for d in manifest.load().drills for c in d.checks]
    matches = [c for c in checks if c.id == given] or [c for c in checks if c.id.endswith("." + given)]
    if len(matches) == 1:
        return matches[0]
    ids = [c.id for c in checks]
    close = [c.id for c in matches] or difflib.get_close_matches(given, ids, n=3, cutoff=0.7)
    if not close:  # a typo in the behaviour part alone: "accept_pdf" for "upload.accepts_pdf"
        tails = {c.id.split(".", 1)[1]: c.id for c in checks}
        close = [tails[t] for t in difflib.get_close_matches(given, list(tails), n=3, cutoff=0.7)]
    raise UnknownCheck(given, close)


class Memory:
    """How many times each check's hint was asked, in the workbook's `.docchat/hints.json`."""

    def __init__(self, root: Path | None) -> None:
        self.path = root / workbook.STATE_DIR / "hints.json" if root else None
        self.asked: dict[str, int] = {}
        if self.path and self.path.is_file():
            try:
                self.asked = {k: int(v) for k, v in json.loads(self.path.read_text()).get("asked", {}).items()}
            except (ValueError, AttributeError, TypeError):
                self.asked = {}  # a damaged file only costs the learner their place in the hints

    def ask(self, check_id: str) -> int:
        self.asked[check_id] = self.asked.get(check_id, 0) + 1
        self.save()
        return self.asked[check_id]

    def forget(self, check_id: str | None) -> None:
        self.asked = {} if check_id is None else {k: v for k, v in self.asked.items() if k != check_id}
        self.save()

    def save(self) -> None:
        if self.path is None:
            return
        write_atomic(self.path, json.dumps({"asked": self.asked}, indent=2, sort_keys=True))


def render(check: manifest.Check, asked: int, style: Style, remembered: bool = True) -> str:
    """Everything unlocked after `asked` asks: hint 1, hint 2, ..., then the lesson to reread."""
    dot = " · " if style.unicode else " - "
    lines = [style.paint(check.id, "bold") + f"{dot}{check.title}", ""]
    shown = check.hints[:asked]
    for number, hint in enumerate(shown, 1):
        label = f"hint {number} of {len(check.hints)}: "
        first, *rest = textwrap.wrap(label + hint, 96, subsequent_indent=" " * len(label))
        lines += [style.paint(label, "bold" if number == asked else "dim") + first[len(label):], *rest]
    lines.append("")
    lesson = workbook.lesson(check.drill)
    if asked > len(check.hints):
        lines.append(style.paint(f'Reread "{check.lesson}" in {lesson}.', "bold"))
        lines.append(f"(docchat-grade hint {check.id} --reset starts this check's hints over.)")
    elif not remembered:
        lines.append("(Run this inside your workbook, or pass --workbook DIR, to get a stronger hint "
                     "when you ask again.)")
    else:
        more = "a stronger hint" if asked < len(check.hints) else "the lesson section to reread"
        lines.append(f"Still stuck? Ask again for {more}: docchat-grade hint {check.id}")
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="docchat-grade hint",
        description="A hint for one check: ask again for a stronger one, then for the lesson section to reread.")
    p.add_argument("check_id", nargs="?", metavar="CHECK_ID", help="e.g. upload.accepts_pdf (see docchat-grade --list); "
                   "a drill's name lists its checks")
    p.add_argument("--reset", action="store_true", help="start this check's hints over (every check's, with no CHECK_ID)")
    p.add_argument("--workbook", metavar="DIR", help="the workbook (default: found from the current folder)")
    return p


def main(argv: list[str]) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_PASSED
    if args.check_id is None and not args.reset:
        print("docchat-grade hint: which check? e.g. docchat-grade hint upload.accepts_pdf "
              "(docchat-grade --list shows them all)", file=sys.stderr)
        return EXIT_USAGE
    if args.check_id in manifest.load().names and not args.reset:  # a drill: which of its checks?
        from grader.listing import render as listing

        sys.stdout.write(f"{args.check_id} is a drill; ask for one of its checks:\n\n"
                         + listing([manifest.load().drill(args.check_id)], Style(sys.stdout)))
        return EXIT_PASSED
    try:
        check = resolve(args.check_id) if args.check_id else None
    except UnknownCheck as exc:
        guess = f" Did you mean: {', '.join(exc.close)}?" if exc.close else ""
        print(f"docchat-grade hint: no check '{exc.given}'.{guess} "
              "docchat-grade --list shows every check.", file=sys.stderr)
        return EXIT_USAGE
    try:
        root = workbook.find(args.workbook)
    except workbook.NoWorkbook as exc:
        if args.workbook or args.reset:
            print(f"docchat-grade hint: {exc}", file=sys.stderr)
            return EXIT_USAGE
        root = None  # still give the first hint, just without memory
    memory = Memory(root)
    if args.reset:
        memory.forget(check.id if check else None)
        print(f"Hints for {check.id if check else 'every check'} start over.")
        return EXIT_PASSED
    asked = memory.ask(check.id) if root else 1
    sys.stdout.write(render(check, asked, Style(sys.stdout), remembered=root is not None))
    return EXIT_PASSED
