"""Fingerprints of the drill skeletons as shipped, so an untouched drill reads "not started".

"Not started" is decided from the learner's file itself: a drill file that still matches the
fingerprint of the skeleton shipped with this grader (`is_untouched`) is not graded, and is
reported with no passing check (`not_started`): a skeleton fails by design, and a check it
happens to pass (a 422 FastAPI gives for free) is not the learner's work. The single-file
report, the watcher and the progress table ask `is_untouched`, the one place it is decided. Nothing
here records what the learner did, so nothing can go stale; the fingerprints change only when
a skeleton does, and tests/test_progress.py fails until they are recorded again with:

    python -m grader.skeletons        # from the workbook root
"""

from __future__ import annotations

import hashlib
import json
import sys
from functools import cache
from pathlib import Path

from grader import manifest, workbook
from grader.report import CheckResult, Report

SKELETONS_PATH = Path(__file__).with_name("skeletons.json")


def fingerprint(source: bytes) -> str:
    """A hash that ignores line endings and trailing whitespace, which editors change on save."""
    lines = source.decode("utf-8", "replace").splitlines()
    normal = "\n".join(line.rstrip() for line in lines).strip("\n")
    return hashlib.sha256(normal.encode()).hexdigest()


@cache
def recorded() -> dict[str, str]:
    try:
        return json.loads(SKELETONS_PATH.read_text())
    except FileNotFoundError:
        return {}


def is_untouched(path: Path, drill: str) -> bool:
    """Whether `path` is still `drill`'s skeleton as shipped (a missing file is not: it is missing)."""
    known = recorded().get(drill)
    try:
        return known is not None and fingerprint(Path(path).read_bytes()) == known
    except OSError:
        return False


def not_started(drill: str, target: str) -> Report:
    """The report on an untouched skeleton: every check listed, none run, none passing."""
    return Report(drill, target, not_started=True, checks=[
        CheckResult(c.id, c.level, c.title, "skipped", "", c.hint, 0.0) for c in manifest.load().drill(drill).checks])


def graded(path: Path, drill: str | None = None, **kwargs) -> Report:
    """`grader.api.grade_report`, except that an untouched skeleton is reported not started, unrun."""
    from grader.api import grade_report, resolve_drill

    path = Path(path)
    if path.is_file():
        name = resolve_drill(path, drill)
        if is_untouched(path, name):
            return not_started(name, str(path))
    return grade_report(path, drill, **kwargs)


def note(path: Path, drill: str) -> str:
    """What the text report adds for an untouched skeleton: why nothing ran, and what to do."""
    file = workbook.shown(path)
    return (f"not started: {file} is still the skeleton you were given, so no check was run.\n"
            f"Read {workbook.lesson(drill, path)}, then fill in the TODOs in {file}.\n")


def current(drills_dir: Path) -> dict[str, str]:
    """The fingerprint of every manifest drill's skeleton found in `drills_dir`."""
    return {name: fingerprint((drills_dir / f"{name}.py").read_bytes())
            for name in manifest.load().names if (drills_dir / f"{name}.py").is_file()}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    drills_dir = Path(argv[0] if argv else "drills")
    prints = current(drills_dir)
    SKELETONS_PATH.write_text(json.dumps(prints, indent=2, sort_keys=True) + "\n")
    print(f"recorded {len(prints)} skeleton fingerprint(s) from {drills_dir} in {SKELETONS_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
