"""Property-based checks of the validation layer (hypothesis; a few hundred examples in all).

* every numeric flag of every command, read back from the parser with its bound: any value
  outside the bound (or not a number at all) is exit 2, one line, nothing written;
* no flag takes a bare ``int`` or ``float`` (every number goes through mpsim.cli.argtypes);
* the graph, profile and budget-trace loaders on hostile input: a Graph / Profile / trace that
  is within the documented limits, or one ``MpsimError`` line, never another exception;
* a slice of the loader fuzz (benchmarks/fuzz_loaders.py runs thousands).
"""

from __future__ import annotations

import argparse
import json
import math
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpsim import limits
from mpsim.anytime.budget import load_trace
from mpsim.cli.argtypes import Count, CsvList, OutputPath, Real
from mpsim.cli.main import build_parser
from mpsim.errors import MpsimError
from mpsim.hw.profile import load_profile
from mpsim.ir.serialize import loads
from tests.clikit import TINY_GRAPH, cli, profile_file
from tests.mutants import graph_mutant, outcome, profile_mutant

FAST = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))


def fast(n: int) -> settings:
    return settings(FAST, max_examples=n)

# The least arguments each command needs to parse (the bad flag fails first anyway).
BASE = {
    ("export",): ["--preset", "itnet-tiny"],
    ("stats",): ["itnet-tiny"],
    ("verify",): ["x"],
    ("anytime",): ["--model", "x", "--values", "0.5"],
    ("dnn", "budget"): ["--macs", "1", "--accuracy", "x"],
}


def _commands(parser: argparse.ArgumentParser, prefix: tuple = ()) -> list[tuple[tuple, argparse.ArgumentParser]]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.append((prefix + (name,), sub))
                out += _commands(sub, prefix + (name,))
    return out


COMMANDS = _commands(build_parser())
NUMERIC = [(cmd, a) for cmd, p in COMMANDS for a in p._actions if a.option_strings and (
    isinstance(a.type, (Count, Real)) or isinstance(a.type, CsvList) and isinstance(a.type.item, (Count, Real)))]


def test_every_numeric_flag_is_checked_where_it_is_declared():
    """A flag that takes a number names its bound (argtypes), never a bare int or float."""
    bare = [f"{' '.join(cmd)} {a.option_strings[0]}" for cmd, p in COMMANDS for a in p._actions
            if a.type in (int, float) or (a.type is None and isinstance(a.default, (int, float))
                                          and not isinstance(a.default, bool) and a.nargs != 0)]
    assert bare == []
    assert len(NUMERIC) >= 40  # run, sweep, anytime, verify, train, grid, export, dnn


def _bad_for(t) -> st.SearchStrategy[str]:
    """Text that type ``t`` must refuse."""
    junk = st.sampled_from(["", "abc", "nan", "inf", "-inf", "1e999", "0x10", "1,2", "--", " ", "1e", "9" * 300])
    if isinstance(t, Count):
        return st.one_of(junk, st.sampled_from(["1.5", "2.5e0", "1e-3"]),
                         st.integers(t.hi + 1, t.hi * 10 + 10**6).map(str),
                         st.integers(t.lo - 10**6, t.lo - 1).map(str))
    if isinstance(t, Real):
        outside = [st.floats(min_value=t.hi, exclude_min=not t.open_hi, allow_infinity=False).filter(
                       lambda x: x > t.hi or t.open_hi).map(repr)] if math.isfinite(t.hi) else []
        if math.isfinite(t.lo):
            outside.append(st.floats(max_value=t.lo, exclude_max=not t.open_lo, allow_infinity=False).filter(
                lambda x: x < t.lo or t.open_lo).map(repr))
        return st.one_of(junk.filter(lambda s: s not in ("1,2",)), *outside)
    assert isinstance(t, CsvList)
    too_many = ",".join(["1"] * (t.max_items + 1))
    return st.one_of(st.just(","), st.just(too_many), _bad_for(t.item).filter(lambda s: "," not in s and s.strip())
                     .map(lambda s: f"{s},1" if t.min_items <= 1 else s))


def _outputs(parser, tmp_path) -> tuple[list[str], list]:
    """Every output flag of a command pointed into tmp_path, and the paths to watch."""
    argv, watch = [], []
    for a in parser._actions:
        if isinstance(a.type, OutputPath) and a.option_strings:
            target = tmp_path / f"out{len(watch)}"
            argv += [a.option_strings[0], str(target)]
            watch += [target] if a.type.kind != "stem" else [target.with_suffix(".png"), target.with_suffix(".svg")]
    return argv, watch


@pytest.mark.parametrize("cmd,action", NUMERIC, ids=[f"{' '.join(c)} {a.option_strings[0]}" for c, a in NUMERIC])
def test_numeric_flag_out_of_range_is_one_line_and_writes_nothing(cmd, action, tmp_path_factory, capsys):
    parser = dict(COMMANDS)[cmd]
    tmp = tmp_path_factory.mktemp("flag")
    outs, watch = _outputs(parser, tmp)
    base = [a for a in BASE.get(cmd, []) if not (action.option_strings[0] == "--values" and a in ("--values", "0.5"))]

    @fast(6)
    @given(_bad_for(action.type))
    def check(text):
        rc, err = cli([*cmd, *base, *outs, action.option_strings[0], text], capsys)
        assert rc == 2 and len(err) == 1 and "Traceback" not in err[0], (text, err)
        assert action.option_strings[0] in err[0] or "argument" in err[0], err
        assert not any(p.exists() for p in watch)

    check()


@fast(60)
@given(st.floats(allow_nan=True), st.floats(-1e3, 1e3), st.floats(0, 1e3), st.booleans(), st.booleans())
def test_real_check_accepts_exactly_the_range(x, lo, span, open_lo, open_hi):
    hi = lo + span
    inside = math.isfinite(x) and (lo < x if open_lo else lo <= x) and (x < hi if open_hi else x <= hi)
    problem = limits.real_problem(x, lo, hi, open_lo, open_hi)
    assert (problem is None) == inside
    if problem:
        assert "\n" not in problem and "allowed:" in problem


# Loaders ---------------------------------------------------------------------------------------

hostile = st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
                    st.none(), st.booleans(), st.lists(st.integers(-3, 2**40), max_size=5),
                    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


GRAPH_PATHS = [p for p in _paths(TINY_GRAPH) if p]


@fast(80)
@given(st.lists(st.tuples(st.sampled_from(GRAPH_PATHS), hostile), min_size=1, max_size=3))
def test_graph_loader_never_raises_anything_but_one_line(edits):
    doc = json.loads(json.dumps(TINY_GRAPH))
    for path, value in edits:
        obj = doc
        try:
            for k in path[:-1]:
                obj = obj[k]
            obj[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed the way there
    try:
        g = loads(json.dumps(doc))
    except MpsimError as exc:
        assert "\n" not in str(exc)
        return
    assert len(g.nodes) <= limits.MAX_NODES
    assert all(1 <= lp.trip_count <= limits.MAX_TRIP_COUNT for lp in g.loops)
    assert all(s.numel <= limits.MAX_TENSOR_ELEMENTS for s in g.tensors.values())


PROFILE_FIELDS = [("compute", k) for k in ("chips", "tiles_per_chip", "tile_memory", "clock", "vector_ops_per_cycle")] + [
    ("links", k) for k in ("exchange", "chip_to_chip", "host_in", "host_out", "host_latency")] + [
    ("timing", "sync"), ("timing", "op_overhead"), ("memory", "offchip_capacity"), ("efficiency", "conv"),
    ("power", "static")]
UNITS = st.sampled_from(["count", "KiB", "GB", "Hz", "GHz", "kHz", "GB/s", "B/cycle", "cycles", "ns", "s", "TB", "x"])


@fast(60)
@given(st.sampled_from(PROFILE_FIELDS), st.one_of(st.floats(allow_nan=True), st.integers(-(2**80), 2**80)), UNITS)
def test_profile_loader_bounds_every_field_in_si(tmp_path_factory, field, value, unit):
    section, key = field

    def mutate(d):
        d[section][key] = {**d[section][key], "value": value, "unit": unit}

    path = profile_file(tmp_path_factory.mktemp("p"), mutate)
    try:
        p = load_profile(path)
    except MpsimError as exc:
        assert "\n" not in str(exc) and f"{path}: field '" in str(exc)
        return
    from mpsim.hw.schema import SECTIONS

    si = p.si_values[f"{section}.{key}"]
    lo, hi = limits.SI_RANGE[SECTIONS[section][key].dim]
    hi = min(hi, limits.FIELD_MAXIMUM.get(f"{section}.{key}", hi))
    assert math.isfinite(si) and (si == 0 or lo <= si <= hi)
    assert p.total_tiles <= limits.MAX_TOTAL_TILES


cell = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-(10**20), 10**20).map(str),
                 st.sampled_from(["", "x", "1e999", "-0", "nan", " 3 "]))


@fast(80)
@given(st.sampled_from(["tiles", "bytes", "cores", ""]), st.lists(st.tuples(cell, cell), max_size=6),
       st.booleans(), st.booleans())
def test_budget_trace_loader_gives_a_valid_trace_or_one_line(tmp_path_factory, unit, rows, as_json, ragged):
    tmp = tmp_path_factory.mktemp("t")
    if as_json:
        def num(s):
            try:
                return json.loads(s)
            except ValueError:
                return s
        pts = [[num(a), num(b)] if not ragged or i else [num(a)] for i, (a, b) in enumerate(rows)]
        path = tmp / "trace.json"
        path.write_text(json.dumps({"unit": unit, "points": pts}))
    else:
        path = tmp / "trace.csv"
        path.write_text(f"time_s,{unit}\n" + "".join(f"{a},{b}\n" if not ragged or i else f"{a}\n"
                                                        for i, (a, b) in enumerate(rows)))
    try:
        u, times, values = load_trace(path)
    except MpsimError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    top = limits.MAX_TOTAL_TILES if u == "tiles" else limits.MAX_BUDGET_BYTES
    assert len(times) >= 1 and np.all(np.isfinite(times)) and np.all(np.diff(times) > 0)
    assert np.all((values >= 0) & (values <= top))


@pytest.mark.parametrize("kind,n,seed", [("graph", 40, 11), ("profile", 25, 19)])
def test_fuzz_slice_ends_in_clean_rejections_or_valid_results(kind, n, seed):
    """A slice of benchmarks/fuzz_loaders.py (seeds whose valid mutants simulate quickly): no mutant
    gets past with another exception; the valid ones survive the metrics and a short simulation."""
    rng = random.Random(seed)
    results = [outcome(kind, (graph_mutant if kind == "graph" else profile_mutant)(rng)) for _ in range(n)]
    crashes = [d for o, d, _ in results if o == "crash"]
    assert crashes == []
    assert {o for o, _, _ in results} == {"rejected", "valid"}  # both kinds of mutant occur
