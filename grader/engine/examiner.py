"""The examiner: runs a drill's checks with pytest, and never imports the learner's code.

It starts the sandboxed app host template (grader.engine.isolation), has one app host import
the module as a preflight (so a broken module gets one clear sentence), then runs the
checks; each check's `load_learner` gets a fresh app host. Everything it learns goes down
the report channel.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHECKS_DIR = Path(__file__).resolve().parent.parent / "checks"
PYTEST_ARGS = [
    "-p", "grader.engine.plugin", "-p", "no:cacheprovider", "-p", "no:stepwise", "-p", "no:doctest",
    "-p", "no:junitxml", "-p", "no:pastebin", "-p", "no:legacypath",
    "-c", str(CHECKS_DIR / "pytest.ini"), "--rootdir", str(CHECKS_DIR),
    "-s", "-W", "ignore", "--assert=plain", "-p", "no:terminal", "-p", "no:logging", "-p", "no:warnings",
    "-p", "no:faulthandler", "-p", "no:setuponly", "-p", "no:setupplan", "-p", "no:debugging",
    "-p", "no:unraisableexception", "-p", "no:threadexception",  # their gc passes at exit cost 50 ms
]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="grader.engine.examiner")
    parser.add_argument("--target", required=True, help="the grader's private copy of the file")
    parser.add_argument("--name", default="", help="the file's name, as the learner knows it")
    parser.add_argument("--drill", required=True)
    parser.add_argument("--channel", type=int, required=True)
    parser.add_argument("--scratch", required=True)
    parser.add_argument("--only", default="")
    parser.add_argument("--checks", action="append", default=[])
    parser.add_argument("--isolation", default="auto")
    parser.add_argument("--memory-mb", type=int, default=1024)
    parser.add_argument("--file-mb", type=int, default=512)
    return parser.parse_args(argv)


def preflight(template, source: bytes, name: str, workdir: Path, drill: str) -> str | None:
    """Import the module once, in an app host; return why it cannot be graded, or None."""
    from grader import manifest
    from grader.engine.learner import LearnerError
    from grader.engine.remote import AppHostGone

    workdir.mkdir(parents=True, exist_ok=True)
    try:
        host = template.spawn(workdir)
    except LearnerError as exc:
        return str(exc)
    try:
        loaded = host.load(source, name, workdir, {})
        other = manifest.load().looks_like(drill, {n for n in loaded.get("names", []) if isinstance(n, str)})
        if other:
            missing = [s for s in manifest.load().drill(drill).seams if s not in loaded["names"]]
            return (f"{name} looks like the {other} drill, not the {drill} drill: it defines "
                    f"{', '.join(manifest.load().drill(other).seams)} but not {', '.join(missing)}. Grade it "
                    f"as that drill (`--drill {other}`), or check that this is the file you meant")
    except AppHostGone:
        return (f"the process that runs your code ended while importing {name}: does it call "
                "os._exit() or crash at import time?")
    except LearnerError as exc:
        return str(exc)
    finally:
        host.close()
    return None


class Preflight:
    """The learner's module imported once, in a thread, while pytest starts and collects.

    It tells the runner at once: `ready`, or `fatal` with the one sentence that says why the
    module cannot be graded. `passed()` waits for it (the plugin, before it sends the plan).
    """

    def __init__(self, channel: Any, backend: str, attempt: Callable[[], str | None]) -> None:
        self.channel, self.backend, self._attempt = channel, backend, attempt
        self._outcome: list[Any] = []  # [problem or None] or [the grader's own exception]
        self._thread = threading.Thread(target=self._run, name="docchat-preflight", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            problem = self._attempt()
        except BaseException as exc:  # noqa: BLE001 - the grader's: raised again where pytest reports it
            self._outcome.append(exc)
            return
        self._outcome.append(problem)
        if problem:
            self.channel.send("fatal", error=problem)
        else:
            self.channel.send("ready", isolation=self.backend)

    def passed(self) -> bool:
        self._thread.join()
        if isinstance(self._outcome[0], BaseException):
            raise self._outcome[0]
        return not self._outcome[0]


def main(argv: list[str]) -> int:
    args = parse(argv)
    from grader.engine import isolation  # light: the template starts before the heavy imports
    from grader.engine.channel import Channel

    channel = Channel(args.channel)
    target, scratch = Path(args.target).resolve(), Path(args.scratch)
    name = args.name or target.name
    source = target.read_bytes()
    seed = os.environ.get("DOCCHAT_SEED", "")
    # The grade's lane (its own, or a batch lane) lends its template, started before this
    # process; else one is started first, to warm up while pytest and the kit are imported here.
    template = isolation.Template.lent()
    if template is None:
        from grader import manifest

        # The runner names the backend it chose (and probed); "auto" only from tools that do not.
        backend = args.isolation if args.isolation in isolation.BACKENDS else isolation.choose(args.isolation)
        template = isolation.Template(backend, scratch, memory_mb=args.memory_mb, file_mb=args.file_mb,
                                      seed=seed, preload=manifest.load().preload(args.drill))
    repeatable = []
    if seed:  # batch runs: see grader/engine/determinism.py
        from grader.engine import determinism

        determinism.install(seed)
        repeatable = ["-p", "grader.engine.determinism"]
    try:
        # The module's first import runs while pytest is imported, starts and collects; the
        # plugin waits for its verdict before it sends the plan.
        checked = Preflight(channel, template.backend, lambda: preflight(
            template, source, name, scratch / "import" / "work", args.drill))  # a folder of its own
        import pytest

        from grader.engine import plugin, session

        for module in plugin.pytest_plugins:  # the kit and the fakes, before pytest asks for them
            importlib.import_module(module)
        session.PREPARED.update(template=template, source=source, preflight=checked)
        files = [str(CHECKS_DIR / f"check_{args.drill}.py"), *args.checks]
        code = pytest.main([*files, *PYTEST_ARGS, *repeatable, f"--docchat-target={name}",
                            f"--docchat-drill={args.drill}", f"--docchat-channel={os.dup(args.channel)}",
                            f"--docchat-scratch={scratch}", f"--docchat-only={args.only}"])
        if checked.passed():
            channel.send("done", pytest_exit=int(code))
    finally:
        template.close()
    # Skip interpreter teardown: nothing here has more to say.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
