"""The best sub-network under a MAC budget (paper, Fig. 5), from a MAC grid and an accuracy
grid (rows: depth l = 1..L, columns: width c = 1..C).  Plain Python: no torch needed.

Among the feasible sub-networks (MACs <= budget) the best is the most accurate one (ties go to
fewer MACs, then to the shallower, narrower one); the conventional anytime network can only
pick among full-width outputs (l, C): the best *depth-only* output.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Sequence

from mpsim.errors import MpsimError

Grid = Sequence[Sequence[float]]


def check_grid(grid: Any, what: str, shape: tuple[int, int] | None = None) -> list[list[float]]:
    """A rectangular list of lists of finite numbers (of ``shape`` when given)."""
    if hasattr(grid, "tolist"):  # numpy arrays
        grid = grid.tolist()
    if not isinstance(grid, (list, tuple)) or not grid or not all(isinstance(r, (list, tuple)) for r in grid):
        raise MpsimError(f"{what}: expected a grid (a list of rows)")
    rows = [list(r) for r in grid]
    if len({len(r) for r in rows}) != 1 or not rows[0]:
        raise MpsimError(f"{what}: rows have different lengths")
    for r in rows:
        for v in r:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise MpsimError(f"{what}: every entry must be a finite number, got {v!r}")
    if shape is not None and (len(rows), len(rows[0])) != tuple(shape):
        raise MpsimError(f"{what}: grid is {len(rows)} x {len(rows[0])}, expected {shape[0]} x {shape[1]} "
                         "(rows: depth, columns: width)")
    return rows


def load_grid_file(path: str | os.PathLike[str], key: str) -> list[list[float]]:
    """``key``'s grid from a JSON file (an object holding it, or a bare grid)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MpsimError(f"{path}: no such file")
    try:
        with open(path) as fh:
            obj = json.load(fh)
    except (OSError, ValueError) as exc:
        raise MpsimError(f"{path}: not readable JSON ({type(exc).__name__})") from None
    if isinstance(obj, dict):
        if key not in obj:
            raise MpsimError(f"{path}: no '{key}' grid in it")
        obj = obj[key]
    return check_grid(obj, f"{path} ({key})")


def _entry(l: int, c: int, macs: Grid, acc: Grid) -> dict:
    return {"l": l, "c": c, "name": f"D{l}W{c}", "macs": macs[l - 1][c - 1], "accuracy": acc[l - 1][c - 1]}


def best_under_budget(macs: Grid, accuracy: Grid, budget: float) -> dict:
    """{"budget", "feasible", "best", "best_depth_only", "gain"}; entries hold l, c (1-based),
    name (D{l}W{c}), macs and accuracy.  ``best_depth_only`` is None when even the full-width
    first output does not fit; ``gain`` = best - best_depth_only accuracy."""
    macs = check_grid(macs, "MAC grid")
    accuracy = check_grid(accuracy, "accuracy grid", (len(macs), len(macs[0])))
    L, C = len(macs), len(macs[0])
    cells = [(l, c) for l in range(1, L + 1) for c in range(1, C + 1) if macs[l - 1][c - 1] <= budget]
    if not cells:
        smallest = min(min(r) for r in macs)
        raise MpsimError(f"no sub-network fits within {budget:,.0f} MACs (the smallest needs {smallest:,})")

    def key(lc):
        l, c = lc
        return (-accuracy[l - 1][c - 1], macs[l - 1][c - 1], l, c)

    best = min(cells, key=key)
    depth_only = [(l, c) for l, c in cells if c == C]
    best_d = min(depth_only, key=key) if depth_only else None
    out = {
        "budget": budget,
        "feasible": len(cells),
        "best": _entry(*best, macs, accuracy),
        "best_depth_only": _entry(*best_d, macs, accuracy) if best_d else None,
    }
    out["gain"] = (out["best"]["accuracy"] - out["best_depth_only"]["accuracy"]) if best_d else None
    return out


def feasible_mask(macs: Grid, budget: float) -> list[list[bool]]:
    return [[v <= budget for v in row] for row in macs]
