"""Validation against measured silicon (benchmarks/validation.py, docs/validation.md): every
anchor's ratio is pinned to the committed table, so a change that breaks agreement fails; the
calibrated fields say so and are the ones the script fits; no profile field lacks a source."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml

from hwprofiles import profile_dir
from mpsim.hw.profile import list_profiles

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import validation  # noqa: E402
from validation_anchors import ANCHORS, CALIBRATIONS, ENERGY_METRICS, TIME_METRICS  # noqa: E402

COMMITTED = json.loads((ROOT / "benchmarks" / "results" / "validation.json").read_text())
PLACEHOLDER = re.compile(r"\b(todo|tbd|fixme|xxx|provisional|placeholder|starting value|to be (replaced|calibrated)"
                         r"|replaced by calibration)\b", re.I)


@pytest.fixture(scope="module")
def rows():
    return {r["id"]: r for r in validation.evaluate()}


def test_every_anchor_is_in_the_committed_table_once():
    ids = [a.id for a in ANCHORS]
    assert len(ids) == len(set(ids)) and ids == [r["id"] for r in COMMITTED]
    assert all(a.metric in TIME_METRICS + ENERGY_METRICS for a in ANCHORS)


@pytest.mark.parametrize("anchor", [a.id for a in ANCHORS])
def test_anchor_ratio_is_pinned(rows, anchor):
    """Recomputed with the committed profiles, every ratio equals the committed one within 1 %."""
    old = next(r for r in COMMITTED if r["id"] == anchor)
    new = rows[anchor]
    assert new["measured"] == old["measured"] and new["role"] == old["role"]
    if old["ratio"] is None:
        assert new["ratio"] is None and new["role"] == "not simulated"
    else:
        assert new["ratio"] == pytest.approx(old["ratio"], rel=0.01), (new["simulated"], old["simulated"])


def test_held_out_error_and_calibration_anchors_met(rows):
    s = validation.summary(list(rows.values()))
    assert s["held_out_median_abs_error"] <= 0.25 and s["held_out"] >= 20
    for a in ANCHORS:
        r = rows[a.id]
        if a.role == "calibration":
            assert r["ratio"] == pytest.approx(1.0, abs=0.01), a.id  # the fit hits its own anchor
        if r["within_band"] is False:  # out of band: the row must say which modelling limit keeps it out
            assert len(a.limit) > 40, a.id


def test_range_and_ratio_anchors_score_as_documented():
    a = next(x for x in ANCHORS if x.id == "T2")
    assert validation.ratio_of(a, 1500.0) == 1.0 and validation.ratio_of(a, 600.0) == pytest.approx(0.5)
    assert validation.ratio_of(a, 5200.0) == pytest.approx(2.0)


def _own_fields(path: Path):
    """(dotted name, source) of every quantity a profile file writes itself (not inherited)."""
    def walk(node, prefix):
        for key, val in node.items():
            if isinstance(val, dict) and {"value", "unit", "source"} <= set(val):
                yield f"{prefix}{key}", val["source"]
            elif isinstance(val, dict):
                yield from walk(val, f"{prefix}{key}.")
    yield from walk(yaml.safe_load(path.read_text()), "")


def test_every_profile_field_has_a_real_source():
    for name in list_profiles():
        for field, source in _own_fields(profile_dir() / f"{name}.yaml"):
            assert isinstance(source, str) and len(source.strip()) > 10, (name, field)
            assert not PLACEHOLDER.search(source), (name, field, source)


def test_calibrated_fields_say_so_and_nothing_else_claims_it():
    declared = {(prof, field): c.anchor for c in CALIBRATIONS for prof, field in c.fields}
    claimed = {}
    for name in list_profiles():
        for field, source in _own_fields(profile_dir() / f"{name}.yaml"):
            if source.lower().startswith("calibrated"):
                claimed[name, field] = source
    assert set(claimed) == set(declared)
    for key, anchor in declared.items():
        assert re.match(rf"calibrated: fitted to anchor {re.escape(anchor)}\b", claimed[key]), (key, claimed[key])


def test_calibrated_values_stay_plausible():
    for c in CALIBRATIONS:
        value, unit = validation.committed(c)
        assert c.low <= value <= c.high, c.anchor
        if unit == "ratio":
            assert 0 < value <= 1, c.anchor


@pytest.mark.slow
def test_the_fit_reproduces_the_committed_values():
    values, _ = validation.calibrate()
    for c in CALIBRATIONS:
        assert values[c.fields[0]] == pytest.approx(validation.committed(c)[0], rel=0.01), c.anchor
