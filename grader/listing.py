"""`docchat-grade --list`: the drills in course order and their checks, with levels."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from grader import manifest, workbook
from grader.report import EXIT_PASSED, EXIT_USAGE
from grader.formats.text import Style


def chosen(args: argparse.Namespace) -> list[manifest.Drill]:
    """Every drill, or only the one that `PATH` / `--drill` names."""
    if args.path is None and args.drill is None:
        return list(manifest.load().drills)
    from grader.api import resolve_drill

    return [manifest.load().drill(resolve_drill(Path(args.path or "."), args.drill))]


def render(drills: list[manifest.Drill], style: Style) -> str:
    dot = " · " if style.unicode else " - "
    width = max((len(c.id) for d in drills for c in d.checks), default=0)
    lines = []
    for number, drill in enumerate(drills, 1):
        lines.append(style.paint(f"{number}. {drill.name}{dot}{drill.title}", "bold")
                     + style.paint(f"{dot}{workbook.lesson(drill.name)}", "dim"))
        for check in drill.checks:
            level = style.paint(check.level.ljust(7), "bold" if check.level == "core" else "dim")
            lines.append(f"   {level}  {check.id.ljust(width)}  {check.title}")
        lines.append("")
    lines.append("core checks are what the lesson teaches (all core passing = the drill passes); "
                 "stretch checks go further.")
    lines.append("Stuck on one? docchat-grade hint CHECK_ID")
    return "\n".join(lines) + "\n"


def document(drills: list[manifest.Drill]) -> str:
    return json.dumps({"drills": [
        {"name": d.name, "title": d.title, "lesson": d.lesson,
         "checks": [{"id": c.id, "level": c.level, "title": c.title, "lesson": c.lesson} for c in d.checks]}
        for d in drills]}, indent=2, ensure_ascii=False) + "\n"


def list_command(args: argparse.Namespace) -> int:
    from grader.api import UsageError

    try:
        if args.format not in ("text", "json"):
            raise UsageError("--list prints text or json")
        drills = chosen(args)
    except UsageError as exc:
        print(f"docchat-grade: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(document(drills) if args.format == "json" else render(drills, Style(sys.stdout)))
    return EXIT_PASSED
