"""Fingerprints of the drill skeletons as shipped, so an untouched drill reads "not started".

The progress table decides "not started" from the learner's file itself: a drill whose file
is missing, or still matches the fingerprint of the skeleton shipped with this grader, has
not been started, and is not graded (an untouched skeleton fails by design; grading it only
costs time). Every other drill is graded. Nothing here records what the learner did, so
nothing can go stale; the fingerprints change only when a skeleton does, and
tests/test_progress.py fails until they are recorded again with:

    python -m grader.skeletons        # from the workbook root
"""

from __future__ import annotations

import hashlib
import json
import sys
from functools import cache
from pathlib import Path

from grader import manifest

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


def is_pristine(drill: str, path: Path) -> bool:
    known = recorded().get(drill)
    return known is not None and fingerprint(path.read_bytes()) == known


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
