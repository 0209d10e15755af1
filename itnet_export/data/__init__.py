"""Segmentation data sets for training ItNets: ``digits`` (offline), ``camvid``, ``cityscapes``.

``get_dataset(name, split, root, seed, **options)`` returns a ``torch.utils.data.Dataset`` of
``(image float32 C x H x W, label int64 H x W)`` with ignore index 255.  A missing or
malformed data folder raises ``MpsimError`` with one line naming the folder or file.
"""

from __future__ import annotations

import os

from itnet_export.data.common import IGNORE_INDEX, SPLITS, SegmentationDataset
from mpsim.errors import MpsimError

DATASETS = ("digits", "camvid", "cityscapes")
NUM_CLASSES = {"digits": 11, "camvid": 11, "cityscapes": 19}


def get_dataset(name: str, split: str = "train", root: str | os.PathLike[str] | None = None, seed: int = 0,
                **options) -> SegmentationDataset:
    """The ``split`` of data set ``name``.

    Options: ``augment`` (default: on for 'train'), ``max_items`` (use the first N images;
    for ``digits`` the number of scenes), and per data set ``crop`` (camvid, (H, W)),
    ``size`` (cityscapes: resize (H, W); digits: scene size), ``n_scenes`` (digits).
    """
    if name == "digits":
        from itnet_export.data.digits import DigitScenes

        if root is not None:
            raise MpsimError("the digits data set is built in; it takes no --data-root")
        return DigitScenes(split, seed=seed, **options)
    if name == "camvid":
        from itnet_export.data.camvid import CamVid

        return CamVid(root, split, seed=seed, **options)
    if name == "cityscapes":
        from itnet_export.data.cityscapes import Cityscapes

        if split == "test":
            raise MpsimError("cityscapes has no labelled test split; the paper tests on 'val'")
        return Cityscapes(root, split, seed=seed, **options)
    raise MpsimError(f"unknown data set '{name}' (known: {', '.join(DATASETS)})")


__all__ = ["DATASETS", "IGNORE_INDEX", "NUM_CLASSES", "SPLITS", "SegmentationDataset", "get_dataset"]
