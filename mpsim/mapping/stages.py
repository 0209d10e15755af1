"""Cutting a sequence of units into per-chip stages where the fewest bytes cross.

Units (or ops) stay in topological order; a stage is a contiguous run of them that fits one
chip. The fewest chips that can hold the sequence is found first (greedy filling is optimal
for contiguous runs), then, with exactly that many stages, the cut points that move the fewest
bytes per frame (dynamic programming over cut positions).
"""

from __future__ import annotations

import math

import numpy as np


def _ends(size: np.ndarray, extra: np.ndarray, capacity: float) -> np.ndarray:
    """end[a]: one past the last item a stage starting at item a can hold (a if none fits)."""
    m = len(size)
    prefix = np.concatenate([[0.0], np.cumsum(size)])
    end = np.zeros(m, dtype=np.int64)
    b = 0
    for a in range(m):
        b = max(b, a)
        # the largest b with sum(size[a:b]) + max(extra[a:b]) <= capacity
        hi = b
        peak = extra[a:hi].max(initial=0.0) if hi > a else 0.0
        while hi < m and prefix[hi + 1] - prefix[a] + max(peak, extra[hi]) <= capacity:
            peak = max(peak, extra[hi])
            hi += 1
        end[a] = hi
        b = hi
    return end


def cut_stages(size: np.ndarray, extra: np.ndarray, capacity: float, crossing: np.ndarray) -> np.ndarray | None:
    """Stage index of every item, or None when some item alone exceeds ``capacity``.

    A stage holds sum(size) + max(extra) of its items (weights plus the largest live set);
    ``crossing[c]`` is the bytes per frame that cross a cut just before item c (c >= 1).
    """
    size, extra = np.asarray(size, dtype=float), np.asarray(extra, dtype=float)
    m = len(size)
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    end = _ends(size, extra, capacity)
    if np.any(end <= np.arange(m)):
        return None
    k, a = 0, 0
    while a < m:  # fewest stages: greedy
        a = int(end[a])
        k += 1
    if k == 1:
        return np.zeros(m, dtype=np.int64)
    inf = math.inf
    cost = np.full((k + 1, m + 1), inf)  # cost[j, c]: j stages cover items [0, c)
    back = np.zeros((k + 1, m + 1), dtype=np.int64)
    cost[0, 0] = 0.0
    for j in range(1, k + 1):
        for a in range(m):
            base = cost[j - 1, a]
            if base == inf:
                continue
            if a > 0:
                base += crossing[a]
            for c in range(a + 1, int(end[a]) + 1):
                if base < cost[j, c]:
                    cost[j, c], back[j, c] = base, a
    stage = np.zeros(m, dtype=np.int64)
    c = m
    for j in range(k, 0, -1):
        a = int(back[j, c])
        stage[a:c] = j - 1
        c = a
    return stage
