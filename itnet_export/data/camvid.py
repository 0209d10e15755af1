"""CamVid in the SegNet layout (Badrinarayanan et al.), as the ItNet paper uses it (2.4).

Layout::

    DIR/train/*.png  DIR/trainannot/*.png   (367 images)
    DIR/val/*.png    DIR/valannot/*.png     (101)
    DIR/test/*.png   DIR/testannot/*.png    (233)

Images are 480x360 RGB; labels are single-channel PNGs with the same file name holding class
ids 0..10 and 11 = 'void'.  Void (and any id above it) becomes the ignore index 255.

Pre-processing: pixels / 255 (range [0, 1]).  Training: random horizontal flip and a random
crop of 480x352 (W x H); validation and test: the full 480x360 image.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from itnet_export.data.common import (
    IGNORE_INDEX, SegmentationDataset, check_same_size, pngs, random_crop, random_flip, read_label, read_rgb,
    require_dir, require_root, to_tensors,
)
from mpsim.errors import MpsimError

CLASSES = ("sky", "building", "pole", "road", "pavement", "tree", "sign_symbol", "fence", "car",
           "pedestrian", "bicyclist")
VOID = 11
CROP = (352, 480)  # (H, W) of the training crops


class CamVid(SegmentationDataset):
    name = "camvid"
    num_classes = len(CLASSES)
    class_names = CLASSES

    def __init__(self, root: str | os.PathLike[str] | None, split: str = "train", seed: int = 0,
                 augment: bool | None = None, crop: tuple[int, int] | None = CROP,
                 max_items: int | None = None) -> None:
        super().__init__(split, seed, augment)
        base = require_root(root, "camvid")
        img_dir = require_dir(base / split, f"CamVid '{split}' split")
        lab_dir = require_dir(base / f"{split}annot", f"CamVid '{split}annot' label")
        images = pngs(img_dir)
        if not images:
            raise MpsimError(f"{img_dir}: no PNG images in the CamVid '{split}' split")
        self.items: list[tuple[Path, Path]] = []
        for img in images:
            lab = lab_dir / img.name
            if not lab.is_file():
                raise MpsimError(f"{img}: no label {lab}")
            self.items.append((img, lab))
        if max_items is not None:
            self.items = self.items[:max(1, int(max_items))]
        self.crop = tuple(crop) if crop else None
        lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
        lut[:VOID] = np.arange(VOID, dtype=np.uint8)
        self._lut = lut

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        img_path, lab_path = self.items[index]
        img = read_rgb(img_path)
        lab = self._lut[read_label(lab_path)]
        check_same_size(img, lab, img_path, lab_path)
        if self.augment:
            rng = self.sample_rng(index)
            img, lab = random_flip(rng, img, lab)
            if self.crop:
                img, lab = random_crop(rng, img, lab, self.crop, img_path)
        return to_tensors(img, lab, 1.0 / 255.0, 0.0)
