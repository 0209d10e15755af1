"""Write the built-in graphs that ``mpsim run`` simulates without torch (mpsim/models/*.json)."""

from __future__ import annotations

from pathlib import Path

from itnet_export.anchors import ANCHORS
from itnet_export.exporter import to_graph
from itnet_export.presets import build_preset
from mpsim.ir.serialize import save_graph
from mpsim.models import MODEL_DIR

BUILTIN_PRESETS = ("itnet-cityscapes", "itnet-camvid-shared", "itnet-camvid-independent", "itnet-tiny",
                   "itnet-tiny-independent", "espnet-camvid", "espnet-cityscapes", *ANCHORS)


def builtin_graph(preset: str):
    model, example, meta = build_preset(preset)
    return to_graph(model, example, preset, meta)[0]


def main(out: Path = MODEL_DIR) -> None:
    for name in BUILTIN_PRESETS:
        save_graph(builtin_graph(name), out / f"{name}.json")
        print(f"wrote {out / (name + '.json')}")


if __name__ == "__main__":
    main()
