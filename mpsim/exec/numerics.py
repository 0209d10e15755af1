"""Hardware numerics for the functional executor, chosen by a profile's ``numerics`` and ``crossbar``.

The executor calls ``weight(node, role, name, array)`` once per weight and
``activation(node, tensor, array)`` on every tensor a step writes; an analog profile also
replaces convolution and linear layers (``layer``) by a crossbar model.  Every random choice
(stuck cells, read noise) comes from a generator seeded by (seed, weight or node name,
call count), so the same inputs give the same outputs.

* ``fp16`` / ``bf16``: round to nearest even in that format (weights and activations).
* ``int8`` weights: symmetric per-output-channel scale max|w| / 127, round, dequantise
  (biases and batch-norm parameters stay float: they live in wide accumulators).
* ``int8`` / ``int16`` activations: symmetric per-tensor scale from the tensor's own max|x|
  (dynamic range), round, dequantise.
* analog crossbars: each weight is a differential pair, ``w = g+ - g-``, each side on
  2^(weight_bits - 1) levels between 0 and the column's max|w| (bit-sliced over as many cells
  as ``bits_per_cell`` needs); a fraction ``stuck_at_on``
  of cells sits at the highest level, ``stuck_at_off`` at 0.  A layer's matrix is cut into
  arrays of ``rows`` inputs; each array's partial sums get Gaussian read noise (sigma =
  ``read_noise`` x the array's full scale) and go through an ``adc_bits`` ADC whose range is
  calibrated to 3 standard deviations of the array's partial sums and clips beyond; the
  digital periphery adds the arrays' results and the bias.
"""

from __future__ import annotations

import zlib
from typing import Any, Callable

import numpy as np

from mpsim.hw.profile import Profile
from mpsim.ir.graph import Node
from mpsim.ir.ops import is_weight_layer

F32 = np.float32
_QMAX = {"int8": 127.0, "int16": 32767.0}


def _bf16(a: np.ndarray) -> np.ndarray:
    bits = np.ascontiguousarray(a, dtype=F32).view(np.uint32)
    rounded = bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))
    return (rounded & np.uint32(0xFFFF0000)).view(F32)


def cast(a: np.ndarray, fmt: str) -> np.ndarray:
    """Round ``a`` to a floating format (fp32 unchanged)."""
    if fmt == "fp16":
        with np.errstate(over="ignore"):  # beyond 65504 becomes inf, as on the hardware
            return a.astype(np.float16).astype(F32)
    if fmt == "bf16":
        return _bf16(a)
    return a


def quantise(a: np.ndarray, qmax: float, axis: int | None = None) -> np.ndarray:
    """Symmetric uniform quantisation to integers in [-qmax, qmax], dequantised."""
    m = np.max(np.abs(a)) if axis is None else np.max(np.abs(a), axis=tuple(d for d in range(a.ndim) if d != axis),
                                                        keepdims=True)
    scale = np.where(m > 0, m / qmax, 1.0).astype(F32)
    return (np.clip(np.rint(a / scale), -qmax, qmax) * scale).astype(F32)


def _seed(*parts: Any) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


class DigitalNumerics:
    """fp16, bf16 or int8 weights with fp16, bf16, int8 or int16 activations."""

    fuse = True

    def __init__(self, weights: str, activations: str) -> None:
        self.weights, self.activations = weights, activations
        self.name = f"w:{weights} a:{activations}"

    def weight(self, node: Node, role: str, name: str, array: np.ndarray) -> np.ndarray:
        if self.weights == "int8":
            if role == "weight" and is_weight_layer(node.op):
                return quantise(array, 127.0, axis=0)
            return array
        if self.weights in _QMAX:  # int16 weights
            return quantise(array, _QMAX[self.weights], axis=0) if role == "weight" else array
        return cast(array, self.weights)

    def activation(self, node: Node, tensor: str, array: np.ndarray) -> np.ndarray:
        if self.activations in _QMAX:
            return quantise(array, _QMAX[self.activations])
        return cast(array, self.activations)


class AnalogNumerics(DigitalNumerics):
    """Crossbar arrays: conductance levels, stuck cells, per-array read noise and ADC."""

    fuse = False  # every convolution runs on its own arrays, its epilogue in the periphery

    def __init__(self, p: Profile, seed: int = 0) -> None:
        super().__init__("fp32", p.numerics.activations)
        self.xb = p.crossbar
        self.seed = seed
        self.name = f"analog {p.name}"
        self._calls: dict[str, int] = {}

    def weight(self, node: Node, role: str, name: str, array: np.ndarray) -> np.ndarray:
        if role != "weight" or not is_weight_layer(node.op):
            return array
        xb = self.xb
        w = array.reshape(array.shape[0], -1).astype(np.float64)
        gmax = np.max(np.abs(w), axis=1, keepdims=True)
        gmax = np.where(gmax > 0, gmax, 1.0)
        # Levels per sign: 2^(weight_bits - 1) - 1 steps, however many cells slice the weight
        # (Yao 2020: 4 bits -> -7..7, the paper's 15 levels; ISAAC: 16 bits over 8 cells).
        steps = max(1, 2 ** (xb.weight_bits - 1) - 1)
        rng = np.random.default_rng(_seed(self.seed, "cells", name))
        cells = []
        for part in (np.maximum(w, 0), np.maximum(-w, 0)):  # the differential pair
            g = np.rint(part / gmax * steps) / steps * gmax
            u = rng.random(g.shape)
            g = np.where(u < xb.stuck_at_on, gmax, g)
            g = np.where((u >= xb.stuck_at_on) & (u < xb.stuck_at_on + xb.stuck_at_off), 0.0, g)
            cells.append(g)
        return (cells[0] - cells[1]).astype(F32).reshape(array.shape)

    def layer(self, ex, node: Node) -> Callable[[list, int], list] | None:
        """The crossbar version of a convolution or linear layer (None: not a weight layer)."""
        if not is_weight_layer(node.op):
            return None
        weights, biases = ex.param(node, "weight"), ex.param(node, "bias")
        out_shape = ex.graph.tensors[node.outputs[0]].shape

        def fn(args: list, it: int) -> list:
            w = weights[it if len(weights) > 1 else 0]
            b = None if biases is None else biases[it if len(biases) > 1 else 0]
            count = self._calls.get(node.name, 0)
            self._calls[node.name] = count + 1
            rng = np.random.default_rng(_seed(self.seed, "read", node.name, count))
            return [self._run(node, args[0], w, b, out_shape, rng)]

        return fn

    def _mvm(self, x_cols: np.ndarray, w_rows: np.ndarray, rng) -> np.ndarray:
        """(Cout, K) @ (K, P) through arrays of ``rows`` inputs, each with noise and an ADC."""
        xb = self.xb
        out = np.zeros((w_rows.shape[0], x_cols.shape[1]), dtype=np.float64)
        levels = 2 ** (xb.adc_bits - 1) - 1
        for r0 in range(0, w_rows.shape[1], xb.rows):
            wa = w_rows[:, r0:r0 + xb.rows].astype(np.float64)
            part = wa @ x_cols[r0:r0 + xb.rows].astype(np.float64)
            # The ADC's range is calibrated to the array's signal: 3 standard deviations of its
            # partial sums (values beyond clip); read noise is relative to that full scale.
            fs = max(3.0 * float(part.std()), 1e-30)
            if xb.read_noise > 0:
                part = part + rng.normal(0.0, 1.0, part.shape) * (xb.read_noise * fs)
            lsb = fs / max(1, levels)
            out += np.clip(np.rint(part / lsb), -levels, levels) * lsb
        return out

    def _run(self, node: Node, x: np.ndarray, w: np.ndarray, b, out_shape, rng) -> np.ndarray:
        if node.op == "linear":
            x2 = x.reshape(-1, x.shape[-1]).T
            y = self._mvm(x2, w, rng).T
            if b is not None:
                y = y + b
            return np.ascontiguousarray(y.reshape(out_shape), dtype=F32)
        a = node.attrs
        groups = int(a["groups"])
        (sh, sw), (ph, pw), (dh, dw) = (tuple(a[k]) for k in ("stride", "padding", "dilation"))
        n, c, h, wd = x.shape
        cout, cpg, kh, kw = w.shape
        oh, ow = out_shape[2], out_shape[3]
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        # im2col: (C, kh, kw, N, oh, ow) -> rows (c, i, j), columns (n, y, x)
        cols = np.empty((c, kh, kw, n, oh, ow), dtype=F32)
        for i in range(kh):
            for j in range(kw):
                cols[:, i, j] = xp[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh,
                                   j * dw: j * dw + sw * (ow - 1) + 1: sw].transpose(1, 0, 2, 3)
        cols = cols.reshape(c * kh * kw, n * oh * ow)
        opg = cout // groups
        y = np.empty((cout, n * oh * ow), dtype=np.float64)
        for gi in range(groups):
            rows = cols[gi * cpg * kh * kw:(gi + 1) * cpg * kh * kw]
            y[gi * opg:(gi + 1) * opg] = self._mvm(rows, w[gi * opg:(gi + 1) * opg].reshape(opg, -1), rng)
        if b is not None:
            y += b[:, None]
        return np.ascontiguousarray(y.reshape(cout, n, oh, ow).transpose(1, 0, 2, 3), dtype=F32)


def for_profile(p: Profile, seed: int = 0):
    """The numerics a profile computes with; None for plain fp32 digital hardware."""
    if p.crossbar is not None:
        return AnalogNumerics(p, seed)
    if (p.numerics.weights, p.numerics.activations) == ("fp32", "fp32"):
        return None
    return DigitalNumerics(p.numerics.weights, p.numerics.activations)
