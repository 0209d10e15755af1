"""Exit policies by hand, and `mpsim anytime` end to end on the tiny ItNet."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mpsim.anytime.accuracy import ExitAccuracy, confusion, miou
from mpsim.anytime.policies import by_budget, by_confidence, by_deadline, confidence
from mpsim.cli.main import main

CONF = np.array([[0.9, 0.95, 0.99],   # easy frame: confident at once
                 [0.4, 0.7, 0.9],     # medium
                 [0.2, 0.3, 0.5]])    # hard


def test_confidence_measure_in_unit_interval():
    flat = np.zeros((1, 4, 2, 2))
    assert confidence(flat) == pytest.approx(0.25)
    sure = np.zeros((1, 4, 2, 2))
    sure[0, 2] = 50.0
    assert confidence(sure) == pytest.approx(1.0)


def test_confidence_policy():
    assert by_confidence(CONF, 0.8).tolist() == [0, 2, 2]
    assert by_confidence(CONF, 0.6).tolist() == [0, 1, 2]
    assert by_confidence(CONF, 1.01).tolist() == [2, 2, 2]  # above 1 never exits early
    assert by_confidence(CONF, 0.0).tolist() == [0, 0, 0]


def test_deadline_policy():
    lat = np.array([[1.0, 2.0, 3.0], [1.5, 2.5, np.nan], [4.0, 5.0, 6.0]])
    assert by_deadline(lat, 2.6).tolist() == [1, 1, 0]  # third frame misses: first output
    assert by_deadline(lat, 10).tolist() == [2, 1, 2]


def test_budget_policy_spends_on_hard_frames():
    cost = np.array([1.0, 2.0, 3.0])
    # Budget 2 per frame: threshold 0.9 gives levels [0, 2, 2] -> mean 2.33 (too much);
    # threshold 0.7 gives [0, 1, 2] -> mean 2.0 (fits, the most computation that does).
    assert by_budget(CONF, cost, 2.0).tolist() == [0, 1, 2]
    assert by_budget(CONF, cost, 1.0).tolist() == [0, 0, 0]
    assert by_budget(CONF, cost, 3.0).tolist() == [2, 2, 2]


def test_miou_and_exit_accuracy():
    label = np.array([[0, 1], [1, 255]])
    cm = confusion(np.array([[0, 1], [0, 1]]), label, 2)
    # class 0: tp 1, fp 1, fn 0 -> 1/2; class 1: tp 1, fp 0, fn 1 -> 1/2
    assert miou(cm) == pytest.approx(0.5)
    preds = np.array([[[[0, 0], [0, 0]], [[0, 1], [1, 0]]]])  # one frame, two outputs
    acc = ExitAccuracy(preds, label[None], 2)
    assert acc.score(np.array([1])) == pytest.approx(1.0)
    assert acc.score(np.array([0])) == pytest.approx((1 / 3 + 0) / 2)
    unl = ExitAccuracy(preds, None, 2)
    assert unl.score(np.array([0])) == pytest.approx(0.5) and unl.score(np.array([1])) == 1.0


def test_anytime_cli(tiny_dir, tmp_path):
    out = tmp_path / "a.json"
    # On a GPU every layer is a step: exiting early skips steps (on the IPU-M2000 this tiny
    # model is bound by the host link, and exits change its latency, not its throughput).
    rc = main(["anytime", "--profile", "gpu_v100", "--model", str(tiny_dir), "--policy", "confidence",
               "--values", "0,1.1", "--data-frames", "6", "--json", str(out), "--plot", str(tmp_path / "plot")])
    assert rc == 0
    res = json.loads(out.read_text())
    first, last = res["points"]
    for key in ("value", "accuracy", "mean_latency_s", "p99_latency_s", "throughput_fps", "traffic_bytes_per_frame",
                "energy_j_per_frame", "converged"):
        assert key in first
    assert first["converged"] and last["converged"]
    # Energy per exit: every later exit costs more, and a frame exiting at m_1 costs less.
    per_exit = res["per_output"]["dynamic_energy_j"]
    assert per_exit == sorted(per_exit) and per_exit[0] < per_exit[-1]
    assert first["energy_j_per_frame"] < last["energy_j_per_frame"]
    assert first["mean_exit"] == 1.0 and last["mean_exit"] == 4.0
    # Exiting at m_1: more frames per second, less latency and traffic.
    assert first["throughput_fps"] > 2 * last["throughput_fps"]
    assert first["mean_latency_s"] < last["mean_latency_s"]
    assert sum(first["traffic_bytes_per_frame"].values()) < sum(last["traffic_bytes_per_frame"].values())
    assert (tmp_path / "plot.png").stat().st_size > 10_000 and (tmp_path / "plot.svg").exists()


def test_anytime_bad_values(tiny_dir, capsys):
    with pytest.raises(SystemExit) as info:  # checked as the flag is parsed, before any work
        main(["anytime", "--model", str(tiny_dir), "--values", "a,b"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--values: item a is not a number" in err[0]


def test_saved_figures_are_reproducible(tmp_path):
    """The same figure saved twice gives the same SVG and PNG bytes (no date, fixed ids)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mpsim.plotting import save_figure

    def draw(stem):
        fig, ax = plt.subplots()
        ax.imshow([[0.0, 1.0], [2.0, 3.0]])
        ax.plot([0, 1], [1, 0], label="m_1")
        ax.legend()
        return save_figure(fig, tmp_path / stem)

    a, b = draw("a"), draw("b")
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), pa.suffix
    assert b"<dc:date>" not in a[1].read_bytes()
