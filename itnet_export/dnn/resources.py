"""Resource maps of the DNN's L x C sub-networks (paper, Fig. 3): MACs, parameters and the
largest feature map, with the conventions of the exported graph.

* MACs: multiply-accumulates of convolutions and linear layers (``mpsim.ir.ops``), counted
  dense: the causal mask's structural zeros are part of the exported convolution weight, so a
  sub-network of width c runs (c/C)^2 of a full-width convolution.  ``nonzero=True`` counts
  only the weights the mask keeps (what a block-sparse kernel would run).
* params: what the exported graph stores (``mpsim.analysis.metrics.param_count``): every
  convolution weight plus the bias batch-norm folding gives it, and the linear head.
* max_fmap_bytes: the largest activation tensor any layer produces (float32, batch 1); the
  network input is not counted.

Computed with forward hooks on the extracted torch sub-networks (one forward per width, well
under a second for the 16 x 22 grid); ``graph_resources`` measures the same three figures on an exported graph, and the
tests check that both agree.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn as nn

from itnet_export.dnn.model import CausalConv2d, DNNConfig, DoublyNestedNet

KEYS = ("macs", "params", "max_fmap_bytes")


def _leaf_cost(mod: nn.Module, out: torch.Tensor, nonzero: bool) -> tuple[int, int]:
    """(MACs, parameters in exported form) of one leaf layer's call at batch 1."""
    if isinstance(mod, nn.Conv2d):
        k = mod.kernel_size[0] * mod.kernel_size[1]
        if nonzero and isinstance(mod, CausalConv2d):
            weights = int(mod.mask.sum().item()) * k
        else:
            weights = mod.weight.numel()
        # every DNN convolution is followed by BN, which folding turns into a bias
        return out[0, 0].numel() * weights, weights + mod.out_channels
    if isinstance(mod, nn.Linear):
        bias = 0 if mod.bias is None else mod.bias.numel()
        return out[0].numel() * mod.in_features, mod.weight.numel() + bias
    return 0, 0


def _measure(model: nn.Module, parts: list[nn.Module], input_shape: tuple[int, ...], nonzero: bool,
             dtype_bytes: int) -> list[dict[str, int]]:
    """Run ``model`` once at batch 1; MACs, params and largest output per part."""
    owner = {id(m): i for i, p in enumerate(parts) for m in p.modules()}
    acc = [{"macs": 0, "params": 0, "max_fmap_bytes": 0} for _ in parts]
    counted: set[int] = set()

    def hook(mod, inp, out):
        a = acc[owner[id(mod)]]
        a["max_fmap_bytes"] = max(a["max_fmap_bytes"], out[0].numel() * dtype_bytes)
        macs, params = _leaf_cost(mod, out, nonzero)
        a["macs"] += macs
        if id(mod) not in counted:  # a layer called twice stores its weights once
            a["params"] += params
            counted.add(id(mod))

    leaves = [m for p in parts for m in p.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # batch-1 passes of small layers: threads only add overhead
    try:
        with torch.no_grad():
            model.eval()(torch.zeros((1,) + tuple(input_shape[1:])))
    finally:
        torch.set_num_threads(threads)
        for h in handles:
            h.remove()
    return acc


def subnet_resources(sub: nn.Module, input_shape: tuple[int, ...], nonzero: bool = False,
                     dtype_bytes: int = 4) -> dict[str, int]:
    """MACs, parameters (exported form) and largest feature map bytes of any torch module
    built from the DNN's layers (an extracted sub-network, or the plain baseline)."""
    return _measure(sub, [sub], input_shape, nonzero, dtype_bytes)[0]


def _input_shape(cfg: DNNConfig) -> tuple[int, ...]:
    return (1, cfg.in_channels, *cfg.input_size)


@lru_cache(maxsize=8)
def _maps(cfg: DNNConfig, nonzero: bool) -> dict[str, tuple[tuple[int, ...], ...]]:
    """One forward per width c through extract(L, c); depth l sums the stem and blocks < l and
    adds the head of (l, c) (a linear layer from c*g_l pooled features to the classes)."""
    torch.manual_seed(0)
    model = DoublyNestedNet(cfg).eval()
    L, C, K = cfg.depth, cfg.groups, cfg.num_classes
    grid = {k: [[0] * C for _ in range(L)] for k in KEYS}
    for c in range(1, C + 1):
        sub = model.extract(L, c)
        parts = _measure(sub, [sub.stem, *sub.blocks], _input_shape(cfg), nonzero, 4)
        macs = params = fmap = 0
        for l in range(1, L + 1):
            p = parts[l - 1]
            macs, params, fmap = macs + p["macs"], params + p["params"], max(fmap, p["max_fmap_bytes"])
            n = c * cfg.depth_group_channels(l)
            grid["macs"][l - 1][c - 1] = macs + n * K
            grid["params"][l - 1][c - 1] = params + n * K + K
            grid["max_fmap_bytes"][l - 1][c - 1] = max(fmap, 4 * n, 4 * K)
    return {k: tuple(tuple(row) for row in v) for k, v in grid.items()}


def resource_maps(cfg: DNNConfig = DNNConfig(), nonzero: bool = False) -> dict[str, list[list[int]]]:
    """{"macs", "params", "max_fmap_bytes"}: L x C lists (rows: depth l, columns: width c)."""
    return {k: [list(r) for r in v] for k, v in _maps(cfg, nonzero).items()}


def graph_resources(g) -> dict[str, int]:
    """The same three figures measured on an exported graph with a single output."""
    from mpsim.analysis.metrics import macs_per_output, param_count
    from mpsim.ir.loops import unroll

    u = unroll(g)
    fmap = max(u.tensors[t].nbytes for n in u.nodes for t in n.outputs)
    return {"macs": macs_per_output(g)[0][0], "params": param_count(g), "max_fmap_bytes": fmap}
