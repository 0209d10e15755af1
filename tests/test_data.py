"""Data sets: the built-in digits scenes and the CamVid / Cityscapes loaders on tiny fixtures."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
PIL = pytest.importorskip("PIL.Image")

from itnet_export.data import get_dataset  # noqa: E402
from itnet_export.data.digits import source_pools  # noqa: E402
from mpsim.errors import MpsimError  # noqa: E402


def _png(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    PIL.fromarray(np.asarray(array, dtype=np.uint8), mode=mode).save(path)


# digits -------------------------------------------------------------------------------------------

def test_digits_shapes_classes_and_range():
    ds = get_dataset("digits", "train", max_items=12)
    assert len(ds) == 12 and ds.num_classes == 11
    x, y = ds[3]
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32
    assert y.shape == (64, 64) and y.dtype == torch.int64
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    labels = torch.cat([ds[i][1].flatten() for i in range(len(ds))]).unique().tolist()
    assert set(labels) <= set(range(11)) | {255}
    assert 0 in labels and 255 in labels and len(set(labels) - {0, 255}) >= 5  # several digit classes


def test_digits_deterministic_and_seeded():
    a = get_dataset("digits", "train", seed=3, max_items=4)
    b = get_dataset("digits", "train", seed=3, max_items=4)
    c = get_dataset("digits", "train", seed=4, max_items=4)
    for i in range(4):
        assert torch.equal(a[i][0], b[i][0]) and torch.equal(a[i][1], b[i][1])
    assert not torch.equal(a[0][0], c[0][0])
    # epochs do not change digits scenes (no augmentation)
    a.set_epoch(5)
    assert torch.equal(a[1][0], b[1][0])


def test_digits_splits_use_disjoint_source_digits():
    pools = source_pools()
    assert not set(pools["train"]) & set(pools["val"])
    assert len(pools["train"]) + len(pools["val"]) == 1797
    val = get_dataset("digits", "val", max_items=3)
    train = get_dataset("digits", "train", max_items=3)
    assert not torch.equal(val[0][0], train[0][0])


def test_digits_rejects_a_data_root(tmp_path):
    with pytest.raises(MpsimError, match="built in"):
        get_dataset("digits", "train", root=tmp_path)


def test_unknown_dataset_and_split():
    with pytest.raises(MpsimError, match="unknown data set 'kitti'"):
        get_dataset("kitti", "train")
    with pytest.raises(MpsimError, match="unknown split"):
        get_dataset("digits", "dev")


# CamVid -------------------------------------------------------------------------------------------

def _camvid(root, h=12, w=16, n=3, splits=("train", "val", "test")):
    rng = np.random.default_rng(0)
    for split in splits:
        for i in range(n):
            _png(root / split / f"img{i}.png", rng.integers(0, 256, (h, w, 3)))
            lab = rng.integers(0, 12, (h, w))  # 0..10 classes, 11 void
            lab[0, 0], lab[0, 1], lab[0, 2] = 11, 3, 0
            _png(root / f"{split}annot" / f"img{i}.png", lab)
    return root


def test_camvid_layout_mapping_and_normalisation(tmp_path):
    root = _camvid(tmp_path / "camvid")
    val = get_dataset("camvid", "val", root=root)
    assert len(val) == 3 and val.num_classes == 11
    x, y = val[0]
    assert x.shape == (3, 12, 16) and y.shape == (12, 16)
    raw = np.asarray(PIL.open(root / "val" / "img0.png"), dtype=np.float32)
    assert torch.allclose(x, torch.from_numpy(raw.transpose(2, 0, 1) / 255.0))
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert y[0, 0] == 255 and y[0, 1] == 3 and y[0, 2] == 0  # void -> ignore
    assert set(y.unique().tolist()) <= set(range(11)) | {255}


def test_camvid_train_flip_and_crop_are_seeded(tmp_path):
    root = _camvid(tmp_path / "camvid", splits=("train",), n=2)
    a = get_dataset("camvid", "train", root=root, crop=(10, 12), seed=1)
    b = get_dataset("camvid", "train", root=root, crop=(10, 12), seed=1)
    x, y = a[0]
    assert x.shape == (3, 10, 12) and y.shape == (10, 12)
    assert torch.equal(x, b[0][0]) and torch.equal(y, b[0][1])
    # the crop is a window of the (possibly flipped) original
    raw = np.asarray(PIL.open(root / "train" / "img0.png"), dtype=np.float32).transpose(2, 0, 1) / 255.0
    found = False
    for img in (raw, raw[:, :, ::-1]):
        for top in range(3):
            for left in range(5):
                if np.allclose(img[:, top:top + 10, left:left + 12], x.numpy()):
                    found = True
    assert found
    # other epochs draw other flips/crops, deterministically
    seen = set()
    for epoch in range(12):
        a.set_epoch(epoch)
        b.set_epoch(epoch)
        assert torch.equal(a[0][0], b[0][0])
        seen.add(a[0][0].numpy().tobytes())
    assert len(seen) > 3


@pytest.mark.parametrize("break_it, message", [
    (lambda r: __import__("shutil").rmtree(r / "valannot"), "valannot"),
    (lambda r: (r / "valannot" / "img1.png").unlink(), "img1.png: no label"),
    (lambda r: (r / "val" / "img2.png").write_bytes(b"not a png"), "img2.png: unreadable PNG"),
    (lambda r: [p.unlink() for p in (r / "val").glob("*.png")], "no PNG images"),
])
def test_camvid_malformed_folders_raise_one_line(tmp_path, break_it, message):
    root = _camvid(tmp_path / "camvid", splits=("val",))
    break_it(root)
    with pytest.raises(MpsimError, match=message) as info:
        ds = get_dataset("camvid", "val", root=root)
        for i in range(len(ds)):
            ds[i]
    assert "\n" not in str(info.value)


def test_missing_data_root(tmp_path):
    with pytest.raises(MpsimError, match="no such data folder"):
        get_dataset("camvid", "train", root=tmp_path / "nope")
    with pytest.raises(MpsimError, match="needs --data-root"):
        get_dataset("cityscapes", "train")


# Cityscapes ---------------------------------------------------------------------------------------

def _cityscapes(root, h=8, w=16, splits=("train", "val")):
    rng = np.random.default_rng(1)
    for split in splits:
        for city, names in (("aachen", ["aachen_000000_000019"]), ("bonn", ["bonn_000001_000019", "bonn_000002_000019"])):
            for name in names:
                _png(root / "leftImg8bit" / split / city / f"{name}_leftImg8bit.png", rng.integers(0, 256, (h, w, 3)))
                lab = rng.integers(0, 34, (h, w))
                lab[:, :4] = 7  # road
                lab[:, 4:8] = 26  # car
                lab[:, 8:12] = 0  # unlabeled
                lab[:, 12:] = 9  # parking (train id 255)
                _png(root / "gtFine" / split / city / f"{name}_gtFine_labelIds.png", lab)
    return root


def test_cityscapes_layout_mapping_resize_and_normalisation(tmp_path):
    root = _cityscapes(tmp_path / "cs")
    ds = get_dataset("cityscapes", "val", root=root, size=(4, 8))
    assert len(ds) == 3 and ds.num_classes == 19 and ds.class_names[0] == "road" and ds.class_names[13] == "car"
    x, y = ds[0]
    assert x.shape == (3, 4, 8) and y.shape == (4, 8)
    assert -1.0 <= float(x.min()) and float(x.max()) <= 1.0 and float(x.min()) < 0 < float(x.max())
    assert (y[:, :2] == 0).all() and (y[:, 2:4] == 13).all() and (y[:, 4:] == 255).all()
    full = get_dataset("cityscapes", "val", root=root, size=None)
    raw = np.asarray(PIL.open(root / "leftImg8bit" / "val" / "aachen" / "aachen_000000_000019_leftImg8bit.png"),
                     dtype=np.float32)
    assert torch.allclose(full[0][0], torch.from_numpy(raw.transpose(2, 0, 1) / 127.5 - 1.0), atol=1e-6)


def test_cityscapes_train_flip_is_seeded(tmp_path):
    root = _cityscapes(tmp_path / "cs", splits=("train",))
    ds = get_dataset("cityscapes", "train", root=root, size=None, seed=0)
    flips = set()
    for epoch in range(10):
        ds.set_epoch(epoch)
        _, y = ds[0]
        flips.add(bool((y[:, -4:] == 0).all()))  # road on the right: flipped
        again = get_dataset("cityscapes", "train", root=root, size=None, seed=0)
        again.set_epoch(epoch)
        assert torch.equal(again[0][1], y)
    assert flips == {True, False}


def test_cityscapes_image_without_label(tmp_path):
    root = _cityscapes(tmp_path / "cs", splits=("val",))
    victim = root / "gtFine" / "val" / "bonn" / "bonn_000002_000019_gtFine_labelIds.png"
    victim.unlink()
    with pytest.raises(MpsimError, match="bonn_000002_000019_leftImg8bit.png: no label"):
        get_dataset("cityscapes", "val", root=root)
    with pytest.raises(MpsimError, match="leftImg8bit/train"):
        get_dataset("cityscapes", "train", root=root)
