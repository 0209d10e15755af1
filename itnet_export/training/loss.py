"""The ItNet joint loss (paper, 2.2) and the weight presets of its ablations (3.2).

    L = sum_n a_n / (sum_i a_i) * CE(m_n)

CE is the pixel-wise categorical cross entropy averaged over the pixels whose label is not the
ignore index (255).  A batch with no labelled pixel contributes 0 (not NaN).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from mpsim.errors import MpsimError

IGNORE_INDEX = 255
LOSS_PRESETS = ("uniform", "thinned", "increasing", "single", "late")


def thinned_outputs(n: int) -> list[int]:
    """1-based outputs kept by 'thinned': the first, then powers of two, and the last.

    N = 16 gives 1, 2, 4, 8, 16 (Figure 4c/g of the paper); N = 4 gives 1, 2, 4; N = 6 gives
    1, 2, 4, 6.
    """
    keep = {1, n}
    p = 2
    while p < n:
        keep.add(p)
        p *= 2
    return sorted(keep)


def loss_weights(spec: str | Sequence[float], n: int) -> list[float]:
    """Unnormalised weights a_1..a_N of a preset, or of an explicit list / 'a,b,c' string.

    * ``uniform``: all 1;
    * ``thinned``: 1 at ``thinned_outputs(N)`` (first output kept, sparser later), else 0;
    * ``increasing``: linear from 1 (first output) to 16 (last output); N = 1 gives [1];
    * ``single``: the last output only;
    * ``late``: the last quarter of the outputs (the last ceil(N / 4)).
    """
    if n < 1:
        raise MpsimError(f"a loss needs at least one output, not {n}")
    if isinstance(spec, str) and spec in LOSS_PRESETS:
        if spec == "uniform":
            return [1.0] * n
        if spec == "thinned":
            keep = set(thinned_outputs(n))
            return [1.0 if i + 1 in keep else 0.0 for i in range(n)]
        if spec == "increasing":
            return [1.0] if n == 1 else [1.0 + 15.0 * i / (n - 1) for i in range(n)]
        if spec == "single":
            return [0.0] * (n - 1) + [1.0]
        late = math.ceil(n / 4)
        return [0.0] * (n - late) + [1.0] * late
    if isinstance(spec, str):
        try:
            weights = [float(v) for v in spec.split(",")]
        except ValueError:
            raise MpsimError(f"unknown loss '{spec}' (presets: {', '.join(LOSS_PRESETS)}; "
                             f"or {n} comma-separated weights)") from None
    else:
        weights = [float(v) for v in spec]
    if len(weights) != n:
        raise MpsimError(f"loss weights {weights} give {len(weights)} values for {n} outputs")
    if any(w < 0 or not math.isfinite(w) for w in weights) or sum(weights) <= 0:
        raise MpsimError(f"loss weights must be finite, >= 0 and not all 0: {weights}")
    return weights


def normalised(weights: Sequence[float]) -> list[float]:
    """a_n / sum_i a_i."""
    total = float(sum(weights))
    if total <= 0:
        raise MpsimError(f"loss weights sum to {total}")
    return [float(w) / total for w in weights]


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Mean CE over the labelled pixels (0 when there is none)."""
    total = F.cross_entropy(logits, target, ignore_index=ignore_index, reduction="sum")
    count = (target != ignore_index).sum().clamp_min(1)
    return total / count


def joint_loss(outputs: Sequence[torch.Tensor], target: torch.Tensor, weights: Sequence[float],
               ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """sum_n abar_n * CE(m_n); outputs with weight 0 are skipped (their heads get no gradient)."""
    if len(outputs) != len(weights):
        raise ValueError(f"{len(outputs)} outputs but {len(weights)} loss weights")
    loss = outputs[0].new_zeros(())
    for w, logits in zip(normalised(weights), outputs):
        if w:
            loss = loss + w * cross_entropy(logits, target, ignore_index)
    return loss
