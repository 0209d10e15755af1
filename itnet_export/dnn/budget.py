"""The best sub-network under a MAC budget (paper, Fig. 5), from a MAC grid and an accuracy
grid (rows: depth l = 1..L, columns: width c = 1..C).  Plain Python: no torch needed.

Among the feasible sub-networks (MACs <= budget) the best is the most accurate one (ties go to
fewer MACs, then to the shallower, narrower one); the conventional anytime network can only
pick among full-width outputs (l, C): the best *depth-only* output.
"""

from __future__ import annotations

import math
import os
from typing import Any, Sequence

from mpsim import jsonfile
from mpsim.errors import MpsimError
from mpsim.limits import MAX_GRAPH_FILE_BYTES, MAX_MACS, MAX_SUBNET_INDEX, real_problem

Grid = Sequence[Sequence[float]]

# The values a grid of each kind may hold: an accuracy is a fraction, resources are counts.
GRID_RANGE = {"accuracy": (0.0, 1.0), "macs": (0.0, MAX_MACS), "params": (0.0, MAX_MACS),
              "max_fmap_bytes": (0.0, 1e15)}


def check_grid(grid: Any, what: str, shape: tuple[int, int] | None = None,
               bounds: tuple[float, float] | None = None) -> list[list[float]]:
    """A rectangular list of lists of finite numbers (of ``shape``, within ``bounds``, when given)."""
    if hasattr(grid, "tolist"):  # numpy arrays
        grid = grid.tolist()
    if not isinstance(grid, (list, tuple)) or not grid or not all(isinstance(r, (list, tuple)) for r in grid):
        raise MpsimError(f"{what}: expected a grid (a list of rows)")
    rows = [list(r) for r in grid]
    if len({len(r) for r in rows}) != 1 or not rows[0]:
        raise MpsimError(f"{what}: rows have different lengths")
    if len(rows) > MAX_SUBNET_INDEX or len(rows[0]) > MAX_SUBNET_INDEX:
        raise MpsimError(f"{what}: {len(rows)} x {len(rows[0])} is larger than the limit of {MAX_SUBNET_INDEX} "
                         "rows or columns")
    lo, hi = bounds or (-math.inf, math.inf)
    for i, r in enumerate(rows):
        for j, v in enumerate(r):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise MpsimError(f"{what}: every entry must be a finite number, got {str(v)[:40]} at row {i + 1}, "
                                 f"column {j + 1}")
            problem = bounds and real_problem(v, lo, hi)
            if problem:
                raise MpsimError(f"{what}: row {i + 1}, column {j + 1}: {problem}")
    if shape is not None and (len(rows), len(rows[0])) != tuple(shape):
        raise MpsimError(f"{what}: grid is {len(rows)} x {len(rows[0])}, expected {shape[0]} x {shape[1]} "
                         "(rows: depth, columns: width)")
    return rows


def load_grid_file(path: str | os.PathLike[str], key: str) -> list[list[float]]:
    """``key``'s grid from a JSON file (an object holding it, or a bare grid)."""
    path = os.fspath(path)
    obj = jsonfile.load(path, MAX_GRAPH_FILE_BYTES, f"{key} grid file")
    if isinstance(obj, dict):
        if key not in obj:
            raise MpsimError(f"{path}: no '{key}' grid in it")
        obj = obj[key]
    return check_grid(obj, f"{path} ({key})", bounds=GRID_RANGE.get(key))


def _entry(l: int, c: int, macs: Grid, acc: Grid) -> dict:
    return {"l": l, "c": c, "name": f"D{l}W{c}", "macs": macs[l - 1][c - 1], "accuracy": acc[l - 1][c - 1]}


def best_under_budget(macs: Grid, accuracy: Grid, budget: float) -> dict:
    """{"budget", "feasible", "best", "best_depth_only", "gain"}; entries hold l, c (1-based),
    name (D{l}W{c}), macs and accuracy.  ``best_depth_only`` is None when even the full-width
    first output does not fit; ``gain`` = best - best_depth_only accuracy."""
    macs = check_grid(macs, "MAC grid", bounds=GRID_RANGE["macs"])
    accuracy = check_grid(accuracy, "accuracy grid", (len(macs), len(macs[0])), GRID_RANGE["accuracy"])
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
