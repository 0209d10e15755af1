"""Upper limits on every number a user gives, and the checks that hold them.

One table (``LIMITS``) bounds the work and memory of every command: how many frames a run
streams, how long its offered stream lasts, how big a graph or a profile may be.  A value out
of range is one ``MpsimError`` line naming the field or flag, the value and the allowed range.
docs/limits.md prints the same table (a test keeps the two equal).

The checks are plain functions (``check_int``, ``check_real``) for loaders and a pair of
message builders (``int_problem``, ``real_problem``) that ``mpsim.cli.argtypes`` turns into
argparse types, so that a flag's bound is declared where the flag is.  This module imports
nothing of mpsim but the errors: every layer may use it.
"""

from __future__ import annotations

import math
import numbers
import reprlib
from dataclasses import dataclass
from typing import Any

from mpsim.errors import MpsimError


@dataclass(frozen=True)
class Limit:
    """One documented limit: its value, unit, and what it bounds."""

    name: str
    value: float
    unit: str
    bounds: str


LIMITS: dict[str, Limit] = {}


def _limit(name: str, value: Any, unit: str, bounds: str) -> Any:
    LIMITS[name] = Limit(name, value, unit, bounds)
    return value


# Streams and simulation -----------------------------------------------------------------------
MAX_FRAMES = _limit("MAX_FRAMES", 10_000_000, "frames",
                    "frames one simulation streams (run/sweep/anytime --frames and --max-frames)")
MAX_RATE = _limit("MAX_RATE", 1e12, "frames/s", "offered rate (--rate)")
MAX_STREAM_S = _limit("MAX_STREAM_S", 1e4, "s",
                      "simulated time the offered stream spans, (frames - 1) / rate: the least --rate "
                      "is (frames - 1) / 1e4")
MAX_FIRINGS_SIMPY = _limit("MAX_FIRINGS_SIMPY", 10_000_000, "firings",
                           "frames x node firings per frame of one SimPy-engine simulation (about 4 min)")
MAX_FIRINGS_FAST = _limit("MAX_FIRINGS_FAST", 1_000_000_000, "firings",
                          "frames x node firings per frame of one compiled-engine simulation (about 3 min)")
MAX_SUPERSTEPS = _limit("MAX_SUPERSTEPS", 2_000_000, "supersteps",
                        "supersteps (bsp) or ticks (rollout) an offered stream spans: (frames - 1) / rate "
                        "/ step, step = timing.sync (bsp) or the rollout tick (about 10 s)")
MAX_BUDGET_FRAMES = _limit("MAX_BUDGET_FRAMES", 100_000, "frames", "frames of a budget-trace run (run --budget-trace)")
MAX_TRACE_FRAMES = _limit("MAX_TRACE_FRAMES", 1_000, "frames", "frames of a Chrome trace (run --trace-frames)")
MAX_SECONDS = _limit("MAX_SECONDS", 1e6, "s", "a time a user gives: --deadline, deadline policy values, "
                                              "budget-trace times")
MAX_DATA_FRAMES = _limit("MAX_DATA_FRAMES", 10_000, "frames",
                         "data frames run through the executor (anytime, sweep and verify --data-frames)")
MAX_POLICY_VALUES = _limit("MAX_POLICY_VALUES", 256, "values", "policy values of one sweep (--values)")
MAX_SWEEP_POINTS = _limit("MAX_SWEEP_POINTS", 10_000, "points",
                          "profiles x models x modes (x values) of one sweep")
MAX_LIST_ITEMS = _limit("MAX_LIST_ITEMS", 1_000, "items", "items of any comma-separated flag")
MAX_WORKERS = _limit("MAX_WORKERS", 256, "processes", "local Dask workers (--workers)")
MAX_SEED = _limit("MAX_SEED", 2**32 - 1, "", "seeds (--seed), as NumPy's legacy generator takes them")
MAX_MACS = _limit("MAX_MACS", 1e18, "MACs", "a MAC budget (--budget-macs, dnn budget --macs, budget policy)")
MAX_TOLERANCE = _limit("MAX_TOLERANCE", 1e30, "", "an absolute error bound (verify --atol)")
MAX_POLICY_VALUE = _limit("MAX_POLICY_VALUE", 1e18, "",
                          "one policy value (confidence threshold, deadline in s, budget in MACs or s)")

# Graphs ---------------------------------------------------------------------------------------
MAX_GRAPH_FILE_BYTES = _limit("MAX_GRAPH_FILE_BYTES", 64 * 2**20, "B", "size of a graph.json (and a catalog.json)")
MAX_JSON_DEPTH = _limit("MAX_JSON_DEPTH", 32, "levels", "nesting of a graph, catalog or budget-trace JSON file")
MAX_JSON_INT = _limit("MAX_JSON_INT", 2**62, "", "magnitude of an integer in a graph file")
MAX_NODES = _limit("MAX_NODES", 100_000, "nodes", "nodes of a folded graph")
MAX_UNROLLED_NODES = _limit("MAX_UNROLLED_NODES", 100_000, "nodes",
                            "nodes of the unrolled graph: loop bodies x trip counts plus the rest")
MAX_TRIP_COUNT = _limit("MAX_TRIP_COUNT", 4_096, "iterations", "trip count of one loop")
MAX_OUTPUTS = _limit("MAX_OUTPUTS", 1_024, "outputs", "anytime outputs of a graph")
MAX_GRAPH_MACS = _limit("MAX_GRAPH_MACS", 10**18, "MACs", "MACs of one frame through the unrolled graph")
MAX_RANK = _limit("MAX_RANK", 8, "dimensions", "rank of a tensor or weight")
MAX_TENSOR_ELEMENTS = _limit("MAX_TENSOR_ELEMENTS", 2**30, "elements",
                             "elements of one tensor or weight (4 GiB at float32)")

# Profiles -------------------------------------------------------------------------------------
MAX_PROFILE_FILE_BYTES = _limit("MAX_PROFILE_FILE_BYTES", 2**20, "B", "size of a profile YAML file")
MAX_PROFILE_DEPTH = _limit("MAX_PROFILE_DEPTH", 16, "levels", "nesting of a profile YAML file")
MAX_CHIPS = _limit("MAX_CHIPS", 4_096, "chips", "compute.chips")
MAX_TILES_PER_CHIP = _limit("MAX_TILES_PER_CHIP", 2**20, "tiles", "compute.tiles_per_chip")
MAX_TOTAL_TILES = _limit("MAX_TOTAL_TILES", 2**24, "tiles", "chips x tiles_per_chip; a budget trace's tiles")
MAX_ARRAYS_PER_TILE = _limit("MAX_ARRAYS_PER_TILE", 4_096, "arrays", "crossbar.arrays_per_tile")

# Every profile field, after conversion to SI, is 0 (where the field allows it) or within the
# range of its dimension; per-field maxima (FieldSpec.maximum) tighten these.
SI_RANGE: dict[str, tuple[float, float]] = {
    "count": (1.0, 2.0**24),
    "size": (1.0, 1e15),  # B
    "frequency": (1.0, 1e11),  # Hz
    "bandwidth": (1.0, 1e16),  # B/s
    "time": (1e-15, 1e3),  # s
    "energy": (1e-21, 1.0),  # J per event
    "power": (1e-9, 1e7),  # W (a system's static power)
    "bits": (1.0, 64.0),
    "ratio": (0.0, 100.0),
    "mac_rate": (1e-6, 1e9),  # MAC per cycle
    "op_rate": (1e-6, 1e9),  # op per cycle
    "bool": (0.0, 1.0),
}
for _dim, (_lo, _hi) in SI_RANGE.items():
    _limit(f"SI_RANGE[{_dim}]", (_lo, _hi), "SI", f"a profile field of dimension {_dim}, in SI (0 where allowed)")

# Per-field maxima (dotted field name -> SI maximum), tighter than the field's dimension.
FIELD_MAXIMUM: dict[str, float] = {
    "compute.chips": MAX_CHIPS,
    "compute.tiles_per_chip": MAX_TILES_PER_CHIP,
    "crossbar.arrays_per_tile": MAX_ARRAYS_PER_TILE,
}

# Budget traces and catalogs -------------------------------------------------------------------
MAX_TRACE_FILE_BYTES = _limit("MAX_TRACE_FILE_BYTES", 16 * 2**20, "B", "size of a budget trace")
MAX_TRACE_POINTS = _limit("MAX_TRACE_POINTS", 10_000, "points", "points of a budget trace")
MAX_BUDGET_BYTES = _limit("MAX_BUDGET_BYTES", 1e15, "B", "a budget trace's bytes")
MAX_SUBNETS = _limit("MAX_SUBNETS", 1_024, "sub-networks", "entries of a catalog.json")

# Training -------------------------------------------------------------------------------------
MAX_EPOCHS = _limit("MAX_EPOCHS", 10_000, "epochs", "--epochs")
MAX_BATCH_SIZE = _limit("MAX_BATCH_SIZE", 4_096, "images", "--batch-size (train), --batch (run, sweep, anytime)")
MAX_BATCHES = _limit("MAX_BATCHES", 1_000_000, "batches", "--max-batches, --checkpoint-every")
MAX_IMAGES = _limit("MAX_IMAGES", 10_000_000, "images", "--train-size, --val-size")
MAX_THREADS = _limit("MAX_THREADS", 256, "threads", "--threads")
MAX_LOADER_WORKERS = _limit("MAX_LOADER_WORKERS", 64, "processes", "--loader-workers")
MAX_LR = _limit("MAX_LR", 10.0, "", "--lr")
MAX_WIDTH = _limit("MAX_WIDTH", 4_096, "channels", "--width of an ItNet")
MAX_SCALES = _limit("MAX_SCALES", 8, "scales", "--scales of an ItNet")
MAX_ITERATIONS = _limit("MAX_ITERATIONS", 256, "iterations", "--iterations of an ItNet")
MAX_BLOCKS = _limit("MAX_BLOCKS", 64, "blocks", "--blocks of an ItNet")
MAX_SUBNET_INDEX = _limit("MAX_SUBNET_INDEX", 1_024, "", "depth L and width C of --subnet L,C")


# Checks ---------------------------------------------------------------------------------------

def show(value: Any) -> str:
    """A value as a message shows it: short whatever it holds (aliases, huge lists)."""
    text = value if isinstance(value, str) else reprlib.repr(value)
    text = " ".join(str(text).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _num(x: float) -> str:
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e6):
        return f"{int(x):,}"
    return f"{x:g}"


def range_text(lo: float, hi: float, integer: bool = False, open_lo: bool = False, open_hi: bool = False,
               unit: str = "") -> str:
    """'1..10,000 frames' (integers) or '(0, 1e+12] frames/s' (reals)."""
    if integer:
        text = f"{_num(lo)}..{_num(hi)}"
    else:
        text = f"{'(' if open_lo else '['}{_num(lo)}, {_num(hi)}{')' if open_hi else ']'}"
    return f"{text} {unit}".rstrip()


def int_problem(value: Any, lo: int, hi: int, unit: str = "", shown: str | None = None) -> str | None:
    """Why ``value`` is not an integer in lo..hi (None when it is); ``shown``: the value as the user wrote it."""
    rng = range_text(lo, hi, integer=True, unit=unit)
    text = show(value) if shown is None else show(shown)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return f"{text} is not an integer (allowed: {rng})"
    if not lo <= value <= hi:
        return f"{text} is out of range (allowed: {rng})"
    return None


def real_problem(value: Any, lo: float, hi: float, open_lo: bool = False, open_hi: bool = False,
                 unit: str = "", shown: str | None = None) -> str | None:
    """Why ``value`` is not a finite real in the range (None when it is)."""
    rng = range_text(lo, hi, open_lo=open_lo, open_hi=open_hi, unit=unit)
    text = show(value) if shown is None else show(shown)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return f"{text} is not a number (allowed: {rng})"
    try:
        x = float(value)
    except OverflowError:
        return f"{text} is out of range (allowed: {rng})"
    if not math.isfinite(x):
        return f"{text} is not a finite number (allowed: {rng})"
    if x < lo or x > hi or (open_lo and x == lo) or (open_hi and x == hi):
        return f"{text} is out of range (allowed: {rng})"
    return None


def check_int(value: Any, name: str, lo: int, hi: int, unit: str = "", error: type[MpsimError] = MpsimError) -> int:
    """``value`` if it is an integer in lo..hi; else one ``error`` line naming ``name``."""
    problem = int_problem(value, lo, hi, unit)
    if problem:
        raise error(f"{name}: {problem}")
    return int(value)


def check_real(value: Any, name: str, lo: float, hi: float, open_lo: bool = False, open_hi: bool = False,
               unit: str = "", error: type[MpsimError] = MpsimError) -> float:
    """``float(value)`` if it is finite and in range; else one ``error`` line naming ``name``."""
    problem = real_problem(value, lo, hi, open_lo, open_hi, unit)
    if problem:
        raise error(f"{name}: {problem}")
    return float(value)


def check_fraction(value: Any, name: str, error: type[MpsimError] = MpsimError) -> float:
    """An accuracy, an agreement, a probability: a finite number in [0, 1]."""
    return check_real(value, name, 0.0, 1.0, error=error)


# Work bounds ----------------------------------------------------------------------------------

def check_stream(frames: int, rate: float | None, firings_per_frame: int, engine: str,
                 step_s: float | None = None, mode: str = "dataflow", shown_rate: float | None = None) -> None:
    """Refuse a simulation whose work exceeds the documented bounds, before it starts.

    ``firings_per_frame``: node firings of one frame; ``step_s``: the least step of a
    step-synchronous engine (bsp: timing.sync, rollout: the tick), which idles step by step
    between offered frames; None where time jumps (event-driven engines). ``rate`` is the
    simulated replica's; messages name ``shown_rate``, the user's --rate, where given.
    """
    check_int(frames, "frames", 1, MAX_FRAMES, "frames")
    if rate is not None:
        flag = f"--rate {shown_rate if shown_rate is not None else rate:g}"
        check_real(rate, "--rate", 0.0, MAX_RATE, open_lo=True, unit="frames/s")
        span = (frames - 1) / rate
        if span > MAX_STREAM_S:
            raise MpsimError(f"{flag}: {frames:,} frames at {rate:g} frames/s per replica span {span:.3g} s of "
                             f"simulated time, more than the limit of {MAX_STREAM_S:g} s (use a higher --rate or "
                             "fewer frames)")
        if step_s is not None and step_s > 0 and span / step_s > MAX_SUPERSTEPS:
            kind = "ticks" if mode == "rollout" else "supersteps"
            raise MpsimError(f"{flag}: {frames:,} frames at {rate:g} frames/s per replica span {span / step_s:.3g} "
                             f"{mode} {kind} of {step_s:.3g} s, more than the limit of {MAX_SUPERSTEPS:,} (use a "
                             "higher --rate, fewer frames, or --mode dataflow)")
    limit = MAX_FIRINGS_FAST if engine in ("fast", "compiled") else MAX_FIRINGS_SIMPY
    work = frames * max(1, int(firings_per_frame))
    if work > limit:
        hint = " or --engine compiled" if engine not in ("fast", "compiled") else ""
        raise MpsimError(f"{frames:,} frames x {firings_per_frame:,} node firings per frame = {work:.3g} firings, "
                         f"more than the {engine} engine's limit of {limit:.3g} (use at most "
                         f"{max(1, limit // max(1, firings_per_frame)):,} frames{hint})")


def markdown_table() -> str:
    """The limits as docs/limits.md shows them (``python -m mpsim.limits`` prints it)."""
    rows = ["| limit | value | unit | bounds |", "|---|---|---|---|"]
    for lim in LIMITS.values():
        if isinstance(lim.value, tuple):
            value = f"{lim.value[0]:g} .. {lim.value[1]:g}"
        else:
            big = lim.value >= 1e10 or (isinstance(lim.value, float) and lim.value >= 1e6)
            value = f"{lim.value:.4g}" if big else _num(lim.value)
        rows.append(f"| `{lim.name}` | {value} | {lim.unit} | {lim.bounds} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
