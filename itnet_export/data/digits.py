"""``digits``: an offline segmentation data set composed from real handwritten digits.

Source: scikit-learn's bundled handwritten digits (``sklearn.datasets.load_digits``: 1,797
8x8 grey images of 0..9 from 43 writers, shipped inside the package, no download).  Each scene
is a 64x64 street-like picture (sky, buildings with windows, a road with lane markings, all
class 0 'background') on which 2 to 5 digits are painted like signs, at random scales
(14..32 px), aspect ratios, positions (partly out of frame) and colours; later digits occlude
earlier ones, and poles/boxes of background occlude digits.  Gaussian noise and a global
brightness/contrast change finish the picture, which is then quantised to 8 bits like a PNG.

Classes: 0 background, 1..10 = digits 0..9 (11 classes, like CamVid and ``itnet-tiny``).
A digit's soft edge (alpha between 0.25 and 0.5 after upscaling) is ambiguous and gets the
ignore index 255; alpha above 0.5 is the digit's class.

Splits: the source digits are split once (stratified by class, fixed permutation) into
disjoint pools: 75 % for 'train', 25 % for 'val' (and 'test', which reuses the 'val' pool
with different scenes).  Scene ``i`` of a split is generated from the seed
``(seed, split, i)``: the same seed gives the same data set on every machine.  Scenes are
generated on first access and kept in memory as uint8 (16 KB each at 64x64).  Pixels / 255.
"""

from __future__ import annotations

import numpy as np

from itnet_export.data.common import IGNORE_INDEX, SegmentationDataset, to_tensors
from mpsim.errors import MpsimError

CLASSES = ("background",) + tuple(f"digit_{d}" for d in range(10))
DEFAULT_SCENES = {"train": 2048, "val": 256, "test": 256}
_SPLIT_ID = {"train": 1, "val": 2, "test": 3}
_POOL_SEED = 20_231  # fixed: the train/val source pools never depend on the run's seed
VAL_FRACTION = 0.25

_SOURCE = None


def _source() -> tuple[np.ndarray, np.ndarray]:
    """(images in [0, 1], N x 8 x 8 float32; targets 0..9) of scikit-learn's digits."""
    global _SOURCE
    if _SOURCE is None:
        from sklearn.datasets import load_digits

        d = load_digits()
        _SOURCE = ((d.images / 16.0).astype(np.float32), d.target.astype(np.int64))
    return _SOURCE


def source_pools() -> dict[str, np.ndarray]:
    """Indices of the source digits of each split ('test' shares the 'val' pool)."""
    _, targets = _source()
    rng = np.random.default_rng(_POOL_SEED)
    train, val = [], []
    for c in range(10):
        idx = np.flatnonzero(targets == c)
        idx = idx[rng.permutation(len(idx))]
        n_val = int(round(len(idx) * VAL_FRACTION))
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    val_pool = np.sort(np.concatenate(val))
    return {"train": np.sort(np.concatenate(train)), "val": val_pool, "test": val_pool}


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a coarse random grid upsampled bilinearly."""
    from PIL import Image

    coarse = rng.random((cells, cells)).astype(np.float32)
    return np.asarray(Image.fromarray(coarse, mode="F").resize((w, h), Image.BILINEAR), dtype=np.float32)


def _resize(a: np.ndarray, h: int, w: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(a, mode="F").resize((w, h), Image.BILINEAR), dtype=np.float32)


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    img = np.empty((h, w, 3), np.float32)
    horizon = int(rng.integers(int(0.3 * h), int(0.55 * h) + 1))
    rows = np.arange(h, dtype=np.float32)[:, None]
    # sky: vertical gradient with a random tint
    top, bottom = rng.uniform(0.45, 0.8, 3), rng.uniform(0.7, 1.0, 3)
    t = np.clip(rows / max(horizon, 1), 0, 1)[..., None]
    img[:] = top * (1 - t) + bottom * t
    # buildings along the horizon, with a grid of windows
    x = int(rng.integers(-8, 0))
    while x < w:
        bw = int(rng.integers(8, 22))
        bh = int(rng.integers(horizon // 3 + 1, horizon + 1))
        colour = rng.uniform(0.15, 0.7, 3) * rng.uniform(0.6, 1.0)
        y0 = max(0, horizon - bh)
        x0, x1 = max(0, x), min(w, x + bw)
        if x1 > x0:
            img[y0:horizon, x0:x1] = colour
            win = colour * rng.uniform(0.3, 0.6) if rng.random() < 0.5 else np.minimum(colour + 0.35, 1.0)
            step = int(rng.integers(3, 6))
            for wy in range(y0 + 2, horizon - 2, step):
                for wx in range(x0 + 1, x1 - 1, step):
                    img[wy:wy + 2, wx:wx + 2] = win
        x += bw + int(rng.integers(0, 4))
    # road: grey asphalt with texture and lane markings converging to a vanishing point
    grey = rng.uniform(0.25, 0.5)
    road = grey + 0.12 * (_smooth_noise(rng, h, w, 12) - 0.5) + 0.05 * (rng.random((h, w)) - 0.5)
    img[horizon:] = road[horizon:, :, None] * np.array([1.0, 1.0, 1.02], np.float32)
    vx = rng.uniform(0.3 * w, 0.7 * w)
    for offset in rng.choice([-0.9, -0.3, 0.3, 0.9], size=int(rng.integers(1, 4)), replace=False):
        dash = int(rng.integers(3, 7))
        for y in range(horizon + 1, h):
            if ((y - horizon) // dash) % 2:
                continue
            depth = (y - horizon) / max(h - horizon, 1)
            cx = vx + offset * depth * w * 0.6
            half = max(0.5, depth * 1.5)
            x0, x1 = int(round(cx - half)), int(round(cx + half)) + 1
            if x1 > 0 and x0 < w:
                img[y, max(0, x0):min(w, x1)] = 0.9
    # a little global texture everywhere
    img += 0.06 * (_smooth_noise(rng, h, w, 6)[..., None] - 0.5)
    return img


def _contrasting_colour(rng: np.random.Generator, under: np.ndarray) -> np.ndarray:
    """A random, fairly saturated colour whose brightness differs clearly from ``under``'s."""
    import colorsys

    dark_under = float(under.mean()) < 0.5
    value = rng.uniform(0.8, 1.0) if dark_under else rng.uniform(0.05, 0.35)
    r, g, b = colorsys.hsv_to_rgb(float(rng.random()), float(rng.uniform(0.3, 1.0)), float(value))
    return np.array([r, g, b], np.float32)


def compose_scene(rng: np.random.Generator, images: np.ndarray, targets: np.ndarray, pool: np.ndarray,
                  size: tuple[int, int] = (64, 64), digits: tuple[int, int] = (2, 5),
                  scale: tuple[int, int] = (14, 32), noise: float = 0.04) -> tuple[np.ndarray, np.ndarray]:
    """One scene: (H x W x 3 uint8 image, H x W uint8 label)."""
    h, w = size
    img = _background(rng, h, w)
    lab = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(digits[0], digits[1] + 1))):
        src = int(pool[rng.integers(len(pool))])
        s = int(rng.integers(scale[0], scale[1] + 1))
        dh = max(4, int(round(s * rng.uniform(0.85, 1.15))))
        dw = max(4, int(round(s * rng.uniform(0.7, 1.0))))
        alpha = np.clip(_resize(images[src], dh, dw), 0.0, 1.0)
        top = int(rng.integers(-dh // 4, h - 3 * dh // 4 + 1))
        left = int(rng.integers(-dw // 4, w - 3 * dw // 4 + 1))
        # clip the digit's box to the frame
        y0, x0 = max(0, top), max(0, left)
        y1, x1 = min(h, top + dh), min(w, left + dw)
        if y1 <= y0 or x1 <= x0:
            continue
        a = alpha[y0 - top:y1 - top, x0 - left:x1 - left]
        region = img[y0:y1, x0:x1]
        colour = _contrasting_colour(rng, region)
        opacity = rng.uniform(0.85, 1.0)
        region[:] = region * (1 - opacity * a[..., None]) + colour * (opacity * a[..., None])
        sub = lab[y0:y1, x0:x1]
        sub[a > 0.25] = IGNORE_INDEX
        sub[a > 0.5] = targets[src] + 1
    # occluders: poles and boxes (background) in front of the digits
    for _ in range(int(rng.integers(0, 3))):
        if rng.random() < 0.5:  # pole
            pw, ph = int(rng.integers(2, 4)), int(rng.integers(h // 3, h))
        else:  # box (a car, a sign board)
            pw, ph = int(rng.integers(8, 20)), int(rng.integers(5, 12))
        y0, x0 = int(rng.integers(0, h - ph + 1)), int(rng.integers(0, w - pw + 1))
        img[y0:y0 + ph, x0:x0 + pw] = rng.uniform(0.05, 0.9, 3)
        lab[y0:y0 + ph, x0:x0 + pw] = 0
    # photometric: contrast/brightness and sensor noise
    img = (img - 0.5) * rng.uniform(0.8, 1.2) + 0.5 + rng.uniform(-0.1, 0.1)
    img += rng.normal(0.0, noise, img.shape)
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), lab


class DigitScenes(SegmentationDataset):
    """Street-like 64x64 scenes of handwritten digits (see the module docstring)."""

    name = "digits"
    num_classes = len(CLASSES)
    class_names = CLASSES

    def __init__(self, split: str = "train", seed: int = 0, augment: bool | None = None,
                 n_scenes: int | None = None, size: tuple[int, int] = (64, 64),
                 digits: tuple[int, int] = (2, 5), scale: tuple[int, int] = (14, 32), noise: float = 0.04,
                 max_items: int | None = None) -> None:
        super().__init__(split, seed, augment)
        # For generated data "at most N items" simply means "generate N scenes".
        n = n_scenes if n_scenes is not None else max_items if max_items is not None else DEFAULT_SCENES[split]
        n = int(n)
        if n < 1:
            raise MpsimError(f"digits: the '{split}' split needs at least one scene, not {n}")
        if size[0] < 16 or size[1] < 16:
            raise MpsimError(f"digits: scenes must be at least 16x16, not {size[1]}x{size[0]}")
        self.n = n
        self.size = (int(size[0]), int(size[1]))
        self.options = dict(digits=tuple(digits), scale=tuple(scale), noise=float(noise))
        self.pool = source_pools()[split]
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return self.n

    def scene(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 image H x W x 3, uint8 label H x W) of scene ``index`` (no augmentation)."""
        if not 0 <= index < self.n:
            raise IndexError(index)
        if index not in self._cache:
            images, targets = _source()
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, _SPLIT_ID[self.split], index]))
            self._cache[index] = compose_scene(rng, images, targets, self.pool, self.size, **self.options)
        return self._cache[index]

    def __getitem__(self, index: int):
        img, lab = self.scene(index)
        # Digits are not mirror-symmetric, so no flips: the scenes are random enough already.
        return to_tensors(img, lab, 1.0 / 255.0, 0.0)
