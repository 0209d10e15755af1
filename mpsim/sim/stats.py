"""Streaming statistics: memory stays flat however many frames run.

Latencies go into log-spaced histograms (0.1 % relative resolution), so mean is exact and
p50/p99 are within 0.1 %; no per-frame lists are kept unless a caller asks to record them.
"""

from __future__ import annotations

import math

import numpy as np

_LO = 1e-12  # seconds: the smallest latency a bin can hold
_GROWTH = 1.001
_BINS = int(math.ceil(math.log(1e4 / _LO) / math.log(_GROWTH))) + 1


class LatencyHistogram:
    def __init__(self, n_outputs: int) -> None:
        self.counts = np.zeros((n_outputs, _BINS), dtype=np.int64)
        self.total = np.zeros(n_outputs)
        self.n = np.zeros(n_outputs, dtype=np.int64)

    def add(self, out: int, latency: float) -> None:
        b = int(math.log(max(latency, _LO) / _LO) / math.log(_GROWTH))
        self.counts[out, min(b, _BINS - 1)] += 1
        self.total[out] += latency
        self.n[out] += 1

    def add_many(self, counts: np.ndarray, total: np.ndarray, n: np.ndarray) -> None:
        self.counts += counts
        self.total += total
        self.n += n

    def mean(self) -> list[float | None]:
        return [float(t / k) if k else None for t, k in zip(self.total, self.n)]

    def quantile(self, q: float) -> list[float | None]:
        out = []
        for row, k in zip(self.counts, self.n):
            if not k:
                out.append(None)
                continue
            b = int(np.searchsorted(np.cumsum(row), math.ceil(q * k)))
            out.append(_LO * _GROWTH ** (b + 0.5))
        return out


def bin_index(latency: float) -> int:
    """The histogram bin of a latency (shared with the compiled engine)."""
    b = int(math.log(max(latency, _LO) / _LO) / math.log(_GROWTH))
    return min(b, _BINS - 1)


N_BINS = _BINS
BIN_LO = _LO
BIN_GROWTH = _GROWTH
