"""Repeatable randomness in the grading process, for batch runs whose results must not vary.

With `DOCCHAT_SEED` in its environment, the grading process draws `os.urandom` (and so
`uuid.uuid4()` and the `secrets` module) and `random` from a generator seeded afresh for the
import preflight and for each check, from the seed and the check's id. The ids a learner's
app makes, which a failing check quotes, are then the same on every run. Grading is
otherwise unchanged; nothing here is security-relevant inside a throwaway grading process.
Loaded as a pytest plugin (`-p grader.engine.determinism`) by grader/engine/examiner.py.
"""

from __future__ import annotations

import os
import random

import pytest

SEED_VAR = "DOCCHAT_SEED"
_generator = random.Random()


def _urandom(n: int) -> bytes:
    return _generator.randbytes(n)


def reseed(*parts: str) -> None:
    key = "\0".join(parts)
    _generator.seed(key)
    random.seed(key)


def install(seed: str) -> None:
    os.urandom = _urandom
    random._urandom = _urandom  # what random.SystemRandom, and so `secrets`, reads from
    reseed(seed, "import")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    reseed(os.environ[SEED_VAR], item.nodeid)
