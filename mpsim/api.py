"""The Python API for notebooks and scripts (``import mpsim``): load a model and a profile,
simulate, look at the report. docs/api.md shows it at work.

    import mpsim
    rep = mpsim.simulate("itnet-tiny", mpsim.load_profile("ipu_m2000", links__host_in="25 GB/s"))
    rep.throughput_fps, rep.bottleneck, rep.units, rep.to_pandas()

Every value a report holds is a plain Python value (float, int, str, bool, None, list, dict):
no numpy scalars, nothing that needs mpsim to read back.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import Any, Iterator

from mpsim.errors import MpsimError

__all__ = ["Report", "list_models", "list_profiles", "load_model", "load_profile", "simulate"]


def list_models() -> list[str]:
    """The built-in model names (each also accepted by ``load_model`` and ``simulate``)."""
    from mpsim.models import builtin_models

    return builtin_models()


def list_profiles() -> list[str]:
    """The built-in hardware profile names."""
    from mpsim.hw.profile import list_profiles as names

    return names()


def load_model(name_or_path: str | os.PathLike[str]):
    """A graph (``mpsim.ir.graph.Graph``): a built-in model name, a graph.json or an export folder."""
    from mpsim.ir.graph import Graph
    from mpsim.models import resolve_model

    if isinstance(name_or_path, Graph):
        return name_or_path
    return resolve_model(os.fspath(name_or_path))


def load_profile(name_or_path: Any = "ipu_m2000", overrides: Mapping[str, Any] | None = None, *,
                 precision: str | None = None, **fields: Any):
    """A hardware profile (``mpsim.hw.profile.Profile``), with fields changed.

    ``name_or_path``: a built-in name, a .yaml path, a mapping laid out like a profile file (it
    may ``extends`` a built-in) or a Profile. Fields to change, as ``overrides`` (dotted names)
    or keywords (``__`` for the dot): ``load_profile("ipu_m2000", links__host_in="25 GB/s",
    compute__chips=2)``. A bare number keeps the field's unit, ``"VALUE UNIT"`` gives both; the
    profile is validated and converted again, so derived values (capacity, MAC rates) follow.
    A bad field or unit raises ``ProfileError`` with one line saying which."""
    from mpsim.hw.profile import Profile, profile_from_mapping
    from mpsim.hw.profile import load_profile as load

    changes = {**(overrides or {}), **fields}
    if isinstance(name_or_path, Profile):
        p = name_or_path.with_overrides(**changes) if changes else name_or_path
        return p.with_precision(precision)
    if isinstance(name_or_path, Mapping):
        return profile_from_mapping(name_or_path, changes, precision)
    return load(name_or_path, overrides=changes or None, precision=precision)


class Report(Mapping):
    """A run report: a read-only mapping of plain values (the ``--json`` document, schema
    ``mpsim.report/2``, docs/semantics.md), with its keys also as attributes
    (``rep.throughput_fps``, ``rep.latency_s``, ``rep.bottleneck``, ...)."""

    def __init__(self, doc: Mapping[str, Any]):
        self._doc = dict(doc)

    def __getitem__(self, key: str) -> Any:
        return self._doc[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._doc)

    def __len__(self) -> int:
        return len(self._doc)

    def __getattr__(self, name: str) -> Any:
        doc = self.__dict__.get("_doc", {})
        if name in doc:
            return doc[name]
        raise AttributeError(f"Report has no field '{name}' (fields: {', '.join(doc)})")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._doc))

    def __repr__(self) -> str:
        from mpsim.fmt import rate

        d = self._doc
        b = d.get("bottleneck") or {}
        what = rate(d["throughput_fps"]) if d.get("steady_state") else d.get("note")
        return f"<Report {d['model']} on {d['profile']}: {what}{', bottleneck ' + b['name'] if b else ''}>"

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the report as a plain dict (what ``--json`` writes)."""
        return copy.deepcopy(self._doc)

    @property
    def units(self) -> list[dict[str, Any]]:
        """Per unit: name, kind, chip, ops, tiles (arrays, SMs), bytes, occupancy, busy time per
        frame, utilisation, share of the compute units' time, energy per frame."""
        from mpsim.views.run_tables import unit_records

        return unit_records(self._doc)

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """Every table of the report by name (units, summary, latency, utilisation, classes,
        traffic, operations): rows of plain values, as ``--csv`` writes them."""
        from mpsim.views.run_tables import report_tables

        return {t.name: t.records() for t in report_tables(self._doc)}

    def to_pandas(self, table: str = "units"):
        """A table (default the units) as a pandas DataFrame; needs pandas, which mpsim does not
        install."""
        try:
            import pandas as pd
        except ImportError:
            raise MpsimError("to_pandas needs pandas (pip install pandas); .tables() gives the same rows") from None
        tables = self.tables()
        if table not in tables:
            raise MpsimError(f"no table '{table}' (choose from {', '.join(tables)})")
        return pd.DataFrame(tables[table])

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str:
        """The self-contained HTML page (``mpsim run --html``); written to ``path`` if given."""
        from mpsim.views.html import run_page

        text = run_page(self._doc)
        if path is not None:
            from mpsim.atomic import write_text

            write_text(path, text)
        return text

    def to_json(self, path: str | os.PathLike[str]) -> None:
        from mpsim.atomic import write_json

        write_json(path, self._doc)

    def _repr_html_(self) -> str:  # Jupyter shows the key figures as a table
        from mpsim.views.html import table_html
        from mpsim.views.run_tables import summary_table

        return table_html(summary_table(self._doc))


def simulate(model: Any, profile: Any = "ipu_m2000", *, placement: str | None = None, replicas: int | None = None,
             batch: int = 1, precision: str | None = None, host_output: str = "labels", mode: str | None = None,
             engine: str = "auto", frames: int | None = None, rate: float | None = None,
             tolerance: float | None = None, max_frames: int | None = None, seed: int = 0) -> Report:
    """Simulate ``model`` on ``profile`` to steady state and return its report.

    model: a built-in name ("itnet-tiny"), a graph.json, an export folder, or a Graph.
    profile: a built-in name, a .yaml path, a mapping, or a Profile (``load_profile``).
    placement: "pipelined", "sequential" or "layer_by_layer" (default: the profile's).
    replicas: replicas on the spare chips (default: as many as fit). batch: images per frame.
    precision: a format the profile lists ("fp16", "int8", ...; default: the profile's).
    host_output: what returns to the host per output, "labels" or "tensors".
    mode: "dataflow", "bsp" or "rollout" for a pipelined placement (default: the profile's).
    engine: "auto", "compiled" or "simpy".
    frames: simulate exactly this many frames (default: until the 95 % intervals of throughput
    and latency are within ``tolerance`` (default 0.01) of their means, up to ``max_frames``
    (default 65,536)).
    rate: offered frames per second (default: as fast as the machine accepts them).
    seed: recorded in the report (the simulation itself is deterministic).

    Returns a ``Report`` (plain values; ``.to_dict()``, ``.units``, ``.tables()``,
    ``.to_pandas()``, ``.to_html()``). The same figures as ``mpsim run`` for the same settings.
    """
    from mpsim.mapping.placement import RunOptions
    from mpsim.sim.simulate import simulate as run
    from mpsim.sim.steady import DEFAULT_MAX_FRAMES, DEFAULT_TOLERANCE

    graph = load_model(model)
    prof = load_profile(profile)
    options = RunOptions(placement=placement, replicas=replicas, batch=batch, precision=precision,
                         host_output=host_output)
    rep, _, _ = run(graph, prof, options, mode=mode, engine=engine, frames=frames, rate=rate,
                    tolerance=DEFAULT_TOLERANCE if tolerance is None else tolerance,
                    max_frames=DEFAULT_MAX_FRAMES if max_frames is None else max_frames)
    rep["seed"] = seed
    return Report(rep)
