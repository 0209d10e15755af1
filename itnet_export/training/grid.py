"""Grid search over ItNet hyperparameters (L scales, N iterations, K blocks), paper section 3.1.

For every (L, N, K) and family (shared / independent weights) the width f is the largest whose
last output costs fewer than ``budget`` MACs at the preset's input size
(``itnet_export.width_rule.largest_width``); the point is then trained with the ordinary
trainer (``itnet_export.training.trainer.train``) and scored by the AUC of its outputs.

Selection (``select``):

1. discard: within each family, a configuration whose peak mIoU (best output) is <= the
   family's best peak - ``margin`` (0.02) is dropped.  The paper says "the highest peak
   performance over all sets of hyperparameters"; we take that maximum per family, so that a
   family that is worse overall is still ranked (a tolerance of 1e-12 absorbs float error);
2. rank: within each family the kept configurations are ranked by AUC, best = 1 (equal AUCs
   share the better rank);
3. choose: among the (L, N, K) kept in every family, the lowest average rank across families;
   ties go to the higher mean AUC, then the smaller (L, N, K).

Points run in-process one after the other, or on a Dask cluster (``client``): each point is
one task and results do not depend on where it ran (fixed seed and thread count).
"""

from __future__ import annotations

import itertools
import os
import tempfile
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable

from mpsim.distribute import map_tasks
from mpsim.errors import MpsimError

FAMILIES = ("shared", "independent")
MARGIN = 0.02
TOLERANCE = 1e-12
MAX_WIDTH = 255  # the width rule searches f in 4..MAX_WIDTH; reaching it means the budget is too large


@dataclass(frozen=True)
class GridPoint:
    family: str
    scales: int
    iterations: int
    blocks: int

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.scales, self.iterations, self.blocks)

    @property
    def name(self) -> str:
        return f"{self.family}-L{self.scales}-N{self.iterations}-K{self.blocks}"


def expand(scales: Iterable[int], iterations: Iterable[int], blocks: Iterable[int],
           families: Iterable[str] = FAMILIES) -> list[GridPoint]:
    families = list(families)
    for f in families:
        if f not in FAMILIES:
            raise MpsimError(f"unknown family '{f}' (known: {', '.join(FAMILIES)})")
    pts = [GridPoint(f, int(l), int(n), int(k))
           for f in families for l, n, k in itertools.product(scales, iterations, blocks)]
    for p in pts:
        if min(p.key) < 1:
            raise MpsimError(f"grid values must be positive integers: {p.name}")
    if not pts:
        raise MpsimError("the grid is empty")
    return pts


def point_width(preset: str, point: GridPoint, budget: float, num_classes: int) -> tuple[int, int]:
    """(f, MACs of the last output at f) by the width rule, at the preset's input size."""
    from itnet_export.presets import ITNET_PRESETS, get_preset
    from itnet_export.width_rule import largest_width

    if preset not in ITNET_PRESETS:
        get_preset(preset)
    cfg = ITNET_PRESETS[preset].with_(scales=point.scales, iterations=point.iterations, blocks=point.blocks,
                                      shared=point.family == "shared", num_classes=num_classes)
    try:
        f, macs, _ = largest_width(cfg, budget, hi=MAX_WIDTH + 1)
    except ValueError as exc:
        raise MpsimError(f"{point.name}: {exc}") from None
    if f >= MAX_WIDTH:
        h, w = cfg.input_size
        raise MpsimError(f"{point.name}: the budget {budget:,.0f} MACs allows widths beyond {MAX_WIDTH} at {w}x{h}; "
                         "use a smaller --budget-macs")
    return f, macs


def run_point(job: dict[str, Any]) -> dict[str, Any]:
    """Width rule + training of one grid point; a plain dict in, a plain dict out (Dask task)."""
    from itnet_export.data import NUM_CLASSES
    from itnet_export.training.trainer import TrainConfig, train

    point = GridPoint(**job["point"])
    base = dict(job["train"])
    num_classes = NUM_CLASSES.get(base.get("dataset", "digits"), 11)
    width, macs_last = point_width(base.get("preset", "itnet-tiny"), point, job["budget"], num_classes)
    base["model"] = {"width": width, "scales": point.scales, "iterations": point.iterations,
                     "blocks": point.blocks, "shared": point.family == "shared"}
    base["export"] = False
    cfg = TrainConfig.from_dict(base)
    if job.get("out"):
        metrics = train(cfg, os.path.join(job["out"], point.name), resume=True)
    else:
        with tempfile.TemporaryDirectory(prefix=f"mpsim-grid-{point.name}-") as tmp:
            metrics = train(cfg, tmp)
    return {
        **asdict(point),
        "name": point.name,
        "width": width,
        "budget_macs": job["budget"],
        "macs_per_output": metrics["macs_per_output"],
        "miou_per_output": metrics["miou_per_output"],
        "pixel_accuracy_per_output": metrics["pixel_accuracy_per_output"],
        "peak_miou": metrics["peak_miou"],
        "auc": metrics["auc"],
        "epochs": metrics["epochs"],
    }


def _ranks(values: list[float]) -> list[int]:
    """Competition ranks, highest value = 1 (ties share the better rank)."""
    return [1 + sum(1 for w in values if w > v) for v in values]


def select(results: list[dict[str, Any]], margin: float = MARGIN) -> dict[str, Any]:
    """Apply the discard, rank and choice rules; returns annotated points, ranking and choice.

    Each result needs ``family``, ``scales``, ``iterations``, ``blocks``, ``peak_miou`` (or
    ``miou_per_output``) and ``auc``.
    """
    points = []
    for r in results:
        r = dict(r)
        if "peak_miou" not in r:
            r["peak_miou"] = max(r["miou_per_output"])
        points.append(r)
    families = [f for f in FAMILIES if any(p["family"] == f for p in points)]
    for fam in families:
        mine = [p for p in points if p["family"] == fam]
        best = max(p["peak_miou"] for p in mine)
        for p in mine:
            p["discarded"] = p["peak_miou"] <= best - margin + TOLERANCE
            p["family_best_peak"] = best
        kept = [p for p in mine if not p["discarded"]]
        for p, rank in zip(kept, _ranks([p["auc"] for p in kept])):
            p["rank"] = rank
        for p in mine:
            if p["discarded"]:
                p["rank"] = None
    by_key: dict[tuple, dict[str, dict]] = {}
    for p in points:
        by_key.setdefault((p["scales"], p["iterations"], p["blocks"]), {})[p["family"]] = p
    ranking = []
    for key, fams in sorted(by_key.items()):
        ranks = {f: (fams[f]["rank"] if f in fams else None) for f in families}
        eligible = all(r is not None for r in ranks.values())
        aucs = [fams[f]["auc"] for f in families if f in fams]
        ranking.append({
            "scales": key[0], "iterations": key[1], "blocks": key[2], "ranks": ranks, "eligible": eligible,
            "average_rank": sum(ranks.values()) / len(ranks) if eligible else None,
            "mean_auc": sum(aucs) / len(aucs),
        })
    eligible = [r for r in ranking if r["eligible"]]
    eligible.sort(key=lambda r: (r["average_rank"], -r["mean_auc"], r["scales"], r["iterations"], r["blocks"]))
    ranking.sort(key=lambda r: (r["average_rank"] is None, r["average_rank"] or 0, -r["mean_auc"],
                                r["scales"], r["iterations"], r["blocks"]))
    selected = None
    if eligible:
        best = eligible[0]
        selected = {k: best[k] for k in ("scales", "iterations", "blocks", "average_rank", "ranks", "mean_auc")}
        selected["widths"] = {f: by_key[(best["scales"], best["iterations"], best["blocks"])][f].get("width")
                              for f in families}
    return {"margin": margin, "families": families, "points": points, "ranking": ranking, "selected": selected}


def run_grid(points: list[GridPoint], train: dict[str, Any], budget: float, out: str | None = None,
             scheduler: str | None = None, workers: int | None = None,
             progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Run every point in-process, on a Dask scheduler or on a local Dask cluster (the one
    mechanism of ``mpsim.distribute``, shared with ``mpsim sweep``); results in grid order."""
    jobs = [{"point": asdict(p), "train": dict(train), "budget": float(budget),
             "out": os.path.abspath(out) if out else None} for p in points]
    return map_tasks(run_point, jobs, scheduler=scheduler, workers=workers, progress=progress)
