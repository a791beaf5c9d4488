"""`docchat-grade`: grade a drill file and report, for a learner at a terminal or for CI.

`docchat-grade PATH` grades one file. A first word naming a subcommand hands the rest of
the command line to that subcommand's module (each has its own `main(argv) -> int`).
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from pathlib import Path

from grader.report import EXIT_GRADER_BROKE, EXIT_USAGE

USAGE = ("docchat-grade [PATH] [--watch] [--drill NAME] [--format FORMAT] | docchat-grade --list | "
         "docchat-grade hint CHECK_ID|DRILL | docchat-grade batch SUBMISSIONS_DIR --out OUT_DIR | "
         "docchat-grade merge OUT_DIR... --out OUT_DIR | docchat-grade gradescope-zip | docchat-grade dev check")

# subcommand -> module with `main(argv: list[str]) -> int`
SUBCOMMANDS: dict[str, str] = {"hint": "grader.hints", "batch": "grader.batch", "merge": "grader.batch.merge",
                               "gradescope-zip": "grader.gradescope_zip", "dev": "grader.dev"}

# --format name -> module with `render(report) -> str`
FORMATS: dict[str, str] = {"text": "grader.formats.text", "json": "grader.report", "junit": "grader.formats.junit",
                           "gradescope": "grader.formats.gradescope"}


def parser() -> argparse.ArgumentParser:
    from grader.engine.runner import add_limit_options

    p = argparse.ArgumentParser(
        prog="docchat-grade", usage=USAGE,
        description="Grade a DocChat drill file: every check, what works, what does not, and a hint.",
        epilog="Exit codes: 0 every core check passed; 1 a check failed or the file could not be "
               "graded; 2 usage error; 3 the grader itself broke.")
    p.add_argument("path", nargs="?", help="the drill file, e.g. drills/upload.py; with none, every "
                   "drill's progress in the workbook")
    p.add_argument("--watch", action="store_true", help="re-grade PATH every time it is saved; with no "
                   "PATH, follow the course: watch the current drill, then the next once its core passes")
    p.add_argument("--list", action="store_true", help="list the drills and their checks, with levels")
    p.add_argument("--workbook", metavar="DIR", help="the workbook (default: found from the current folder)")
    p.add_argument("--drill", help="which drill the file is (default: from the file name)")
    p.add_argument("--format", choices=sorted(FORMATS), default="text", help="report format")
    add_limit_options(p)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Stopped by CI or `timeout` (SIGTERM) as by Ctrl-C: the sandbox and scratch folders are
    # ended and removed on the way out.
    if threading.current_thread() is threading.main_thread():  # (a script may call main() from a thread)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return _main(argv)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception:  # noqa: BLE001 - a bug of ours: exit 3, never 1 ("a check failed")
        import traceback

        traceback.print_exc()
        print("docchat-grade: the grader itself broke (a bug in docchat-grade, not in the files graded); "
              "the traceback above says where", file=sys.stderr)
        return EXIT_GRADER_BROKE


EXIT_INTERRUPTED = 130  # as a shell reports a command stopped by Ctrl-C


def _main(argv: list[str]) -> int:
    if argv and argv[0] in SUBCOMMANDS:
        return importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else 0
    if args.list:
        from grader.listing import list_command
        return list_command(args)
    if args.watch:
        from grader.watch import watch_command
        return watch_command(args)
    if args.path is None:
        from grader.progress import progress_command
        return progress_command(args)
    return grade_command(args)


def grade_command(args: argparse.Namespace) -> int:
    from grader import skeletons, workbook
    from grader.api import UsageError
    from grader.engine.runner import GraderBroke, limits_from

    path = Path(args.path)
    try:
        report = skeletons.graded(path, args.drill, limits=limits_from(args), isolation=args.sandbox)
    except UsageError as exc:
        meant = workbook.suggestion(path)
        print(f"docchat-grade: {meant or exc}\nusage: {USAGE}", file=sys.stderr)
        return EXIT_USAGE
    except GraderBroke as exc:
        print(f"docchat-grade: the grader itself broke: {exc}", file=sys.stderr)
        return EXIT_GRADER_BROKE
    sys.stdout.write(importlib.import_module(FORMATS[args.format]).render(report))
    if report.not_started and args.format == "text":
        sys.stdout.write("\n" + skeletons.note(path, report.drill))
    return report.exit_code
