"""Benchmark: run every lesson top to bottom, as the test suite does, and time each.

The lessons must all run in under three minutes on a 2-core machine (issue: lessons).

    python bench/notebooks.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from grader.notebook import with_answers

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 180


def main() -> int:
    total = 0.0
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = with_answers(nbformat.read(path, as_version=4))  # "your turn" cells filled in, as in CI
        started = time.perf_counter()
        NotebookClient(nb, kernel_name="python3", timeout=60,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        took = time.perf_counter() - started
        total += took
        print(f"{path.name:<32} {took:6.1f} s")
    print(f"{'all lessons':<32} {total:6.1f} s  (budget {BUDGET_S} s: "
          f"{'ok' if total < BUDGET_S else 'OVER'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
