"""The grading process: the only place the learner's code runs.

It imports the module once as a preflight (so a broken module gets one clear sentence),
then runs the drill's checks with pytest. Everything it learns goes down the report
channel; its stdout and stderr belong to the learner and are only captured.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

CHECKS_DIR = Path(__file__).resolve().parent.parent / "checks"
PYTEST_ARGS = [
    "-p", "grader.engine.plugin", "-p", "no:cacheprovider", "-p", "no:stepwise", "-p", "no:doctest",
    "-p", "no:junitxml", "-p", "no:pastebin", "-p", "no:legacypath",
    "-c", str(CHECKS_DIR / "pytest.ini"), "--rootdir", str(CHECKS_DIR),
    "-s", "-W", "ignore", "--assert=plain", "-p", "no:terminal", "-p", "no:logging", "-p", "no:warnings",
    "-p", "no:faulthandler", "-p", "no:setuponly", "-p", "no:setupplan", "-p", "no:debugging",
]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="grader.engine.examiner")
    parser.add_argument("--target", required=True)
    parser.add_argument("--drill", required=True)
    parser.add_argument("--channel", type=int, required=True)
    parser.add_argument("--scratch", required=True)
    parser.add_argument("--only", default="")
    parser.add_argument("--checks", action="append", default=[])
    return parser.parse_args(argv)


def preflight(target: Path, workdir: Path) -> str | None:
    """Import the module once; return why it cannot be graded, or None."""
    from grader.engine.learner import LearnerError, check_app, load

    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)
    try:
        check_app(load(target), target)
    except LearnerError as exc:
        return str(exc)
    return None


def main(argv: list[str]) -> int:
    args = parse(argv)
    from grader.engine.channel import Channel

    channel = Channel(args.channel)
    target, scratch = Path(args.target).resolve(), Path(args.scratch)
    repeatable = []
    if os.environ.get("DOCCHAT_SEED"):  # batch runs: see grader/engine/determinism.py
        from grader.engine import determinism

        determinism.install(os.environ["DOCCHAT_SEED"])
        repeatable = ["-p", "grader.engine.determinism"]
    problem = preflight(target, scratch / "import")
    if problem:
        channel.send("fatal", error=problem)
        return 0
    channel.send("ready")

    import pytest

    files = [str(CHECKS_DIR / f"check_{args.drill}.py"), *args.checks]
    code = pytest.main([*files, *PYTEST_ARGS, *repeatable, f"--docchat-target={target}",
                        f"--docchat-drill={args.drill}", f"--docchat-channel={os.dup(args.channel)}",
                        f"--docchat-scratch={scratch}", f"--docchat-only={args.only}"])
    channel.send("done", pytest_exit=int(code))
    # Skip interpreter teardown: the learner's threads and atexit hooks have nothing to add.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
