"""Segmentation metrics: confusion matrix, mIoU, pixel accuracy, and the ItNet AUC (paper, 2.3).

mIoU is a fraction in [0, 1]: the mean over classes of TP / (TP + FP + FN), over the classes
that occur in the labels or the predictions (a class absent from both has no IoU and is left
out).  Pixels labelled with the ignore index do not count anywhere.

AUC: the area under the curve of mIoU over MACs through the points (x_0, y_0) = (0, 0.00828)
(the chance-level mIoU of CamVid) and (x_n, mIoU_n) for the N outputs, by the trapezoidal rule
(the paper does not say which rule; this one is our choice), divided by x_N, the MACs of the
last output.  The result has the unit of mIoU: a network whose outputs all had mIoU y would
score about y.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

IGNORE_INDEX = 255
CHANCE_MIOU_CAMVID = 0.00828


def confusion_matrix(pred, target, num_classes: int, ignore_index: int = IGNORE_INDEX):
    """num_classes x num_classes counts, rows = true class, columns = predicted class.

    ``pred`` and ``target`` are integer tensors (torch) or arrays (numpy) of the same shape.
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - numpy path only
        torch = None
    if torch is not None and isinstance(pred, torch.Tensor):
        t = target.reshape(-1).to(torch.int64)
        p = pred.reshape(-1).to(torch.int64)
        keep = t != ignore_index
        t, p = t[keep], p[keep]
        if t.numel() and (t.max() >= num_classes or t.min() < 0):
            raise ValueError(f"label {int(t.max())} is not a class (0..{num_classes - 1}) nor the ignore index")
        idx = t * num_classes + p
        return torch.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)
    t = np.asarray(target).reshape(-1).astype(np.int64)
    p = np.asarray(pred).reshape(-1).astype(np.int64)
    keep = t != ignore_index
    t, p = t[keep], p[keep]
    if t.size and (t.max() >= num_classes or t.min() < 0):
        raise ValueError(f"label {int(t.max())} is not a class (0..{num_classes - 1}) nor the ignore index")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _np(conf) -> np.ndarray:
    return np.asarray(conf.cpu().numpy() if hasattr(conf, "cpu") else conf, dtype=np.float64)


def iou_per_class(conf) -> list[float | None]:
    """IoU of every class; None where the class occurs neither in labels nor predictions."""
    c = _np(conf)
    tp = np.diag(c)
    union = c.sum(0) + c.sum(1) - tp
    return [float(tp[i] / union[i]) if union[i] > 0 else None for i in range(len(tp))]


def mean_iou(conf) -> float:
    ious = [v for v in iou_per_class(conf) if v is not None]
    return float(np.mean(ious)) if ious else 0.0


def pixel_accuracy(conf) -> float:
    c = _np(conf)
    total = c.sum()
    return float(np.trace(c) / total) if total > 0 else 0.0


def auc(miou: Sequence[float], macs: Sequence[float], anchor: tuple[float, float] = (0.0, CHANCE_MIOU_CAMVID)) -> float:
    """Trapezoidal area under mIoU over MACs from ``anchor`` through every output, / MACs of the last."""
    if len(miou) != len(macs) or not miou:
        raise ValueError(f"auc needs one MAC count per output ({len(miou)} mIoU, {len(macs)} MACs)")
    xs = [float(anchor[0])] + [float(m) for m in macs]
    ys = [float(anchor[1])] + [float(v) for v in miou]
    if any(b < a for a, b in zip(xs, xs[1:])):
        raise ValueError(f"MACs must not decrease over the outputs: {xs[1:]}")
    if xs[-1] <= 0:
        raise ValueError("MACs of the last output must be positive")
    area = sum((x1 - x0) * (y0 + y1) / 2.0 for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:]))
    return area / xs[-1]
