"""Steady state by measurement: how many frames to simulate, and how sure the figures are.

A run's first frames fill an empty machine; its steady state is what a user means by
throughput and latency. The warm-up is cut where the MSER-5 rule (White 1997) puts it (never
before the pipeline fill: frames released before frame 0's outputs are out), and what remains
is split into batches (the method of batch means): the batches' mean inter-completion times
and mean last-output latencies give 95 % confidence intervals (Student t). A run is
*converged* when both half-widths are within ``tolerance`` of their means. Without ``--frames``
the simulation doubles its frame count until it converges or reaches the cap; the same
configuration therefore gives the same figure in every command.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np

from mpsim.sim.result import SimResult

BATCHES = 20  # batches of the method of batch means
MIN_PER_BATCH = 2  # frames per batch below which no interval is given
START_FRAMES = 256
DEFAULT_TOLERANCE = 0.01  # 95 % half-width / mean
DEFAULT_MAX_FRAMES = 65536
# Student t quantiles, 97.5 %, by degrees of freedom (BATCHES - 1 = 19 is the one used).
_T975 = {9: 2.262, 14: 2.145, 19: 2.093, 29: 2.045}


@dataclass(frozen=True)
class SteadyState:
    """The steady-state figures of one run and how sure they are."""

    converged: bool
    tolerance: float
    frames: int  # simulated
    warmup: int  # frames cut as warm-up
    batches: int
    throughput_fps: float | None  # frames (batches of images) per second, one replica
    throughput_ci: tuple[float, float] | None
    latency_s: float | None  # mean latency of each frame's last output
    latency_ci: tuple[float, float] | None
    rel_halfwidth: dict[str, float | None]
    overloaded: bool = False  # frames offered faster than the machine completes them: no steady state


def mser5(x: np.ndarray) -> int:
    """Frames to cut from the front of series ``x`` (MSER-5: minimise the standard error of the
    rest, in blocks of 5, looking at most at the first half)."""
    n = len(x) // 5
    if n < 4:
        return 0
    b = x[: n * 5].reshape(n, 5).mean(axis=1)
    tail_sum = np.cumsum(b[::-1])[::-1]
    tail_sq = np.cumsum((b * b)[::-1])[::-1]
    counts = np.arange(n, 0, -1, dtype=float)
    var = tail_sq / counts - (tail_sum / counts) ** 2
    stat = var / counts
    d = int(np.argmin(stat[: n // 2 + 1]))
    return 5 * d


def _halfwidth(values: np.ndarray) -> float:
    k = len(values)
    t = _T975.get(k - 1, 1.96 if k > 30 else 2.262)
    return float(t * values.std(ddof=1) / np.sqrt(k)) if k > 1 else float("inf")


def analyse(r: SimResult, tolerance: float = DEFAULT_TOLERANCE) -> SteadyState:
    """Batch means over a recorded run (``r.release`` and ``r.done`` present)."""
    done = r.done
    exit_t = np.nanmax(np.where(np.isnan(done), -np.inf, done), axis=1)
    ok = np.isfinite(exit_t)
    exit_t, release = exit_t[ok], r.release[ok]
    lat = exit_t - release
    F = len(exit_t)
    fill = min(F, int(r.warmup))
    cut = max(fill, mser5(lat))
    n = F - cut
    b = n // BATCHES
    none = SteadyState(False, tolerance, r.frames, cut, 0, r.throughput_fps, None,
                       float(lat[cut:].mean()) if n else None, None, {"throughput": None, "latency": None})
    if b < MIN_PER_BATCH or cut < 1:
        return none
    order = np.sort(exit_t)
    start = cut - 1 + (n - b * BATCHES)  # the completion before the first batch, remainder dropped
    points = order[start: start + b * BATCHES + 1]
    periods = (points[b::b] - points[:-b:b]) / b
    mean_period = (points[-1] - points[0]) / (b * BATCHES)
    hw_p = _halfwidth(periods)
    lat_b = lat[F - b * BATCHES:].reshape(BATCHES, b).mean(axis=1)
    mean_lat = float(lat_b.mean())
    hw_l = _halfwidth(lat_b)
    if mean_period <= 0:
        return none
    rel_t, rel_l = hw_p / mean_period, hw_l / mean_lat if mean_lat > 0 else 0.0
    lo_p, hi_p = mean_period - hw_p, mean_period + hw_p
    return SteadyState(
        converged=bool(rel_t <= tolerance and rel_l <= tolerance), tolerance=tolerance, frames=r.frames,
        warmup=cut, batches=BATCHES, throughput_fps=1.0 / mean_period,
        throughput_ci=(1.0 / hi_p, 1.0 / lo_p if lo_p > 0 else float("inf")),
        latency_s=mean_lat, latency_ci=(mean_lat - hw_l, mean_lat + hw_l),
        rel_halfwidth={"throughput": rel_t, "latency": rel_l})


def _overloaded(st: SteadyState, rate: float | None) -> SteadyState:
    """A run offered more frames per second than it completes has no steady state: its queue,
    and so its latency, grows without bound. Say so instead of simulating on."""
    if rate is None or st.throughput_fps is None or st.throughput_fps >= rate * (1 - 2 * max(st.tolerance, 0.01)):
        return st
    return dataclasses.replace(st, converged=False, overloaded=True)


def run_to_steady(run: Callable[[int], SimResult], frames: int | None, tolerance: float = DEFAULT_TOLERANCE,
                  max_frames: int = DEFAULT_MAX_FRAMES, start: int = START_FRAMES,
                  rate: float | None = None) -> tuple[SimResult, SteadyState]:
    """Run ``run(n)`` (a recorded engine run of n frames) until steady: exactly ``frames`` when
    given, else doubling from ``start`` until converged, overloaded (``rate`` above what the
    machine completes) or at ``max_frames``."""
    if frames is not None:
        r = run(frames)
        return r, _overloaded(analyse(r, tolerance), rate)
    n = min(start, max_frames)
    while True:
        r = run(n)
        st = _overloaded(analyse(r, tolerance), rate)
        if st.converged or st.overloaded or n >= max_frames:
            return r, st
        n = min(2 * n, max_frames)
