"""`batch --shard K/N`: a stable split of the learners, so N machines grade a course in parallel."""

from __future__ import annotations

import argparse
import hashlib


def parse(text: str) -> tuple[int, int]:
    """'2/4' -> (2, 4); K runs from 1 to N."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not K/N, e.g. 1/4") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"{text!r}: K must be between 1 and N")
    return k, n


def mine(learner: str, k: int, n: int) -> bool:
    """Whether `learner` is in shard K of N: by a hash of the id, the same on every machine."""
    return int.from_bytes(hashlib.sha256(learner.encode()).digest()[:8], "big") % n == k - 1


def label(shard: tuple[int, int] | None) -> str | None:
    return f"{shard[0]}/{shard[1]}" if shard else None
