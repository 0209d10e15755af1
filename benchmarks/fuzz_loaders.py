"""Fuzz the graph and profile loaders: every mutant ends in a clean rejection or a valid result.

``python benchmarks/fuzz_loaders.py [--graphs 5000] [--profiles 2000] [--seed 16]`` mutates the
built-in graphs and profiles (tests/mutants.py: hostile values, dropped keys, truncated or
deeply nested text, YAML alias bombs, loops pushed to their trip-count limit), loads each
mutant as a file, and runs the accepted ones through the metrics and a two-frame simulation.
Outcomes: ``rejected`` (one MpsimError line), ``valid`` (loaded and simulated, finite
figures) or ``crash`` (anything else: what the fuzz looks for).  It also probes each limit of
docs/limits.md at and just beyond its value.  Writes benchmarks/results/fuzz.json; exit code
1 if any mutant crashed.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from mpsim.atomic import write_json  # noqa: E402
from tests.mutants import graph_mutant, outcome, profile_mutant  # noqa: E402


def _shape(detail: str) -> str:
    """A rejection message with names and numbers blanked: its kind."""
    return re.sub(r"\d[\d,.e+-]*", "N", re.sub(r"'[^']*'", "'_'", detail))[:90]


def fuzz(kind: str, n: int, seed: int) -> dict:
    rng = random.Random(seed)
    counts: collections.Counter = collections.Counter()
    kinds: collections.Counter = collections.Counter()
    crashes, slowest, total = [], (0.0, ""), 0.0
    t0 = time.perf_counter()
    for i in range(n):
        text = graph_mutant(rng) if kind == "graph" else profile_mutant(rng)
        result, detail, seconds = outcome(kind, text)
        counts[result] += 1
        total += seconds
        if result == "rejected":
            kinds[_shape(detail)] += 1
        if result == "crash":
            crashes.append({"mutant": i, "detail": detail, "text_head": text[:300]})
        if seconds > slowest[0]:
            slowest = (seconds, f"mutant {i}: {result} {detail[:80]}")
        if (i + 1) % 500 == 0:
            print(f"  {kind}: {i + 1}/{n} {dict(counts)}", flush=True)
    return {"mutants": n, "seed": seed, "outcomes": dict(counts), "crashes": crashes,
            "wall_s": round(time.perf_counter() - t0, 1), "mean_s_per_mutant": round(total / max(n, 1), 4),
            "slowest_s": round(slowest[0], 2), "slowest": slowest[1],
            "top_rejections": [{"count": c, "message": m} for m, c in kinds.most_common(15)]}


def probe_limits() -> list[dict]:
    """Each graph and profile limit at its value (accepted) and one past it (one clean line)."""
    import copy

    import yaml

    from hwprofiles import profile_dir
    from mpsim import limits
    from mpsim.models import MODEL_DIR

    tiny = json.loads((MODEL_DIR / "itnet-tiny.json").read_text())
    gc200 = yaml.safe_load((profile_dir() / "ipu_gc200.yaml").read_text())

    def trips(n):
        d = copy.deepcopy(tiny)
        old = d["loops"][0]["trip_count"]
        d["loops"][0]["trip_count"] = n
        for k, m in d["weight_groups"].items():
            if len(m) == old:
                d["weight_groups"][k] = [m[i % old] for i in range(n)]
        return json.dumps(d)

    def field(section, key, value, unit=None):
        d = copy.deepcopy(gc200)
        d[section][key] = {**d[section][key], "value": value, **({"unit": unit} if unit else {})}
        return yaml.safe_dump(d, sort_keys=False)

    probes = [
        ("graph", f"trip count {limits.MAX_TRIP_COUNT}", trips(limits.MAX_TRIP_COUNT)),
        ("graph", f"trip count {limits.MAX_TRIP_COUNT + 1}", trips(limits.MAX_TRIP_COUNT + 1)),
        ("graph", f"JSON depth {limits.MAX_JSON_DEPTH}", json.dumps({**tiny, "meta": {"deep": json.loads(
            "[" * (limits.MAX_JSON_DEPTH - 2) + "]" * (limits.MAX_JSON_DEPTH - 2))}})),
        ("graph", f"JSON depth {limits.MAX_JSON_DEPTH + 1}", json.dumps({**tiny, "meta": {"deep": json.loads(
            "[" * (limits.MAX_JSON_DEPTH - 1) + "]" * (limits.MAX_JSON_DEPTH - 1))}})),
        ("profile", f"chips {limits.MAX_CHIPS}", field("compute", "chips", limits.MAX_CHIPS)),
        ("profile", f"chips {limits.MAX_CHIPS + 1}", field("compute", "chips", limits.MAX_CHIPS + 1)),
        ("profile", "clock 1 Hz", field("compute", "clock", 1, "Hz")),
        ("profile", "clock 0.5 Hz", field("compute", "clock", 0.5, "Hz")),
    ]
    out = []
    for kind, name, text in probes:
        result, detail, seconds = outcome(kind, text)
        out.append({"kind": kind, "probe": name, "outcome": result, "detail": detail, "seconds": round(seconds, 2)})
        print(f"  probe {name}: {result} ({seconds:.2f} s) {detail[:80]}", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graphs", type=int, default=5000)
    ap.add_argument("--profiles", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--out", default=str(HERE / "results" / "fuzz.json"))
    args = ap.parse_args()
    result = {"graphs": fuzz("graph", args.graphs, args.seed), "profiles": fuzz("profile", args.profiles, args.seed),
              "limit_probes": probe_limits()}
    write_json(args.out, result)
    crashed = len(result["graphs"]["crashes"]) + len(result["profiles"]["crashes"])
    bad_probes = [p for p in result["limit_probes"] if p["outcome"] == "crash"]
    for k in ("graphs", "profiles"):
        r = result[k]
        print(f"{k}: {r['mutants']} mutants, {r['outcomes']}, slowest {r['slowest_s']} s, {r['wall_s']} s in all")
    print(f"wrote {args.out}")
    return 1 if crashed or bad_probes else 0


if __name__ == "__main__":
    sys.exit(main())
