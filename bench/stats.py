"""Small statistics helpers (nearest-rank percentiles; no numpy)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def pct(values: Sequence[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None
