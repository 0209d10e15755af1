"""Exit policies: which output each frame stops at (``level`` k - 1 for output m_k).

* ``deadline T``: the latest output ready within T seconds of the frame's release, read from a
  full simulation of the same stream (the first output if none is ready in time).
* ``confidence t``: the first output whose confidence reaches t; confidence is the mean over
  pixels of the top softmax probability, in [0, 1], so t > 1 never exits early.
* ``budget B``: a budget of B per frame on average (MACs, or seconds of latency) spread
  unevenly by difficulty (Huang et al. 2018): frames exit at the first output whose
  confidence reaches a threshold, and the threshold is the highest whose average cost stays
  within B; easy frames stop early and leave the budget to hard ones.
"""

from __future__ import annotations

import numpy as np

POLICIES = ("deadline", "confidence", "budget")


def confidence(logits: np.ndarray) -> float:
    """Mean over pixels of the top softmax probability of (1, C, H, W) or (1, C) logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    return float(p.max(axis=1).mean())


def by_confidence(conf: np.ndarray, threshold: float) -> np.ndarray:
    """conf [frames, outputs] -> level of the first output reaching ``threshold`` (else the last)."""
    hit = conf >= threshold
    return np.where(hit.any(axis=1), hit.argmax(axis=1), conf.shape[1] - 1).astype(np.int64)


def by_deadline(latency: np.ndarray, deadline: float) -> np.ndarray:
    """latency [frames, outputs] (NaN where not computed) -> the latest output ready in time."""
    ok = np.nan_to_num(latency, nan=np.inf) <= deadline
    last = latency.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)
    return np.where(ok.any(axis=1), last, 0).astype(np.int64)


def by_budget(conf: np.ndarray, cost: np.ndarray, budget: float) -> np.ndarray:
    """Levels whose mean cost (cost[k]: cost of exiting at output k) stays within ``budget``.

    Among the thresholds that meet the budget, the one giving the most computation is chosen.
    """
    candidates = np.unique(np.concatenate([conf.ravel(), [np.inf]]))
    best = np.zeros(conf.shape[0], dtype=np.int64)  # everyone at the first output
    lo, hi = 0, len(candidates) - 1
    while lo <= hi:  # the mean cost grows with the threshold
        mid = (lo + hi) // 2
        levels = by_confidence(conf, candidates[mid])
        if cost[levels].mean() <= budget:
            best, lo = levels, mid + 1
        else:
            hi = mid - 1
    return best
