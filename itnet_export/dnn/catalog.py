"""The sub-networks a DNN offers, as plain dicts, for the simulator to choose among.

``catalog(model)`` lists every (l, c) of the L x C grid (depth-major: (1, 1), (1, 2), ...)
with its resources (``itnet_export.dnn.resources``: MACs, parameters and the largest feature
map in the exported graph's conventions) and its accuracy when one is known.  Export one of
them with ``mpsim export --preset dnn-cifar10 --subnet L,C`` (or ``export_subnet``).
"""

from __future__ import annotations

import os
from typing import Any, Sequence

from itnet_export.dnn.budget import GRID_RANGE, check_grid, load_grid_file
from itnet_export.dnn.model import DNNConfig, DoublyNestedNet
from itnet_export.dnn.resources import resource_maps


def catalog(model: DoublyNestedNet | DNNConfig,
            accuracy: Sequence[Sequence[float]] | str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """[{"l", "c", "name", "macs", "params", "max_fmap_bytes", "accuracy", "depth_only"}, ...].

    ``accuracy``: an L x C grid (fractions), a JSON file holding one under "accuracy" (as the
    demo writes), or None (then every "accuracy" is None).  ``depth_only`` marks the full-width
    outputs (l, C), the only ones a depth-only anytime network has.
    """
    cfg = model.cfg if isinstance(model, DoublyNestedNet) else model
    L, C = cfg.depth, cfg.groups
    if isinstance(accuracy, (str, os.PathLike)):
        accuracy = load_grid_file(accuracy, "accuracy")
    if accuracy is not None:
        accuracy = [list(map(float, r)) for r in check_grid(accuracy, "accuracy grid", (L, C), GRID_RANGE["accuracy"])]
    maps = resource_maps(cfg)
    out = []
    for l in range(1, L + 1):
        for c in range(1, C + 1):
            out.append({
                "l": l, "c": c, "name": f"D{l}W{c}",
                "macs": maps["macs"][l - 1][c - 1],
                "params": maps["params"][l - 1][c - 1],
                "max_fmap_bytes": maps["max_fmap_bytes"][l - 1][c - 1],
                "accuracy": None if accuracy is None else float(accuracy[l - 1][c - 1]),
                "depth_only": c == C,
            })
    return out
