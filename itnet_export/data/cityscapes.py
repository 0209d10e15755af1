"""Cityscapes in its official layout, pre-processed as in the ItNet paper (2.4).

Layout::

    DIR/leftImg8bit/{train,val}/CITY/NAME_leftImg8bit.png
    DIR/gtFine/{train,val}/CITY/NAME_gtFine_labelIds.png

Label ids are mapped to the 19 training ids through the official label definitions
(``cityscapesscripts.helpers.labels``); every id whose train id is 255 or -1 (unlabelled, ego
vehicle, parking, ...) becomes the ignore index 255.  Images and labels are resized to
1024x512 (W x H; bilinear for images, nearest for labels); pixels / 127.5 - 1 (range
[-1, 1]).  Training: random horizontal flip.  The paper uses the validation split as test set.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from itnet_export.data.common import (
    IGNORE_INDEX, SegmentationDataset, check_same_size, random_flip, read_label, read_rgb, require_dir,
    require_root, to_tensors,
)
from mpsim.errors import MpsimError

SIZE = (512, 1024)  # (H, W)
IMG_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"


def train_id_lut() -> np.ndarray:
    """256-entry table: Cityscapes label id -> train id (0..18) or 255."""
    from cityscapesscripts.helpers.labels import labels

    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for lab in labels:
        if 0 <= lab.id < 256 and 0 <= lab.trainId < IGNORE_INDEX:
            lut[lab.id] = lab.trainId
    return lut


def class_names() -> tuple[str, ...]:
    from cityscapesscripts.helpers.labels import labels

    names = {lab.trainId: lab.name for lab in labels if 0 <= lab.trainId < IGNORE_INDEX}
    return tuple(names[i] for i in range(len(names)))


class Cityscapes(SegmentationDataset):
    name = "cityscapes"
    num_classes = 19

    def __init__(self, root: str | os.PathLike[str] | None, split: str = "train", seed: int = 0,
                 augment: bool | None = None, size: tuple[int, int] | None = SIZE,
                 max_items: int | None = None) -> None:
        super().__init__(split, seed, augment)
        base = require_root(root, "cityscapes")
        img_root = require_dir(base / "leftImg8bit" / split, f"Cityscapes 'leftImg8bit/{split}'")
        lab_root = require_dir(base / "gtFine" / split, f"Cityscapes 'gtFine/{split}'")
        self.items: list[tuple[Path, Path]] = []
        for city in sorted(p for p in img_root.iterdir() if p.is_dir()):
            for img in sorted(city.glob(f"*{IMG_SUFFIX}")):
                stem = img.name[: -len(IMG_SUFFIX)]
                lab = lab_root / city.name / f"{stem}{LABEL_SUFFIX}"
                if not lab.is_file():
                    raise MpsimError(f"{img}: no label {lab}")
                self.items.append((img, lab))
        if not self.items:
            raise MpsimError(f"{img_root}: no CITY/*{IMG_SUFFIX} images in the Cityscapes '{split}' split")
        if max_items is not None:
            self.items = self.items[:max(1, int(max_items))]
        self.size = tuple(size) if size else None
        self._lut = train_id_lut()
        self.class_names = class_names()

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        img_path, lab_path = self.items[index]
        img = read_rgb(img_path, self.size)
        lab = self._lut[read_label(lab_path, self.size)]
        check_same_size(img, lab, img_path, lab_path)
        if self.augment:
            img, lab = random_flip(self.sample_rng(index), img, lab)
        return to_tensors(img, lab, 1.0 / 127.5, -1.0)
