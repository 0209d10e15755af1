"""Numba kernels of the functional executor: float32, PyTorch semantics, no torch.

Every kernel is ``@njit(cache=True)``; the ones with enough independent work are
``parallel=True`` over channels, planes or rows.  Arrays passed in are C-contiguous float32
(the executor sees to it); integer arguments are Python ints, real ones Python floats that
the kernels round to float32 exactly once, where PyTorch does.

Matrix products (1x1 convolutions, the GEMM of im2col convolutions, linear layers) are not
here: the executor calls NumPy's BLAS for them and then runs one of the epilogues below
(bias, activation, residual add) in a single pass.

Activation codes shared by the fused epilogues and ``unary``:
``ACT_NONE`` (identity), ``ACT_CLAMP`` (relu, relu6 and clamp: ``min(max(v, lo), hi)``, NaN
passes through as in PyTorch), ``ACT_SIGMOID``, ``ACT_HARDSWISH``, ``ACT_HARDSIGMOID``,
``ACT_SILU``, ``ACT_GELU`` (erf form), ``ACT_GELU_TANH``, ``ACT_TANH``, ``ACT_ERF``,
``ACT_SQRT``, ``ACT_LEAKY`` (slope in ``lo``), ``ACT_POW`` (exponent in ``lo``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

ACT_NONE = 0
ACT_CLAMP = 1
ACT_SIGMOID = 2
ACT_HARDSWISH = 3
ACT_HARDSIGMOID = 4
ACT_SILU = 5
ACT_GELU = 6
ACT_GELU_TANH = 7
ACT_TANH = 8
ACT_ERF = 9
ACT_SQRT = 10
ACT_LEAKY = 11
ACT_POW = 12

_F0 = np.float32(0.0)
_F1 = np.float32(1.0)
_F3 = np.float32(3.0)
_F6 = np.float32(6.0)
_FHALF = np.float32(0.5)
_SQRT1_2 = np.float32(0.7071067811865476)
_GELU_K = np.float32(0.7978845608028654)  # sqrt(2/pi)
_GELU_C = np.float32(0.044715)


@njit(cache=True, inline="always")
def _act(v, act, lo, hi):
    if act == ACT_CLAMP:
        if v < lo:
            v = lo
        if v > hi:
            v = hi
    elif act == ACT_SIGMOID:
        v = _F1 / (_F1 + np.float32(math.exp(-v)))
    elif act == ACT_HARDSWISH:
        r = v + _F3
        if r < _F0:
            r = _F0
        if r > _F6:
            r = _F6
        v = v * r / _F6
    elif act == ACT_HARDSIGMOID:
        r = v + _F3
        if r < _F0:
            r = _F0
        if r > _F6:
            r = _F6
        v = r / _F6
    elif act == ACT_SILU:
        v = v / (_F1 + np.float32(math.exp(-v)))
    elif act == ACT_GELU:
        v = v * _FHALF * (_F1 + np.float32(math.erf(v * _SQRT1_2)))
    elif act == ACT_GELU_TANH:
        v = _FHALF * v * (_F1 + np.float32(math.tanh(_GELU_K * (v + _GELU_C * v * v * v))))
    elif act == ACT_TANH:
        v = np.float32(math.tanh(v))
    elif act == ACT_ERF:
        v = np.float32(math.erf(v))
    elif act == ACT_SQRT:
        v = np.float32(np.sqrt(v))
    elif act == ACT_LEAKY:
        if v < _F0:
            v = v * lo
    elif act == ACT_POW:
        if lo == np.float32(2.0):
            v = v * v
        else:
            v = np.float32(math.pow(v, lo)) if v >= _F0 or lo == np.floor(lo) else np.float32(np.nan)
    return v


# Epilogues and elementwise ops -----------------------------------------------------------------
# Inner loops run over slices with ``range(n)`` from 0: with a possibly negative index numba
# adds wrap-around code that stops LLVM from vectorising the loop.

_BLOCK = 16384  # elements per parallel chunk of the flat elementwise kernels


@njit(parallel=True, cache=True)
def epilogue_rows(out, bias, act, lo, hi, res, has_res):
    """In place on ``out`` (R, P): ``v = act(out[r, p] + bias[r])``, then ``res[r, p] + v``."""
    lo32 = np.float32(lo)
    hi32 = np.float32(hi)
    R, P = out.shape
    for r in prange(R):
        b = bias[r]
        o = out[r]
        if act == ACT_NONE and not has_res:
            for p in range(P):
                o[p] = o[p] + b
        elif act == ACT_CLAMP and not has_res:
            for p in range(P):
                v = o[p] + b
                if v < lo32:
                    v = lo32
                if v > hi32:
                    v = hi32
                o[p] = v
        elif act == ACT_NONE:
            rr = res[r]
            for p in range(P):
                o[p] = rr[p] + (o[p] + b)
        else:
            for p in range(P):
                v = _act(o[p] + b, act, lo32, hi32)
                if has_res:
                    v = res[r, p] + v
                o[p] = v


@njit(parallel=True, cache=True)
def bias_cols(out, bias):
    """In place on ``out`` (M, N): add ``bias[n]`` to every row (linear layers)."""
    M, N = out.shape
    for m in prange(M):
        o = out[m]
        for n in range(N):
            o[n] = o[n] + bias[n]


@njit(parallel=True, cache=True)
def unary(x, act, lo, hi):
    """Elementwise activation of a flat array into a new one."""
    lo32 = np.float32(lo)
    hi32 = np.float32(hi)
    n = x.size
    out = np.empty(n, np.float32)
    nb = (n + _BLOCK - 1) // _BLOCK
    for k in prange(nb):
        s = k * _BLOCK
        e = min(s + _BLOCK, n)
        xs = x[s:e]
        os = out[s:e]
        if act == ACT_CLAMP:
            for i in range(e - s):
                v = xs[i]
                if v < lo32:
                    v = lo32
                if v > hi32:
                    v = hi32
                os[i] = v
        else:
            for i in range(e - s):
                os[i] = _act(xs[i], act, lo32, hi32)
    return out


@njit(parallel=True, cache=True)
def channel_affine(x, scale, shift, P):
    """Batch norm on a flat (N*C*P) array: ``x*scale[c] + shift[c]`` (scale/shift of length C or 1)."""
    C = max(scale.size, shift.size)
    rows = x.size // P
    out = np.empty(x.size, np.float32)
    for r in prange(rows):
        c = r % C
        s = scale[c if scale.size > 1 else 0]
        t = shift[c if shift.size > 1 else 0]
        xs = x[r * P:(r + 1) * P]
        os = out[r * P:(r + 1) * P]
        for p in range(P):
            os[p] = xs[p] * s + t
    return out


@njit(parallel=True, cache=True)
def prelu(x, weight, C, P):
    """PReLU on a flat (N*C*P) array; ``weight`` has C entries or one."""
    rows = x.size // P
    out = np.empty(x.size, np.float32)
    for r in prange(rows):
        a = weight[(r % C) if weight.size > 1 else 0]
        xs = x[r * P:(r + 1) * P]
        os = out[r * P:(r + 1) * P]
        for p in range(P):
            v = xs[p]
            os[p] = v if v > _F0 else a * v
    return out


OP_ADD = 0
OP_MUL = 1
OP_SUB = 2
OP_DIV = 3


@njit(cache=True, inline="always", error_model="numpy")
def _bin(a, b, op):
    if op == OP_ADD:
        return a + b
    if op == OP_MUL:
        return a * b
    if op == OP_SUB:
        return a - b
    return a / b


@njit(parallel=True, cache=True, error_model="numpy")
def binary_same(a, b, op):
    """``a + b`` (op 0), ``a * b`` (1), ``a - b`` (2) or ``a / b`` (3) of two flat arrays of
    equal size."""
    n = a.size
    out = np.empty(n, np.float32)
    nb = (n + _BLOCK - 1) // _BLOCK
    for k in prange(nb):
        s = k * _BLOCK
        e = min(s + _BLOCK, n)
        aa = a[s:e]
        bb = b[s:e]
        os = out[s:e]
        if op == OP_ADD:
            for i in range(e - s):
                os[i] = aa[i] + bb[i]
        elif op == OP_MUL:
            for i in range(e - s):
                os[i] = aa[i] * bb[i]
        else:
            for i in range(e - s):
                os[i] = _bin(aa[i], bb[i], op)
    return out


@njit(parallel=True, cache=True, error_model="numpy")
def binary_bcast4(a, b, op):
    """``a + b`` / ``a * b`` of two rank-4 views already broadcast to the same shape (strides 0
    on broadcast axes)."""
    D0, D1, D2, D3 = a.shape
    out = np.empty((D0, D1, D2, D3), np.float32)
    for t in prange(D0 * D1 * D2):
        i = t // (D1 * D2)
        j = (t // D2) % D1
        k = t % D2
        ar = a[i, j, k]
        br = b[i, j, k]
        orow = out[i, j, k]
        if op == OP_ADD:
            for m in range(D3):
                orow[m] = ar[m] + br[m]
        elif op == OP_MUL:
            for m in range(D3):
                orow[m] = ar[m] * br[m]
        else:
            for m in range(D3):
                orow[m] = _bin(ar[m], br[m], op)
    return out


@njit(parallel=True, cache=True, error_model="numpy")
def scalar_op(x, s, op, reverse=False):
    """``x op s`` (``s op x`` with ``reverse``) for the ops of ``binary_same``, with the scalar
    rounded to float32 (PyTorch's rule)."""
    s32 = np.float32(s)
    n = x.size
    out = np.empty(n, np.float32)
    nb = (n + _BLOCK - 1) // _BLOCK
    for k in prange(nb):
        st = k * _BLOCK
        e = min(st + _BLOCK, n)
        xs = x[st:e]
        os = out[st:e]
        if op == OP_ADD:
            for i in range(e - st):
                os[i] = xs[i] + s32
        elif op == OP_MUL:
            for i in range(e - st):
                os[i] = xs[i] * s32
        elif reverse:
            for i in range(e - st):
                os[i] = _bin(s32, xs[i], op)
        else:
            for i in range(e - st):
                os[i] = _bin(xs[i], s32, op)
    return out


# Convolutions ----------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _valid_range(n_out, stride, offset, size):
    """Output positions o in [0, n_out) with 0 <= o*stride + offset < size, as [lo, hi)."""
    lo = 0
    if offset < 0:
        lo = (-offset + stride - 1) // stride
    hi = 0
    if size - 1 - offset >= 0:
        hi = (size - 1 - offset) // stride + 1
    if hi > n_out:
        hi = n_out
    if lo > hi:
        lo = hi
    return lo, hi


@njit(parallel=True, cache=True)
def im2col(x, c0, c1, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, col):
    """Columns of channels [c0, c1) of ``x`` (C, H, W) into ``col`` ((c1-c0)*kh*kw, oh*ow),
    a reused workspace (fresh pages cost more than the copy)."""
    H = x.shape[1]
    W = x.shape[2]
    K = kh * kw
    rows = (c1 - c0) * K
    for r in prange(rows):
        c = c0 + r // K
        k = r % K
        i = k // kw
        j = k % kw
        xoff = j * dw - pw
        q0, q1 = _valid_range(ow, sw, xoff, W)
        L = q1 - q0
        cr = col[r]
        for y in range(oh):
            iy = y * sh - ph + i * dh
            row = cr[y * ow:(y + 1) * ow]
            if iy < 0 or iy >= H:
                row[:] = _F0
                continue
            row[:q0] = _F0
            row[q1:] = _F0
            dst = row[q0:q1]
            if sw == 1:
                src1 = x[c, iy, q0 + xoff:q1 + xoff]
                for q in range(L):
                    dst[q] = src1[q]
            elif L > 0:
                srcs = x[c, iy, q0 * sw + xoff:(q1 - 1) * sw + xoff + 1:sw]
                for q in range(L):
                    dst[q] = srcs[q]
    return col


@njit(cache=True)
def subsample(x, sh, sw, oh, ow):
    """``x[:, ::sh, ::sw]`` cropped to (oh, ow), contiguous (strided 1x1 convolutions)."""
    C = x.shape[0]
    out = np.empty((C, oh, ow), np.float32)
    for c in range(C):
        for y in range(oh):
            src = x[c, y * sh, 0:(ow - 1) * sw + 1:sw]
            dst = out[c, y]
            for q in range(ow):
                dst[q] = src[q]
    return out


@njit(parallel=True, cache=True)
def conv_direct(x, w, bias, sh, sw, ph, pw, dh, dw, groups, oh, ow, act, lo, hi):
    """Grouped (e.g. depthwise) convolution as a direct loop, parallel over output planes.

    x (N, C, H, W), w (Cout, C/groups, kh, kw), bias (Cout,) -> (N, Cout, oh, ow) with the
    activation applied."""
    N, C, H, W = x.shape
    Cout, cpg, kh, kw = w.shape
    opg = Cout // groups
    lo32 = np.float32(lo)
    hi32 = np.float32(hi)
    out = np.empty((N, Cout, oh, ow), np.float32)
    for t in prange(N * Cout):
        n = t // Cout
        co = t % Cout
        g = co // opg
        o = out[n, co]
        b = bias[co]
        for y in range(oh):
            o[y, :] = b
        for cg in range(cpg):
            xp = x[n, g * cpg + cg]
            for i in range(kh):
                y0, y1 = _valid_range(oh, sh, i * dh - ph, H)
                for j in range(kw):
                    wv = w[co, cg, i, j]
                    xoff = j * dw - pw
                    q0, q1 = _valid_range(ow, sw, xoff, W)
                    L = q1 - q0
                    if L <= 0:
                        continue
                    for y in range(y0, y1):
                        iy = y * sh + i * dh - ph
                        dst = o[y, q0:q1]
                        if sw == 1:
                            src1 = xp[iy, q0 + xoff:q1 + xoff]
                            for q in range(L):
                                dst[q] += wv * src1[q]
                        else:
                            srcs = xp[iy, q0 * sw + xoff:(q1 - 1) * sw + xoff + 1:sw]
                            for q in range(L):
                                dst[q] += wv * srcs[q]
        if act != ACT_NONE:
            for y in range(oh):
                orow = o[y]
                for q in range(ow):
                    orow[q] = _act(orow[q], act, lo32, hi32)
    return out


# Pooling ---------------------------------------------------------------------------------------

@njit(cache=True)
def max_pool2d(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """PyTorch max_pool2d (padding never wins; NaN propagates): ``max_pool2d_indices``'s values."""
    return max_pool2d_indices(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)[0]


@njit(parallel=True, cache=True)
def avg_pool2d(x, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad):
    """PyTorch avg_pool2d: window clipped to the padded input for the divisor, to the input for
    the sum; ``count_include_pad`` False divides by the in-image part only."""
    N, C, H, W = x.shape
    out = np.empty((N, C, oh, ow), np.float32)
    for t in prange(N * C):
        n = t // C
        c = t % C
        xp = x[n, c]
        for y in range(oh):
            hs = y * sh - ph
            he = min(hs + kh, H + ph)
            hsize = he - hs
            hs = max(hs, 0)
            he = min(he, H)
            for q in range(ow):
                ws = q * sw - pw
                we = min(ws + kw, W + pw)
                pool = hsize * (we - ws)
                ws = max(ws, 0)
                we = min(we, W)
                if hs >= he or ws >= we:
                    out[n, c, y, q] = _F0
                    continue
                s = _F0
                for iy in range(hs, he):
                    for ix in range(ws, we):
                        s += xp[iy, ix]
                div = pool if count_include_pad else (he - hs) * (we - ws)
                out[n, c, y, q] = s / np.float32(div)
    return out


@njit(parallel=True, cache=True)
def adaptive_avg_pool2d(x, oh, ow):
    N, C, H, W = x.shape
    out = np.empty((N, C, oh, ow), np.float32)
    for t in prange(N * C):
        n = t // C
        c = t % C
        xp = x[n, c]
        for y in range(oh):
            hs = (y * H) // oh
            he = -((-(y + 1) * H) // oh)
            for q in range(ow):
                ws = (q * W) // ow
                we = -((-(q + 1) * W) // ow)
                s = _F0
                for iy in range(hs, he):
                    for ix in range(ws, we):
                        s += xp[iy, ix]
                out[n, c, y, q] = s / np.float32(he - hs) / np.float32(we - ws)
    return out


# Interpolation ---------------------------------------------------------------------------------

@njit(parallel=True, cache=True)
def bilinear(x, h0, h1, lh0, lh1, w0, w1, lw0, lw1):
    """Bilinear interpolation with precomputed source indices and weights per output row (h*)
    and column (w*), in PyTorch's order ``(a*lw0 + b*lw1)*lh0 + (c*lw0 + d*lw1)*lh1``: the
    horizontal pass is computed once per source row, then rows are blended."""
    N, C, H, W = x.shape
    oh = h0.size
    ow = w0.size
    out = np.empty((N, C, oh, ow), np.float32)
    for t in prange(N * C):
        n = t // C
        c = t % C
        tmp = np.empty((H, ow), np.float32)
        for h in range(H):
            xr = x[n, c, h]
            tr = tmp[h]
            for q in range(ow):
                tr[q] = xr[w0[q]] * lw0[q] + xr[w1[q]] * lw1[q]
        for y in range(oh):
            r0 = tmp[h0[y]]
            r1 = tmp[h1[y]]
            a0 = lh0[y]
            a1 = lh1[y]
            orow = out[n, c, y]
            for q in range(ow):
                orow[q] = r0[q] * a0 + r1[q] * a1
    return out


@njit(parallel=True, cache=True)
def nearest(x, hi, wi):
    """Nearest interpolation with precomputed source row / column per output position."""
    N, C, H, W = x.shape
    oh = hi.size
    ow = wi.size
    out = np.empty((N, C, oh, ow), np.float32)
    for t in prange(N * C * oh):
        y = t % oh
        p = t // oh
        n = p // C
        c = p % C
        r = x[n, c, hi[y]]
        for q in range(ow):
            out[n, c, y, q] = r[wi[q]]
    return out


# Reductions ------------------------------------------------------------------------------------

@njit(parallel=True, cache=True)
def softmax_mid(x):
    """Softmax over the middle axis of (outer, axis, inner): max-shifted exp, then / sum."""
    O, A, I = x.shape
    out = np.empty((O, A, I), np.float32)
    for t in prange(O * I):
        o = t // I
        i = t % I
        m = x[o, 0, i]
        for a in range(1, A):
            v = x[o, a, i]
            if v > m or np.isnan(v):
                m = v
        s = _F0
        for a in range(A):
            e = np.float32(math.exp(x[o, a, i] - m))
            out[o, a, i] = e
            s += e
        for a in range(A):
            out[o, a, i] = out[o, a, i] / s
    return out


@njit(parallel=True, cache=True)
def _row_sums_over(x, divisor):
    """Each row of (R, L) summed in float64, divided by ``divisor``, rounded once to float32."""
    R, L = x.shape
    out = np.empty(R, np.float32)
    for r in prange(R):
        s = 0.0
        for k in range(L):
            s += x[r, k]
        out[r] = np.float32(s / divisor)
    return out


@njit(cache=True)
def mean_rows(x):
    """Mean of each row of (R, L), accumulated in float64, rounded once to float32."""
    return _row_sums_over(x, np.float64(x.shape[1]))


@njit(parallel=True, cache=True)
def col2im(col, cout, kh, kw, sh, sw, ph, pw, dh, dw, H, W, oh, ow, bias, out):
    """Transposed convolution's scatter: ``col`` ((cout*kh*kw), H*W), the products of the
    filters with every input pixel, added into ``out`` (cout, oh, ow) at
    ``(y*sh - ph + i*dh, x*sw - pw + j*dw)``; parallel over output channels (each writes its own
    plane), taps in (i, j) order, after ``bias``."""
    for co in prange(cout):
        o = out[co]
        b = bias[co]
        for y in range(oh):
            orow = o[y]
            for q in range(ow):
                orow[q] = b
        for i in range(kh):
            for j in range(kw):
                cr = col[(co * kh + i) * kw + j]
                xoff = j * dw - pw
                for y in range(H):
                    oy = y * sh - ph + i * dh
                    if oy < 0 or oy >= oh:
                        continue
                    orow = o[oy]
                    src = cr[y * W:(y + 1) * W]
                    for x in range(W):
                        ox = x * sw + xoff
                        if 0 <= ox < ow:
                            orow[ox] += src[x]
    return out


@njit(parallel=True, cache=True)
def max_pool2d_indices(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """``max_pool2d`` that also returns each maximum's flat position ``iy*W + ix`` in its plane
    (the first one on ties, as PyTorch)."""
    N, C, H, W = x.shape
    out = np.empty((N, C, oh, ow), np.float32)
    idx = np.empty((N, C, oh, ow), np.int64)
    for t in prange(N * C):
        n = t // C
        c = t % C
        xp = x[n, c]
        for y in range(oh):
            hs = y * sh - ph
            he = min(hs + (kh - 1) * dh + 1, H)
            while hs < 0:
                hs += dh
            for q in range(ow):
                ws = q * sw - pw
                we = min(ws + (kw - 1) * dw + 1, W)
                while ws < 0:
                    ws += dw
                m32 = np.float32(-np.inf)
                best = hs * W + ws
                for iy in range(hs, he, dh):
                    for ix in range(ws, we, dw):
                        v = xp[iy, ix]
                        if v > m32 or np.isnan(v):
                            m32 = v
                            best = iy * W + ix
                out[n, c, y, q] = m32
                idx[n, c, y, q] = best
    return out, idx


@njit(parallel=True, cache=True)
def max_unpool2d(x, idx, oh, ow):
    """Zeros (N, C, oh, ow) with each value of ``x`` written at its plane position ``idx``
    (later values win, as PyTorch's sequential loop); indices already checked in range."""
    N, C = x.shape[0], x.shape[1]
    L = x.shape[2] * x.shape[3]
    out = np.zeros((N, C, oh * ow), np.float32)
    for t in prange(N * C):
        n = t // C
        c = t % C
        xs = x[n, c].reshape(L)
        ids = idx[n, c].reshape(L)
        o = out[n, c]
        for k in range(L):
            o[ids[k]] = xs[k]
    return out.reshape((N, C, oh, ow))


@njit(parallel=True, cache=True)
def layer_norm_rows(x, eps, weight, bias, has_weight, has_bias):
    """Layer norm of each row of (R, L): mean and (biased) variance in float64,
    ``rstd = 1/sqrt(var + eps)`` rounded to float32, ``(x - mean) * rstd * weight[k] + bias[k]``."""
    R, L = x.shape
    out = np.empty((R, L), np.float32)
    for r in prange(R):
        xr = x[r]
        s = 0.0
        for k in range(L):
            s += xr[k]
        mean = s / L
        v = 0.0
        for k in range(L):
            d = xr[k] - mean
            v += d * d
        m32 = np.float32(mean)
        rstd = np.float32(1.0 / math.sqrt(v / L + eps))
        o = out[r]
        for k in range(L):
            y = (xr[k] - m32) * rstd
            if has_weight:
                y = y * weight[k]
            if has_bias:
                y = y + bias[k]
            o[k] = y
    return out


@njit(parallel=True, cache=True)
def group_norm(x, groups, eps, weight, bias, has_weight, has_bias):
    """Group norm of (N, C, P): statistics over each group's (C/groups)*P values in float64,
    then per channel ``(x - mean) * rstd * weight[c] + bias[c]``."""
    N, C, P = x.shape
    cg = C // groups
    L = cg * P
    out = np.empty((N, C, P), np.float32)
    for t in prange(N * groups):
        n = t // groups
        g = t % groups
        s = 0.0
        for c in range(g * cg, (g + 1) * cg):
            xr = x[n, c]
            for p in range(P):
                s += xr[p]
        mean = s / L
        v = 0.0
        for c in range(g * cg, (g + 1) * cg):
            xr = x[n, c]
            for p in range(P):
                d = xr[p] - mean
                v += d * d
        m32 = np.float32(mean)
        rstd = np.float32(1.0 / math.sqrt(v / L + eps))
        for c in range(g * cg, (g + 1) * cg):
            w = weight[c] if has_weight else _F1
            b = bias[c] if has_bias else _F0
            xr = x[n, c]
            o = out[n, c]
            for p in range(P):
                y = (xr[p] - m32) * rstd
                if has_weight:
                    y = y * w
                if has_bias:
                    y = y + b
                o[p] = y
    return out


@njit(cache=True)
def sum_rows(x):
    """Sum of each row of (R, L), accumulated in float64, rounded once to float32."""
    return _row_sums_over(x, 1.0)


def warm_up() -> None:
    """Compile (or load from the cache) every kernel with the argument types the executor uses."""
    f = np.float32
    x4 = np.zeros((1, 2, 4, 4), f)
    x1 = x4.reshape(-1)
    v2 = np.zeros(2, f)
    r2 = np.zeros((2, 16), f)
    epilogue_rows(r2, v2, ACT_CLAMP, 0.0, 6.0, r2, False)
    bias_cols(np.zeros((2, 2), f), v2)
    unary(x1, ACT_CLAMP, 0.0, 6.0)
    channel_affine(x1, v2, v2, 16)
    prelu(x1, v2, 2, 16)
    binary_same(x1, x1, 0)
    full = np.broadcast_to(x4, x4.shape)
    part = np.broadcast_to(np.zeros((1, 2, 1, 1), f), x4.shape)
    binary_bcast4(full, part, 0)
    binary_bcast4(part, full, 0)
    binary_bcast4(part, np.broadcast_to(np.zeros((1, 1, 4, 1), f), x4.shape), 0)
    scalar_op(x1, 1.0, 0)
    im2col(x4[0], 0, 2, 3, 3, 1, 1, 1, 1, 1, 1, 4, 4, np.empty((18, 16), f))
    subsample(x4[0], 2, 2, 2, 2)
    conv_direct(x4, np.zeros((2, 1, 3, 3), f), v2, 1, 1, 1, 1, 1, 1, 2, 4, 4, ACT_NONE, 0.0, 0.0)
    max_pool2d(x4, 2, 2, 2, 2, 0, 0, 1, 1, 2, 2)
    avg_pool2d(x4, 2, 2, 2, 2, 0, 0, 2, 2, True)
    adaptive_avg_pool2d(x4, 1, 1)
    i2 = np.zeros(2, np.int64)
    bilinear(x4, i2, i2, v2, v2, i2, i2, v2, v2)
    nearest(x4, i2, i2)
    softmax_mid(np.zeros((1, 2, 16), f))
    mean_rows(np.zeros((2, 16), f))
    sum_rows(np.zeros((2, 16), f))
    for act in (ACT_HARDSIGMOID, ACT_SILU, ACT_GELU, ACT_POW):
        unary(x1, act, 2.0, 0.0)
    binary_same(x1, x1, OP_DIV)
    scalar_op(x1, 1.0, OP_SUB, True)
    col2im(np.zeros((2 * 9, 16), f), 2, 3, 3, 1, 1, 1, 1, 1, 1, 4, 4, 4, 4, v2, np.empty((2, 4, 4), f))
    _, i4 = max_pool2d_indices(x4, 2, 2, 2, 2, 0, 0, 1, 1, 2, 2)
    max_unpool2d(np.zeros((1, 2, 2, 2), f), i4, 4, 4)
    layer_norm_rows(np.zeros((2, 16), f), 1e-5, np.zeros(16, f), np.zeros(16, f), True, True)
    group_norm(x4.reshape(1, 2, 16), 1, 1e-5, v2, v2, True, True)
