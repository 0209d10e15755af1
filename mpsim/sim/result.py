"""What an engine run measures, in one container both engines fill the same way."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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
