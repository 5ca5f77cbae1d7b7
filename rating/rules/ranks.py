"""Competition ranks, as in the published tables: 1 = most, ties share a rank and the
next rank is skipped (10, 7, 7, 3 → 1, 2, 2, 4)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

K = TypeVar("K")


def competition_ranks(counts: Mapping[K, int]) -> dict[K, int]:
    """key → rank, in rank order (ties by key)."""
    ranks: dict[K, int] = {}
    previous, rank = None, 0
    for position, (key, n) in enumerate(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])), start=1):
        if n != previous:
            rank, previous = position, n
        ranks[key] = rank
    return ranks
