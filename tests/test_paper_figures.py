"""The ItNet paper's structural figures, pinned: the reconstruction must keep reproducing them.

Golden values are exact arithmetic on the built-in graphs (mpsim/models/*.json); a test checks
those graphs equal fresh exports of the presets, so the pins cover the model code too.
"""

from __future__ import annotations

import json

import pytest

from mpsim.analysis.metrics import stats
from mpsim.hw.profile import load_profile
from mpsim.ir.serialize import dumps
from mpsim.models import MODEL_DIR, builtin_models, resolve_model

MB = 1e6


@pytest.fixture(scope="module")
def figs():
    return {name: stats(resolve_model(name)) for name in
            ("itnet-camvid-independent", "itnet-camvid-shared", "itnet-cityscapes")}


def test_golden_figures(figs):
    ind, sh, cs = figs["itnet-camvid-independent"], figs["itnet-camvid-shared"], figs["itnet-cityscapes"]
    assert ind["macs_per_output"][-1] == 2_067_981_750
    assert sh["macs_per_output"][-1] == 6_056_017_650
    assert ind["params"] == 666_134 and sh["params"] == 268_010
    assert ind["graph_size_bytes"]["folded"] == 494_580_320
    assert sh["graph_size_bytes"]["folded"] == 78_520_856
    assert cs["state_bytes"] == 4_988_928
    assert ind["depth_per_output"] == sh["depth_per_output"]
    assert ind["depth_per_output"][0] == 8 and ind["depth_per_output"][-1] == 69


def test_published_targets(figs):
    ind, sh, cs = figs["itnet-camvid-independent"], figs["itnet-camvid-shared"], figs["itnet-cityscapes"]
    assert abs(ind["macs_per_output"][-1] / 2.0e9 - 1) <= 0.15 and ind["macs_per_output"][-1] < 2.2e9
    assert abs(sh["macs_per_output"][-1] / 6.2e9 - 1) <= 0.15
    gi, gs = ind["graph_size_bytes"]["folded"], sh["graph_size_bytes"]["folded"]
    assert gi / gs > 4
    assert abs(gi / (384 * MB) - 1) <= 0.30 and abs(gs / (83 * MB) - 1) <= 0.30
    assert abs(cs["state_bytes"] / (4.8 * MB) - 1) <= 0.15
    # Sharing folds the 16 iterations: the unrolled shared graph is far bigger than the folded one.
    assert sh["graph_size_bytes"]["unrolled"] > 10 * gs


def test_ipu_m2000_memory_is_the_papers():
    p = load_profile("ipu_m2000")
    assert p.total_tiles == 5888
    assert abs(p.capacity_bytes / 2**20 / 3600 - 1) < 0.01  # 3.6 GB means MiB here


def _anchor_builtins() -> list[str]:
    """The built-in anchor graphs (docs/anchors.md), read from their JSON without torch."""
    return [n for n in builtin_models()
            if json.loads((MODEL_DIR / f"{n}.json").read_text())["meta"].get("family") == "anchor"]


@pytest.mark.parametrize("name", ["itnet-tiny", "itnet-camvid-shared", *_anchor_builtins()])
def test_builtin_graphs_equal_fresh_exports(name):
    pytest.importorskip("torch")
    from itnet_export.builtin import BUILTIN_PRESETS, builtin_graph

    assert name in BUILTIN_PRESETS
    assert dumps(builtin_graph(name)) == dumps(resolve_model(name)), f"regenerate: python -m itnet_export.builtin"


def test_width_rule_selects_29():
    from itnet_export.presets import ITNET_PRESETS
    from itnet_export.width_rule import last_output_macs

    cfg = ITNET_PRESETS["itnet-camvid-independent"]
    assert last_output_macs(cfg) == 2_067_981_750  # the extrapolation equals the full export
    assert last_output_macs(cfg.with_(width=30)) >= 2.2e9 > last_output_macs(cfg)
