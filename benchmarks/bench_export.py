"""Export plus metrics of the Cityscapes ItNet: how long a user waits for ``mpsim export`` + ``stats``.

Writes benchmarks/results/export.json.  The stages are timed separately; absolute seconds on a
shared machine are noisy, so the figure to watch is each stage's share and the total against
the issue's goal of a few seconds.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from mpsim.analysis.metrics import stats
from mpsim.atomic import write_json

RESULTS = Path(__file__).parent / "results"


def best_of(fn, repeat: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main(preset: str = "itnet-cityscapes") -> dict:
    from itnet_export.exporter import export, to_flat_graph
    from itnet_export.presets import build_preset
    from mpsim.ir.loops import fold

    model, example, meta = build_preset(preset)
    t_capture, (flat, _) = best_of(lambda: to_flat_graph(model, example, preset, meta))
    t_fold, g = best_of(lambda: fold(flat))
    t_stats, s = best_of(lambda: stats(g))
    with tempfile.TemporaryDirectory() as tmp:
        t_export, _ = best_of(lambda: export(model, example, Path(tmp) / "out", preset, meta), repeat=2)
    result = {
        "model": preset,
        "nodes_unrolled": len(flat.nodes),
        "nodes_folded": len(g.nodes),
        "capture_and_translate_s": t_capture,
        "fold_s": t_fold,
        "metrics_s": t_stats,
        "export_with_files_s": t_export,
        "export_plus_metrics_s": t_export + t_stats,
        "goal_s": 5.0,
    }
    write_json(RESULTS / "export.json", result)
    for k, v in result.items():
        print(f"{k:>26}: {v:.3f}" if isinstance(v, float) else f"{k:>26}: {v}")
    return result


if __name__ == "__main__":
    main()
