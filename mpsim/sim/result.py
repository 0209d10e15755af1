"""What an engine run measures, in one container every engine fills the same way."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mpsim.sim.plan import SimPlan

from mpsim.sim.stats import LatencyHistogram


@dataclass
class SimResult:
    frames: int
    warmup: int  # frames excluded from steady-state figures (pipeline fill)
    first_latency: np.ndarray  # [outputs] latency of frame 0 (empty machine)
    hist: LatencyHistogram  # steady-state latencies per output
    exit_hist: LatencyHistogram  # steady-state latency of each frame's last output (its exit)
    t_first: float  # completion of the first steady frame's last output
    t_last: float  # completion of the last frame's last output
    n_steady: int
    end_time: float
    unit_busy: np.ndarray
    node_busy: np.ndarray
    link_busy: np.ndarray
    link_bytes: np.ndarray
    local_bytes: float
    offchip_bytes: float
    energy_compute_j: float
    energy_conversion_j: float
    energy_movement_j: float
    firings: int
    release: np.ndarray | None = None  # [frames] when recorded
    done: np.ndarray | None = None  # [frames, outputs] completion times when recorded
    trace: list = field(default_factory=list)  # chrome trace events of the first frames
    steps: int = 0  # supersteps or ticks (bsp, rollout); 0 in dataflow
    phase_s: np.ndarray = field(default_factory=lambda: np.zeros(3))  # bsp: compute, sync, exchange totals

    @property
    def throughput_fps(self) -> float | None:
        """(F - 1) / (t_last - t_first) over steady-state completions of the last output."""
        if self.n_steady < 2 or self.t_last <= self.t_first:
            return None
        return (self.n_steady - 1) / (self.t_last - self.t_first)


def deadlock(left: int, frames: int) -> RuntimeError:
    """What every engine raises when frames can never finish: a plan whose firings wait for inputs
    that no firing produces (an inconsistent plan, never a property of the hardware)."""
    return RuntimeError(f"the plan deadlocks: {left} of {frames} frames can never finish (a firing waits for "
                        "an input that no firing of its frame produces)")


def counted(plan: SimPlan, fired: np.ndarray, moved: np.ndarray) -> dict:
    """Busy times, bytes, energies and firings of a run from how often each node fired and each
    edge's data crossed its link: one definition for every engine, whatever order its events
    came in (each product rounds once; the sums are exact-rounded, ``math.fsum``)."""
    fired, moved = np.asarray(fired, dtype=np.int64), np.asarray(moved, dtype=np.int64)
    node_busy = fired * plan.service_s
    unit_busy = np.zeros(plan.n_units)
    np.add.at(unit_busy, plan.unit_of, node_busy)
    on_link = plan.e_link >= 0
    link = plan.e_link[on_link]
    n = moved[on_link]
    nl = len(plan.link_names)
    link_busy, link_bytes = np.zeros(nl), np.zeros(nl)
    np.add.at(link_busy, link, n * plan.e_time[on_link])
    np.add.at(link_bytes, link, n * plan.e_bytes[on_link])
    link_move = n * (plan.e_bytes[on_link] * plan.link_energy_j_per_byte[link])
    return dict(
        unit_busy=unit_busy, node_busy=node_busy, link_busy=link_busy, link_bytes=link_bytes,
        local_bytes=math.fsum(fired * plan.local_bytes), offchip_bytes=math.fsum(fired * plan.offchip_bytes),
        energy_compute_j=math.fsum(fired * plan.energy_compute_j),
        energy_conversion_j=math.fsum(fired * plan.energy_conversion_j),
        energy_movement_j=math.fsum(np.concatenate([fired * plan.energy_move_j, link_move])),
        firings=int(fired.sum()),
    )
