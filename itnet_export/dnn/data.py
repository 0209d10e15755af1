"""Image-classification data for the DNN: CIFAR-10, SVHN and an offline demo set.

* CIFAR-10: the official python version, a folder ``cifar-10-batches-py`` holding the pickled
  batches ``data_batch_1`` .. ``data_batch_5`` (train), ``test_batch`` (test) and
  ``batches.meta`` (class names).  Each batch is a dict with ``b"data"`` (N x 3072 uint8,
  channel-major 3x32x32) and ``b"labels"`` (N ints in 0..9).  These are Python pickles: load
  only files you trust (they are the official distribution's format).
* SVHN: the official cropped-digits files ``train_32x32.mat`` / ``test_32x32.mat`` with
  ``X`` (32 x 32 x 3 x N uint8) and ``y`` (N x 1, digit 0 stored as label 10, mapped to 0).
* digits32: scikit-learn's bundled handwritten digits (1797 real 8x8 images, 10 classes, no
  download), upscaled bilinearly to 32x32 and repeated on 3 channels; a seeded 70 / 30 split.

Every loader returns an ``ImageSet`` of uint8 images (N, 3, H, W) and int64 labels; anything
missing or malformed is one ``MpsimError`` line naming the file.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mpsim.errors import MpsimError

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR10_TEST = ["test_batch"]
SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat", "extra": "extra_32x32.mat"}
DIGIT_NAMES = [str(i) for i in range(10)]


@dataclass
class ImageSet:
    images: np.ndarray  # (N, C, H, W) uint8
    labels: np.ndarray  # (N,) int64
    classes: list[str] = field(default_factory=lambda: list(DIGIT_NAMES))
    name: str = ""

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or len(self.images) != len(self.labels):
            raise MpsimError(f"{self.name or 'data set'}: images {self.images.shape} and "
                             f"{len(self.labels)} labels do not match")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, n: int | None) -> "ImageSet":
        if n is None or n >= len(self):
            return self
        return ImageSet(self.images[:n], self.labels[:n], self.classes, self.name)


def _split(split: str, known: tuple[str, ...]) -> str:
    if split not in known:
        raise MpsimError(f"unknown split '{split}' (known: {', '.join(known)})")
    return split


# CIFAR-10 ----------------------------------------------------------------------------------

def _cifar_dir(root: str | os.PathLike[str]) -> Path:
    root = Path(root)
    if (root / CIFAR10_FOLDER).is_dir():
        return root / CIFAR10_FOLDER
    if root.is_dir():
        return root
    raise MpsimError(f"{root}: no such folder (expected {CIFAR10_FOLDER}/ from the CIFAR-10 python version)")


def _unpickle(path: Path) -> dict:
    if not path.is_file():
        raise MpsimError(f"{path}: missing CIFAR-10 file")
    try:
        with open(path, "rb") as fh:
            obj = pickle.load(fh, encoding="bytes")
    except Exception as exc:  # truncated, not a pickle, ...
        raise MpsimError(f"{path}: not a CIFAR-10 pickle ({type(exc).__name__})") from None
    if not isinstance(obj, dict):
        raise MpsimError(f"{path}: not a CIFAR-10 pickle (holds a {type(obj).__name__}, not a dict)")
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    d = _unpickle(path)
    if "data" not in d or "labels" not in d:
        raise MpsimError(f"{path}: CIFAR-10 batch without 'data' and 'labels'")
    data = np.asarray(d["data"])
    labels = np.asarray(d["labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise MpsimError(f"{path}: 'data' must be N x 3072 uint8, got {data.shape} {data.dtype}")
    if labels.shape != (data.shape[0],):
        raise MpsimError(f"{path}: {data.shape[0]} images but {labels.size} labels")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise MpsimError(f"{path}: labels outside 0..9")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar10(root: str | os.PathLike[str], split: str = "train") -> ImageSet:
    """CIFAR-10 from ``root`` (the ``cifar-10-batches-py`` folder or the folder holding it)."""
    folder = _cifar_dir(root)
    names = CIFAR10_TRAIN if _split(split, ("train", "test")) == "train" else CIFAR10_TEST
    parts = [_cifar_batch(folder / n) for n in names]
    meta = _unpickle(folder / "batches.meta")
    classes = meta.get("label_names")
    if not isinstance(classes, list) or len(classes) != 10:
        raise MpsimError(f"{folder / 'batches.meta'}: 'label_names' must list 10 class names")
    classes = [c.decode() if isinstance(c, bytes) else str(c) for c in classes]
    return ImageSet(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                    classes, f"cifar10-{split}")


# SVHN --------------------------------------------------------------------------------------

def load_svhn(root: str | os.PathLike[str], split: str = "train") -> ImageSet:
    """SVHN (cropped digits) from ``root``/{train,test,extra}_32x32.mat; label 10 becomes 0."""
    root = Path(root)
    if not root.is_dir():
        raise MpsimError(f"{root}: no such folder (expected the SVHN *_32x32.mat files)")
    path = root / SVHN_FILES[_split(split, tuple(SVHN_FILES))]
    if not path.is_file():
        raise MpsimError(f"{path}: missing SVHN file")
    try:
        from scipy.io import loadmat
    except ImportError:  # pragma: no cover - scipy comes with scikit-learn
        raise MpsimError("reading SVHN needs scipy (pip install scipy)") from None
    try:
        mat = loadmat(path)
    except Exception as exc:
        raise MpsimError(f"{path}: not a readable MATLAB file ({type(exc).__name__})") from None
    if "X" not in mat or "y" not in mat:
        raise MpsimError(f"{path}: SVHN file without 'X' and 'y'")
    x, y = np.asarray(mat["X"]), np.asarray(mat["y"]).reshape(-1)
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.dtype != np.uint8:
        raise MpsimError(f"{path}: 'X' must be 32 x 32 x 3 x N uint8, got {x.shape} {x.dtype}")
    if y.shape != (x.shape[3],):
        raise MpsimError(f"{path}: {x.shape[3]} images but {y.size} labels")
    y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() > 10):
        raise MpsimError(f"{path}: labels outside 0..10")
    y[y == 10] = 0
    images = np.ascontiguousarray(x.transpose(3, 2, 0, 1))
    return ImageSet(images, y, list(DIGIT_NAMES), f"svhn-{split}")


# Offline demo set --------------------------------------------------------------------------

def load_digits32(split: str = "train", seed: int = 0, test_fraction: float = 0.3) -> ImageSet:
    """scikit-learn's digits (real, bundled) at 32x32x3; a seeded, class-stratified split."""
    _split(split, ("train", "test"))
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise MpsimError("the digits demo set needs scikit-learn (pip install scikit-learn)") from None
    import torch
    import torch.nn.functional as F

    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0)[:, None]  # (N, 1, 8, 8) in [0, 1]
    x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False).clamp(0, 1)
    images = (x * 255).round().to(torch.uint8).repeat(1, 3, 1, 1).numpy()
    labels = d.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), dtype=bool)
    for k in range(10):
        idx = np.flatnonzero(labels == k)
        idx = rng.permutation(idx)
        test[idx[: int(round(test_fraction * len(idx)))]] = True
    pick = test if split == "test" else ~test
    order = rng.permutation(np.flatnonzero(pick))
    return ImageSet(images[order], labels[order], list(DIGIT_NAMES), f"digits32-{split}")


DATASETS = ("digits32", "cifar10", "svhn")


def load_dataset(name: str, split: str, root: str | os.PathLike[str] | None = None, seed: int = 0) -> ImageSet:
    if name == "digits32":
        return load_digits32(split, seed)
    if root is None:
        raise MpsimError(f"data set '{name}' needs a data folder (--data-root)")
    if name == "cifar10":
        return load_cifar10(root, split)
    if name == "svhn":
        return load_svhn(root, split)
    raise MpsimError(f"unknown data set '{name}' (known: {', '.join(DATASETS)})")


# Fixture writers (tests and examples: tiny files in the official formats) -------------------

def write_cifar10_fixture(root: str | os.PathLike[str], per_batch: int = 4, seed: int = 0) -> Path:
    """Write a tiny ``cifar-10-batches-py`` under ``root`` in the official pickle format."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / CIFAR10_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for name in CIFAR10_TRAIN + CIFAR10_TEST:
        batch = {b"batch_label": name.encode(),
                 b"labels": [int(v) for v in rng.integers(0, 10, per_batch)],
                 b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 b"filenames": [f"img_{i}.png".encode() for i in range(per_batch)]}
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh)
    meta = {b"label_names": [n.encode() for n in ("airplane", "automobile", "bird", "cat", "deer", "dog",
                                                   "frog", "horse", "ship", "truck")],
            b"num_cases_per_batch": per_batch, b"num_vis": 3072}
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump(meta, fh)
    return folder


def write_svhn_fixture(root: str | os.PathLike[str], n: int = 5, seed: int = 0) -> Path:
    """Write tiny ``train_32x32.mat`` / ``test_32x32.mat`` (labels 1..10, 10 meaning digit 0)."""
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        y = rng.integers(1, 11, (n, 1)).astype(np.uint8)
        y[0, 0] = 10
        savemat(root / SVHN_FILES[split], {"X": rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8), "y": y})
    return root
