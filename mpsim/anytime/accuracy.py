"""Accuracy of anytime predictions: mIoU from a confusion matrix, or agreement with the last output."""

from __future__ import annotations

import numpy as np

IGNORE = 255


def confusion(pred: np.ndarray, label: np.ndarray, n_classes: int) -> np.ndarray:
    keep = label != IGNORE
    idx = label[keep].astype(np.int64) * n_classes + pred[keep].astype(np.int64)
    return np.bincount(idx, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def miou(cm: np.ndarray) -> float:
    """Mean IoU over the classes that occur in labels or predictions."""
    inter = np.diag(cm).astype(np.float64)
    union = cm.sum(0) + cm.sum(1) - inter
    present = union > 0
    return float((inter[present] / union[present]).mean()) if present.any() else 0.0


class ExitAccuracy:
    """Per frame and output, what a prediction contributes, so any exit choice is scored fast."""

    def __init__(self, preds: np.ndarray, labels: np.ndarray | None, n_classes: int) -> None:
        # preds: [frames, outputs, H, W] argmax maps; labels: [frames, H, W] or None
        self.n_classes = n_classes
        self.labelled = labels is not None
        f, k = preds.shape[:2]
        if self.labelled:
            self.cms = np.stack([[confusion(preds[i, j], labels[i], n_classes) for j in range(k)] for i in range(f)])
        else:
            self.agree = (preds == preds[:, -1:]).reshape(f, k, -1).mean(axis=2)

    def score(self, levels: np.ndarray) -> float:
        """Accuracy when data frame i exits at output ``levels[i]``."""
        return self.score_frames(levels, np.arange(len(levels)))

    def score_frames(self, levels: np.ndarray, frames: np.ndarray) -> float:
        """Accuracy over a stream in which data frame ``frames[j]`` exits at ``levels[j]``."""
        if self.labelled:
            return miou(self.cms[frames, levels].sum(axis=0))
        return float(self.agree[frames, levels].mean())

    def per_output(self) -> list[float]:
        k = self.cms.shape[1] if self.labelled else self.agree.shape[1]
        return [self.score(np.full(self.cms.shape[0] if self.labelled else self.agree.shape[0], j)) for j in range(k)]
