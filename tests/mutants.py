"""Mutated graphs and profiles, and what the loaders make of them: a clean rejection or a valid result.

Used by the fuzz benchmark (benchmarks/fuzz_loaders.py: thousands of mutants) and by a small
slice of it in the default tests.  A mutant is a built-in graph (profile) with one to three
random edits, structural (a value replaced by something hostile, a key dropped, an element
duplicated) or textual (the file truncated, a byte changed, deep nesting, YAML aliases).
"""

from __future__ import annotations

import json
import math
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from hwprofiles import profile_dir
from mpsim.errors import MpsimError
from mpsim.models import MODEL_DIR

GRAPH_BASES = ["itnet-tiny", "itnet-tiny-independent"]
PROFILE_BASES = ["ipu_gc200", "memristor_yao2020", "gpu_v100", "truenorth"]

HOSTILE = [0, -1, 1, 2, 7, 2**31, 2**62, 2**63, 10**12, 10**30, -(10**30), 1e30, 1e-30, 1.5, -0.5, 1e300,
           math.nan, math.inf, -math.inf, "", "x", "x@2", "x@\u00b2", "9" * 50, None, True, False, [], {},
           [0], [1, 1], [1, 2, 3], [0, 0], [-1, -1], [10**9, 10**9], {"a": 1}, [[[[[[[[1]]]]]]]]]
UNITS = ["count", "B", "KiB", "GB", "Hz", "GHz", "B/s", "GB/s", "B/cycle", "s", "ns", "cycles", "J", "pJ",
         "bits", "ratio", "%", "MAC/cycle", "op/cycle", "bool", "furlongs", ""]


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a JSON-like tree (dict keys and list indices)."""
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + (i,))
    return out


def _get(obj: Any, path: tuple) -> Any:
    for k in path:
        obj = obj[k]
    return obj


def _edit_tree(rng: random.Random, doc: Any, extra_values: list) -> Any:
    paths = [p for p in _paths(doc) if p]
    if not paths:
        return doc
    path = rng.choice(paths)
    parent, key = _get(doc, path[:-1]), path[-1]
    op = rng.random()
    if op < 0.55:
        parent[key] = rng.choice(HOSTILE + extra_values)
    elif op < 0.7:
        if isinstance(parent, dict):
            del parent[key]
        else:
            parent.pop(key)
    elif op < 0.8 and isinstance(parent, list):
        parent.insert(key, json.loads(json.dumps(parent[key])))
    elif op < 0.9 and isinstance(parent[key], str):
        parent[key] = parent[key] + rng.choice(["", "_", "@1", "@0", "@99"])
    elif isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
        parent[key] = parent[key] * rng.choice([0, -1, 10, 1e6, 1e30, 0.5])
    else:
        parent[key] = rng.choice(HOSTILE)
    return doc


def _edit_text(rng: random.Random, text: str) -> str:
    op = rng.random()
    if op < 0.3 and text:
        return text[: rng.randrange(len(text))]
    if op < 0.6 and text:
        i = rng.randrange(len(text))
        return text[:i] + rng.choice(["{", "}", "[", "]", ",", ":", '"', "\\", "\x00", "é", "\n", "9"]) + text[i + 1:]
    if op < 0.8:
        n = rng.choice([40, 2000, 100_000])
        return "[" * n + "]" * n
    return text.replace("1", "1" * rng.choice([2, 25, 5000]), 1)


def graph_mutant(rng: random.Random) -> str:
    """The text of a mutated graph.json."""
    doc = json.loads((MODEL_DIR / f"{rng.choice(GRAPH_BASES)}.json").read_text())
    if rng.random() < 0.15:
        return _edit_text(rng, json.dumps(doc))
    names = list(doc["tensors"])
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.3:
            try:
                _edit_meaning(rng, doc)
            except (TypeError, KeyError, AttributeError, IndexError, ValueError):
                pass  # an earlier edit broke what this one reads: the mutant stays as it is
        else:
            doc = _edit_tree(rng, doc, names[:3])
    return json.dumps(doc)


def _edit_meaning(rng: random.Random, doc: dict) -> None:
    """Edits that may keep the graph valid while pushing it to its limits."""
    r = rng.random()
    if r < 0.4 and doc.get("loops"):
        old, new = doc["loops"][0]["trip_count"], rng.choice([5, 16, 64, 1024, 4096, 4097, 10**6])
        doc["loops"][0]["trip_count"] = new
        for name, members in doc.get("weight_groups", {}).items():  # one member per iteration
            if len(members) == old and new <= 10_000:
                doc["weight_groups"][name] = [members[i % old] for i in range(new)]
    elif r < 0.6:
        doc[rng.choice(["name", "meta"])] = rng.choice(HOSTILE[:20] + [{"k": [1, 2]}, "é" * 300])
    elif r < 0.8 and len(doc["outputs"]) > 1:
        a, b = rng.sample(range(len(doc["outputs"])), 2)
        doc["outputs"][a]["index"], doc["outputs"][b]["index"] = doc["outputs"][b]["index"], doc["outputs"][a]["index"]
    else:
        node = rng.choice(doc["nodes"])
        node["module"] = rng.choice(["", "x" * 1000, "a.b\nc"])


def profile_mutant(rng: random.Random) -> str:
    """The text of a mutated profile YAML."""
    text = (profile_dir() / f"{rng.choice(PROFILE_BASES)}.yaml").read_text()
    r = rng.random()
    if r < 0.1:
        return _edit_text(rng, text)
    if r < 0.15:  # aliases: a billion laughs, or a long chain of them
        lol = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]\n" for i in range(1, 12))
        return lol + text.replace("name:", "ignored: *a11\nname:", 1)
    doc = yaml.safe_load(text)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(doc) if p]
        path = rng.choice(paths)
        if path[-1] == "unit" and rng.random() < 0.7:
            _get(doc, path[:-1])["unit"] = rng.choice(UNITS)
        else:
            doc = _edit_tree(rng, doc, UNITS)
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


# Outcomes ------------------------------------------------------------------------------------------

_PROFILE = None
_TINY = None


def _finite(x: Any) -> bool:
    return x is None or (isinstance(x, (int, float)) and math.isfinite(x))


def _exercise_graph(g) -> None:
    """What a valid graph must survive: the static metrics and a short simulation."""
    from mpsim.analysis.metrics import stats
    from mpsim.hw.profile import load_profile
    from mpsim.sim.simulate import simulate

    global _PROFILE
    _PROFILE = _PROFILE or load_profile("ipu_gc200")
    s = stats(g)
    assert s["params"] >= 0 and all(m >= 0 for m in s["macs_per_output"])
    rep, _, _ = simulate(g, _PROFILE, frames=2)
    assert all(_finite(v) for v in rep["latency_s"]["first"]), rep["latency_s"]


def _exercise_profile(p) -> None:
    from mpsim.models import resolve_model
    from mpsim.sim.simulate import simulate

    global _TINY
    _TINY = _TINY or resolve_model("itnet-tiny")
    rep, _, _ = simulate(_TINY, p, frames=2)
    assert all(_finite(v) for v in rep["latency_s"]["first"]), rep["latency_s"]
    assert _finite(rep.get("throughput_fps"))


def outcome(kind: str, text: str, exercise: bool = True) -> tuple[str, str, float]:
    """('rejected' | 'valid' | 'crash', detail, seconds) for one mutant ``kind`` ('graph' or 'profile')."""
    t0 = time.perf_counter()
    suffix = ".json" if kind == "graph" else ".yaml"
    fd, path = tempfile.mkstemp(suffix=suffix, prefix="mpsim-fuzz-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogatepass") as fh:
            fh.write(text)
        try:
            if kind == "graph":
                from mpsim.ir.serialize import load_graph

                obj = load_graph(path)
            else:
                from mpsim.hw.profile import load_profile

                obj = load_profile(path)
        except MpsimError as exc:
            msg = str(exc)
            if "\n" in msg or "Traceback" in msg:
                return "crash", f"message of several lines: {msg[:200]}", time.perf_counter() - t0
            return "rejected", msg.split(": ", 1)[-1][:160], time.perf_counter() - t0
        if exercise:
            try:
                (_exercise_graph if kind == "graph" else _exercise_profile)(obj)
            except MpsimError as exc:  # a valid file the simulator declines, with one line
                return "rejected", "downstream: " + str(exc)[:150], time.perf_counter() - t0
        return "valid", "", time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - anything else is what the fuzz is looking for
        return "crash", f"{type(exc).__name__}: {str(exc)[:200]}", time.perf_counter() - t0
    finally:
        Path(path).unlink(missing_ok=True)
