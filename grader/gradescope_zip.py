"""`docchat-grade gradescope-zip`: build the autograder zip a Gradescope assignment takes.

Gradescope extracts the zip into /autograder/source and runs `setup.sh` from there once, then
`run_autograder` per submission. So the zip's top level is the installable workbook
(pyproject.toml, README.md, grader/) beside the two scripts (templates/gradescope/), plus what
the assignment adds: `hidden_checks/` (--checks), `grading.toml` (--policy) and
`assignment.env` (the drills graded). Build it from a checkout of the workbook.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

from grader import manifest
from grader.batch import hidden, policy
from grader.report import EXIT_USAGE

USAGE = ("docchat-grade gradescope-zip [--out docchat-autograder.zip] [--drills a,b] [--checks EXTRA_DIR] "
         "[--policy grading.toml] [--workbook DIR] [--strict]")
WORKBOOK = Path(__file__).resolve().parents[1]
PACKAGE_FILES = ("pyproject.toml", "README.md", "LICENSE")
SCRIPTS = ("setup.sh", "run_autograder")
# fixed member times, so the same inputs give the same zip
STAMP = (2020, 1, 1, 0, 0, 0)


class Refused(Exception):
    pass


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="docchat-grade gradescope-zip", usage=USAGE,
                                description="Build the autograder zip for a Gradescope programming assignment.")
    p.add_argument("--out", default="docchat-autograder.zip", help="the zip to write (default: %(default)s)")
    p.add_argument("--drills", metavar="a,b", default="", help="the drills this assignment grades (default: all)")
    p.add_argument("--checks", metavar="EXTRA_DIR", help="hidden checks: the check_*.py files in EXTRA_DIR")
    p.add_argument("--policy", metavar="grading.toml", help="the grading policy (see docs/instructors.md)")
    p.add_argument("--workbook", metavar="DIR", default=str(WORKBOOK),
                   help="the workbook checkout to package (default: this grader's, %(default)s)")
    p.add_argument("--strict", action="store_true", help="refuse hidden checks with warnings")
    return p


def members(args: argparse.Namespace) -> list[tuple[str, bytes, int]]:
    """(name in the zip, content, mode) for every file, in a fixed order."""
    root = Path(args.workbook)
    known = manifest.load().names
    drills = [d.strip() for d in args.drills.split(",") if d.strip()]
    if unknown := [d for d in drills if d not in known]:
        raise Refused(f"unknown drill {', '.join(unknown)}: choose from {', '.join(known)}")
    if not (root / "pyproject.toml").is_file() or not (root / "grader").is_dir():
        raise Refused(f"{root} is not a workbook checkout (no pyproject.toml and grader/): pass --workbook")
    found = [(name, (root / name).read_bytes(), 0o644) for name in PACKAGE_FILES if (root / name).is_file()]
    for path in sorted((root / "grader").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            found.append((path.relative_to(root).as_posix(), path.read_bytes(), 0o644))
    for script in SCRIPTS:
        found.append((script, (root / "templates" / "gradescope" / script).read_bytes(), 0o755))
    if args.checks:
        checks = sorted(Path(args.checks).glob("check_*.py"))
        if not checks:
            raise Refused(f"--checks {args.checks}: no check_*.py files in it")
        said = hidden.warnings(checks, known)
        for line in said:
            print(f"docchat-grade gradescope-zip: warning: {line}", file=sys.stderr)
        if said and args.strict:
            raise Refused("--strict: the hidden checks have the warnings above")
        found += [(f"hidden_checks/{p.name}", p.read_bytes(), 0o644) for p in checks]
    if args.policy:
        policy.load(Path(args.policy), known)  # refuse a bad policy now, not on every submission
        found.append(("grading.toml", Path(args.policy).read_bytes(), 0o644))
    found.append(("assignment.env", f"DOCCHAT_DRILLS={','.join(drills)}\n".encode(), 0o644))
    return found


def write_zip(target: Path, files: list[tuple[str, bytes, int]]) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, mode in files:
            info = zipfile.ZipInfo(name, STAMP)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)


def main(argv: list[str]) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else 0
    try:
        files = members(args)
    except (Refused, policy.PolicyError, OSError) as exc:
        print(f"docchat-grade gradescope-zip: {exc}\nusage: {USAGE}", file=sys.stderr)
        return EXIT_USAGE
    write_zip(Path(args.out), files)
    print(f"docchat-grade gradescope-zip: wrote {args.out} ({len(files)} files); upload it as the "
          "assignment's autograder (Configure Autograder > Zip file upload)")
    return 0
