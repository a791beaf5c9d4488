"""Generated cohorts for batch grading: learners whose every drill file has a known verdict.

A learner is a dict drill -> kind. Kinds:
- "solution": solutions/<drill>.py (passes); "skeleton": drills/<drill>.py (not started: not graded);
- "mutant:<name>": that mutant of tests/mutants/<drill>.py (fails its named check);
- "missing": no file;
- hostile, with the drill's solution underneath: "syntax" (cannot be imported), "hang" (every
  request blocks the event loop), "exit" (os._exit at import), "memory" (8 GiB at import),
  "crash" (os._exit inside every request), "killparent" (every request kills its process's
  parent, the sandbox's app host template: the rest of that grade cannot start an app),
  "detached" (starts a detached process that would outlive the grade; still passes).
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from tests.mutants import all_mutants

ROOT = Path(__file__).resolve().parent.parent
MIDDLEWARE = ("\n\n@app.middleware('http')\nasync def _hostile(request, call_next):\n    {code}\n"
              "    return await call_next(request)\n")
HOSTILE = {
    "syntax": lambda src: src + "\ndef broken(:\n    pass\n",
    "hang": lambda src: src + MIDDLEWARE.format(code="import time; time.sleep(3600)"),
    "exit": lambda src: "import os\nos._exit(3)\n" + src,
    "memory": lambda src: "blob = bytearray(8 * 1024 ** 3)\n" + src,
    "crash": lambda src: src + MIDDLEWARE.format(code="import os; os._exit(0)"),
    "killparent": lambda src: src + MIDDLEWARE.format(code="import os, signal; os.kill(os.getppid(), signal.SIGKILL)"),
}
# how each kind of file ends up: the report's status
VERDICT = {"solution": "passed", "skeleton": "not started", "missing": "missing", "syntax": "error",
           "hang": "error", "exit": "error", "memory": "error", "crash": "failed", "detached": "passed",
           "killparent": "failed"}


def detached(marker: str):
    return lambda src: ("import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', "
                        f"'import time; time.sleep(600)', '{marker}'], start_new_session=True, "
                        "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n" + src)


def mutants_of(drill: str) -> dict[str, object]:
    return {m.name: m for m in all_mutants() if m.drill == drill}


def source(drill: str, kind: str, marker: str = "docchat-detached") -> str | None:
    solution = (ROOT / "solutions" / f"{drill}.py").read_text()
    if kind == "solution":
        return solution
    if kind == "skeleton":
        return (ROOT / "drills" / f"{drill}.py").read_text()
    if kind == "missing":
        return None
    if kind.startswith("mutant:"):
        return mutants_of(drill)[kind.split(":", 1)[1]].source()
    if kind == "detached":
        return detached(marker)(solution)
    return HOSTILE[kind](solution)


def verdict(kind: str) -> str:
    return "failed" if kind.startswith("mutant:") else VERDICT[kind]


def write_learner(root: Path, learner: str, kinds: dict[str, str], **kwargs) -> Path:
    folder = root / learner
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "drills").mkdir(parents=True)
    for drill, kind in kinds.items():
        text = source(drill, kind, **kwargs)
        if text is not None:
            (folder / "drills" / f"{drill}.py").write_text(text)
    return folder


def make_cohort(root: Path, learners: dict[str, dict[str, str]], **kwargs) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for learner, kinds in learners.items():
        write_learner(root, learner, kinds, **kwargs)
    return root


def random_cohort(drills: list[str], size: int, seed: int = 1) -> dict[str, dict[str, str]]:
    """A realistic class: mostly working or nearly working code, some unstarted, a few missing."""
    rng = random.Random(seed)
    learners = {}
    for n in range(size):
        kinds = {}
        for drill in drills:
            roll = rng.random()
            mutants = sorted(mutants_of(drill))
            if roll < 0.55:
                kinds[drill] = "solution"
            elif roll < 0.85 and mutants:
                kinds[drill] = "mutant:" + rng.choice(mutants)
            elif roll < 0.95:
                kinds[drill] = "skeleton"
            else:
                kinds[drill] = "missing"
        learners[f"learner{n:03d}"] = kinds
    return learners
