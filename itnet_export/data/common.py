"""Shared pieces of the segmentation data sets: base class, PNG reading, augmentation.

Every data set yields ``(image, label)``: a float32 tensor C x H x W and an int64 tensor H x W
whose pixels not used for training hold ``IGNORE_INDEX`` (255).

Random augmentation is counter-based: the generator for sample ``i`` in epoch ``e`` is seeded
with ``(seed, e, i)``.  A sample therefore looks the same whatever order it is drawn in, in
whichever DataLoader worker, and a training run resumed in the middle of an epoch sees exactly
the pictures the uninterrupted run saw.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from mpsim.errors import MpsimError

IGNORE_INDEX = 255
SPLITS = ("train", "val", "test")


class SegmentationDataset(Dataset):
    """Base class: ``num_classes``, ``class_names``, ``ignore_index``, ``set_epoch``, ``sample_rng``."""

    name = "segmentation"
    num_classes = 0
    class_names: tuple[str, ...] = ()
    ignore_index = IGNORE_INDEX

    def __init__(self, split: str, seed: int = 0, augment: bool | None = None) -> None:
        if split not in SPLITS:
            raise MpsimError(f"unknown split '{split}' (known: {', '.join(SPLITS)})")
        self.split = split
        self.seed = int(seed)
        self.augment = (split == "train") if augment is None else bool(augment)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation of epoch ``epoch`` (call before iterating over the epoch)."""
        self.epoch = int(epoch)

    def sample_rng(self, index: int, salt: int = 0) -> np.random.Generator:
        """The generator for the augmentation of sample ``index`` in the current epoch."""
        return np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, int(index), salt]))

    def image_size(self) -> tuple[int, int]:
        """(H, W) of an evaluation image (the size the model is exported at)."""
        img, _ = self[0]
        return int(img.shape[-2]), int(img.shape[-1])


# Files ---------------------------------------------------------------------------------------

def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise MpsimError(f"{path}: missing {what} folder")
    return path


def require_root(root: str | os.PathLike[str] | None, dataset: str) -> Path:
    if root is None:
        raise MpsimError(f"the {dataset} data set needs --data-root DIR")
    p = Path(root)
    if not p.is_dir():
        raise MpsimError(f"{p}: no such data folder")
    return p


def pngs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".png")


def _open(path: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(path)
        img.load()
        return img
    except FileNotFoundError:
        raise MpsimError(f"{path}: no such file") from None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise MpsimError(f"{path}: unreadable PNG ({type(exc).__name__})") from None


def read_rgb(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """H x W x 3 uint8; resized bilinearly to ``size`` = (H, W) if given."""
    from PIL import Image

    img = _open(path).convert("RGB")
    if size is not None and img.size != (size[1], size[0]):
        img = img.resize((size[1], size[0]), Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


def read_label(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """H x W uint8 class ids from a single-channel PNG; resized (nearest) to ``size`` if given."""
    from PIL import Image

    img = _open(path)
    if img.mode not in ("L", "P", "I", "I;16"):
        raise MpsimError(f"{path}: label PNG must be single-channel, not mode {img.mode}")
    if size is not None and img.size != (size[1], size[0]):
        img = img.resize((size[1], size[0]), Image.NEAREST)
    arr = np.asarray(img)
    if arr.max(initial=0) > 255 or arr.min(initial=0) < 0:
        raise MpsimError(f"{path}: label ids outside 0..255")
    return arr.astype(np.uint8)


# Tensors and augmentation --------------------------------------------------------------------

def to_tensors(image: np.ndarray, label: np.ndarray, scale: float, shift: float) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 H x W x 3 and H x W -> (float32 3 x H x W: image * scale + shift, int64 H x W)."""
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).to(torch.float32)
    x = x * scale + shift if shift else x * scale
    y = torch.from_numpy(np.ascontiguousarray(label)).to(torch.int64)
    return x, y


def random_flip(rng: np.random.Generator, image: np.ndarray, label: np.ndarray):
    if rng.random() < 0.5:
        return image[:, ::-1], label[:, ::-1]
    return image, label


def random_crop(rng: np.random.Generator, image: np.ndarray, label: np.ndarray, crop: tuple[int, int], path: Path):
    h, w = label.shape
    ch, cw = crop
    if ch > h or cw > w:
        raise MpsimError(f"{path}: image {w}x{h} is smaller than the crop {cw}x{ch}")
    top = int(rng.integers(0, h - ch + 1))
    left = int(rng.integers(0, w - cw + 1))
    return image[top:top + ch, left:left + cw], label[top:top + ch, left:left + cw]


def check_same_size(img: np.ndarray, lab: np.ndarray, img_path: Path, lab_path: Path) -> None:
    if img.shape[:2] != lab.shape:
        raise MpsimError(f"{lab_path}: label is {lab.shape[1]}x{lab.shape[0]} but its image {img_path.name} "
                         f"is {img.shape[1]}x{img.shape[0]}")
