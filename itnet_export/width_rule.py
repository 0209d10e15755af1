"""The paper's width rule (section 3.1): the largest f whose last output costs < 2.2 G MACs.

MACs are measured on exported graphs.  Every iteration is identical, so the MACs of the last
output are affine in the number of iterations N: two exports with N = 2 and N = 3 give the
value for any N exactly, at a fraction of the cost of exporting N = 16.
"""

from __future__ import annotations

import torch

from itnet_export.exporter import to_flat_graph
from itnet_export.itnet import ItNet, ItNetConfig
from mpsim.analysis.metrics import macs_per_output

BUDGET = 2.2e9


def _last_macs(cfg: ItNetConfig) -> int:
    h, w = cfg.input_size
    g, _ = to_flat_graph(ItNet(cfg).eval(), torch.zeros(1, cfg.in_channels, h, w))
    return macs_per_output(g)[0][-1]


def last_output_macs(cfg: ItNetConfig) -> int:
    """MACs of m_N for ``cfg`` (exact), from exports with 2 and 3 iterations."""
    if cfg.iterations <= 3:
        return _last_macs(cfg)
    m2, m3 = _last_macs(cfg.with_(iterations=2)), _last_macs(cfg.with_(iterations=3))
    return m2 + (cfg.iterations - 2) * (m3 - m2)


def largest_width(cfg: ItNetConfig, budget: float = BUDGET, lo: int = 4, hi: int = 256) -> tuple[int, int, int]:
    """(f, MACs at f, MACs at f + 1): the largest width whose last output costs < ``budget``."""
    cache: dict[int, int] = {}

    def macs(f: int) -> int:
        if f not in cache:
            cache[f] = last_output_macs(cfg.with_(width=f))
        return cache[f]

    if macs(lo) >= budget:
        raise ValueError(f"even f={lo} costs {macs(lo):,} MACs, over the budget {budget:,.0f}")
    while lo + 1 < hi:  # invariant: macs(lo) < budget <= macs(hi) (hi assumed large enough)
        mid = (lo + hi) // 2
        if macs(mid) < budget:
            lo = mid
        else:
            hi = mid
    return lo, macs(lo), macs(lo + 1)
