"""Frames for anytime evaluation: a labelled data set split, or a folder of unlabelled images."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mpsim.errors import MpsimError


def _folder_frames(folder: Path, n: int, size: tuple[int, int]) -> list[np.ndarray]:
    from PIL import Image, UnidentifiedImageError
    from PIL.Image import DecompressionBombError

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))[:n]
    if not files:
        raise MpsimError(f"{folder}: no PNG or JPEG frames in this folder")
    frames = []
    for f in files:
        try:
            img = Image.open(f).convert("RGB").resize((size[1], size[0]), Image.BILINEAR)
        except DecompressionBombError:
            raise MpsimError(f"{f}: more pixels than the limit of {Image.MAX_IMAGE_PIXELS:,}") from None
        except (OSError, UnidentifiedImageError, ValueError):
            raise MpsimError(f"{f}: not a readable image") from None
        frames.append((np.asarray(img, dtype=np.float32) / 255.0).transpose(2, 0, 1)[None].copy())
    return frames


def load_frames(data: str, root: str | None, n: int, size: tuple[int, int], seed: int
                ) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """(images as (1, 3, H, W) float32, labels as (H, W) or None) for ``n`` frames."""
    path = Path(data)
    if data not in ("digits", "camvid", "cityscapes"):
        if not path.is_dir():
            raise MpsimError(f"--data '{data}' is neither digits, camvid, cityscapes nor a folder of frames")
        return _folder_frames(path, n, size), None
    try:
        from itnet_export.data import get_dataset
    except ImportError as exc:
        raise MpsimError(f"data set '{data}' needs the PyTorch side: {exc}") from None
    options = {"augment": False, "max_items": n}
    if data == "digits":
        options["size"] = size
    ds = get_dataset(data, "val", root, seed=seed, **options)
    images, labels = [], []
    for i in range(min(n, len(ds))):
        x, y = ds[i]
        images.append(x.numpy()[None].astype(np.float32))
        labels.append(y.numpy().astype(np.int64))
    if images and images[0].shape[-2:] != tuple(size):
        raise MpsimError(f"data frames are {images[0].shape[-2:]}, the model expects {tuple(size)}")
    return images, labels
