"""Training: loss presets, metrics and AUC by hand, checkpoints, exact resume, CLI, grid selection."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from itnet_export.training.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint  # noqa: E402
from itnet_export.training.grid import select  # noqa: E402
from itnet_export.training.loss import joint_loss, loss_weights, normalised, thinned_outputs  # noqa: E402
from itnet_export.training.metrics import auc, confusion_matrix, iou_per_class, mean_iou, pixel_accuracy  # noqa: E402
from itnet_export.training.trainer import TrainConfig, epoch_order, train  # noqa: E402
from mpsim.cli.main import main  # noqa: E402
from mpsim.errors import MpsimError  # noqa: E402

MPSIM = [sys.executable, "-m", "mpsim"]
ROOT = Path(__file__).resolve().parents[1]

# A run small enough for tests: 48 scenes, batches of 8 (6 per epoch), 2 epochs.
TINY = dict(epochs=2, batch_size=8, train_size=48, val_size=16, checkpoint_every=2, export=False, threads=1)
TINY_FLAGS = ["--epochs", "2", "--batch-size", "8", "--train-size", "48", "--val-size", "16",
              "--checkpoint-every", "2", "--no-export", "--threads", "1", "--quiet"]


# Loss ---------------------------------------------------------------------------------------------

def test_loss_presets_for_16_outputs():
    assert loss_weights("uniform", 16) == [1.0] * 16
    assert thinned_outputs(16) == [1, 2, 4, 8, 16]
    assert [i + 1 for i, w in enumerate(loss_weights("thinned", 16)) if w] == [1, 2, 4, 8, 16]
    assert loss_weights("increasing", 16) == [float(i) for i in range(1, 17)]
    assert loss_weights("single", 16) == [0.0] * 15 + [1.0]
    assert loss_weights("late", 16) == [0.0] * 12 + [1.0] * 4


def test_loss_presets_scaled_to_other_lengths():
    assert loss_weights("thinned", 4) == [1.0, 1.0, 0.0, 1.0]
    assert thinned_outputs(6) == [1, 2, 4, 6] and thinned_outputs(1) == [1]
    assert loss_weights("increasing", 4) == [1.0, 6.0, 11.0, 16.0]
    assert loss_weights("increasing", 1) == [1.0]
    assert loss_weights("late", 4) == [0.0, 0.0, 0.0, 1.0]
    assert loss_weights("late", 5) == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert loss_weights("1,0,2,1", 4) == [1.0, 0.0, 2.0, 1.0]
    assert normalised([1, 0, 2, 1]) == [0.25, 0.0, 0.5, 0.25]
    for bad in ("bogus", "1,2", "0,0,0,0", "-1,1,1,1"):
        with pytest.raises(MpsimError):
            loss_weights(bad, 4)


def test_joint_loss_by_hand():
    # 1 image, 2 classes, 1x3 pixels; the third pixel is ignored.
    target = torch.tensor([[[0, 1, 255]]])
    m1 = torch.zeros(1, 2, 1, 3)  # p = 1/2 everywhere: CE = ln 2
    m2 = torch.zeros(1, 2, 1, 3)
    m2[0, 0, 0, 0] = math.log(3.0)  # pixel 0: p(class 0) = 3/4
    m2[0, 1, 0, 1] = math.log(3.0)  # pixel 1: p(class 1) = 3/4
    m2[0, 0, 0, 2] = 100.0  # ignored pixel: would cost 100 nats
    ce1, ce2 = math.log(2.0), -math.log(0.75)
    got = joint_loss([m1, m2], target, [1.0, 3.0])
    assert float(got) == pytest.approx(0.25 * ce1 + 0.75 * ce2, rel=1e-6)
    assert float(joint_loss([m1, m2], target, [0.0, 1.0])) == pytest.approx(ce2, rel=1e-6)
    # no labelled pixel: 0, not NaN
    assert float(joint_loss([m1, m2], torch.full((1, 1, 3), 255), [1.0, 1.0])) == 0.0


# Metrics ------------------------------------------------------------------------------------------

def test_confusion_miou_pixel_accuracy_by_hand():
    target = torch.tensor([0, 0, 1, 1, 2, 255])
    pred = torch.tensor([0, 1, 1, 1, 0, 2])
    conf = confusion_matrix(pred, target, 4)
    expect = np.zeros((4, 4), int)
    expect[0, 0], expect[0, 1], expect[1, 1], expect[2, 0] = 1, 1, 2, 1
    assert conf.tolist() == expect.tolist()
    assert np.array_equal(confusion_matrix(pred.numpy(), target.numpy(), 4), expect)
    # IoU: class 0 = 1 / (2 + 2 - 1) = 1/3; class 1 = 2 / (3 + 2 - 2) = 2/3; class 2 = 0 / 1; class 3 absent
    assert iou_per_class(conf) == pytest.approx([1 / 3, 2 / 3, 0.0, None])
    assert mean_iou(conf) == pytest.approx(1 / 3)
    assert pixel_accuracy(conf) == pytest.approx(3 / 5)
    with pytest.raises(ValueError):
        confusion_matrix(torch.tensor([0]), torch.tensor([7]), 4)


def test_auc_by_hand():
    # anchor (0, 0.00828), points (100, 0.2), (200, 0.4): trapezoids 100*(0.00828+0.2)/2 + 100*(0.2+0.4)/2
    assert auc([0.2, 0.4], [100, 200]) == pytest.approx((10.414 + 30.0) / 200)
    assert auc([0.5], [10], anchor=(0.0, 0.5)) == pytest.approx(0.5)
    # a flat curve scores about its level; the anchor pulls it down a little
    assert auc([0.6, 0.6, 0.6], [1, 2, 3]) == pytest.approx((1 * (0.00828 + 0.6) / 2 + 2 * 0.6) / 3)
    with pytest.raises(ValueError):
        auc([0.1, 0.2], [200, 100])
    with pytest.raises(ValueError):
        auc([0.1], [1, 2])


# Checkpoints --------------------------------------------------------------------------------------

def test_checkpoint_roundtrip_restores_rng_and_state(tmp_path):
    import random

    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 10)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    sched.step()
    path = tmp_path / "ck.pt"
    save_checkpoint(path, model, opt, sched, epoch=3, metrics={"history": [1.0]}, batch=5)
    expected = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    model2 = torch.nn.Linear(3, 2)
    opt2 = torch.optim.Adam(model2.parameters(), lr=0.1)
    sched2 = torch.optim.lr_scheduler.CosineAnnealingLR(opt2, 10)
    ck = load_checkpoint(path, model2, opt2, sched2)
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == expected
    assert ck["epoch"] == 3 and ck["batch"] == 5 and ck["metrics"] == {"history": [1.0]}
    assert torch.equal(model.weight, model2.weight)
    assert opt2.state_dict()["state"][0]["exp_avg"].equal(opt.state_dict()["state"][0]["exp_avg"])
    assert sched2.state_dict() == sched.state_dict()
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind
    # `mpsim export --checkpoint` reads the model out of a training checkpoint
    from itnet_export.cli import load_checkpoint as export_load

    export_load(torch.nn.Linear(3, 2), str(path))


def test_checkpoint_errors(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(MpsimError, match="not a readable checkpoint"):
        read_checkpoint(bad)
    torch.save({"weight": torch.zeros(1)}, tmp_path / "plain.pt")
    with pytest.raises(MpsimError, match="not an mpsim training checkpoint"):
        read_checkpoint(tmp_path / "plain.pt")
    save_checkpoint(tmp_path / "ck.pt", torch.nn.Linear(3, 2))
    with pytest.raises(MpsimError, match="does not match"):
        load_checkpoint(tmp_path / "ck.pt", torch.nn.Linear(4, 2))


# Training -----------------------------------------------------------------------------------------

def _weights(run_dir) -> dict:
    return read_checkpoint(Path(run_dir) / "checkpoint.pt")["model"]


def _same_weights(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _metrics(run_dir) -> dict:
    return json.loads((Path(run_dir) / "metrics.json").read_text())


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    metrics = train(TrainConfig(**TINY), out)
    return out, metrics


def test_training_run_writes_metrics(reference_run):
    out, metrics = reference_run
    on_disk = _metrics(out)
    assert on_disk == json.loads(json.dumps(metrics))
    for key in ("miou_per_output", "pixel_accuracy_per_output", "macs_per_output"):
        assert len(on_disk[key]) == 4
    assert on_disk["epochs"] == 2 and on_disk["finished"] is True and len(on_disk["history"]) == 2
    assert on_disk["macs_per_output"] == sorted(on_disk["macs_per_output"])
    assert on_disk["auc"] == pytest.approx(auc(on_disk["miou_per_output"], on_disk["macs_per_output"]))
    assert all(0.0 <= v <= 1.0 for v in on_disk["miou_per_output"] + on_disk["pixel_accuracy_per_output"])


def test_epoch_order_is_a_seeded_permutation():
    a = epoch_order(0, 1, 20)
    assert sorted(a) == list(range(20)) and a == epoch_order(0, 1, 20)
    assert a != epoch_order(0, 2, 20) and a != epoch_order(1, 1, 20)


def test_resume_after_a_crash_is_exact(reference_run, tmp_path):
    ref_dir, ref_metrics = reference_run

    class Crash(Exception):
        pass

    def crash_after(k):
        def hook(epoch, batch, step, loss):
            if step == k:
                raise Crash()
        return hook

    out = tmp_path / "run"
    # crash mid-epoch between checkpoints (step 3 of 6: last checkpoint at batch 2), resume,
    # crash again right after the first epoch's last batch (before its evaluation), resume to the end
    with pytest.raises(Crash):
        train(TrainConfig(**TINY), out, on_batch=crash_after(3))
    with pytest.raises(MpsimError, match="holds a training run already"):
        train(TrainConfig(**TINY), out)
    with pytest.raises(Crash):
        train(TrainConfig(**TINY), out, resume=True, on_batch=crash_after(6))
    metrics = train(TrainConfig(**TINY), out, resume=True)
    assert metrics == ref_metrics
    assert _same_weights(_weights(out), _weights(ref_dir))
    # the settings of a resumed run must not change
    with pytest.raises(MpsimError, match="other settings"):
        train(TrainConfig(**{**TINY, "lr": 0.5}), out, resume=True)


def test_cli_killed_run_resumes_to_the_same_result(reference_run, tmp_path, capsys):
    """A real SIGKILL in the middle of an epoch, then ``mpsim train --resume``."""
    ref_dir, ref_metrics = reference_run
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.run(MPSIM + ["train", "--out", str(out), *TINY_FLAGS, "--crash-after-batches", "9"],
                           capture_output=True, text=True, env=env, cwd=ROOT)
    assert first.returncode == -9, first.stderr
    ck = read_checkpoint(out / "checkpoint.pt")
    assert (ck["epoch"], ck["batch"]) == (1, 2)  # killed at epoch 2, batch 3 (checkpoint at batch 2)
    # resume in this process (a fresh process would do the same: runs are pure functions of the seed)
    assert main(["train", "--out", str(out), "--resume", "--quiet"]) == 0
    assert "resuming" in capsys.readouterr().out
    assert _metrics(out) == json.loads(json.dumps(ref_metrics))
    assert _same_weights(_weights(out), _weights(ref_dir))


def test_cli_terminated_run_cleans_up_and_resumes_to_the_same_result(reference_run, tmp_path, capsys):
    """SIGTERM (a scheduler stopping the job) mid-epoch: exit 143 with no temporary file left,
    then ``mpsim train --resume`` ends bit-identical to the uninterrupted run."""
    import signal
    import time

    ref_dir, ref_metrics = reference_run
    out = tmp_path / "terminated"
    proc = subprocess.Popen(MPSIM + ["train", "--out", str(out), *TINY_FLAGS],
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "checkpoint.pt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)  # the first checkpoint is at batch 2 of 12
    assert proc.wait(timeout=60) == 143 and proc.stderr.read().strip().endswith("mpsim: terminated")
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")] == []
    assert main(["train", "--out", str(out), "--resume", "--quiet"]) == 0
    assert _metrics(out) == json.loads(json.dumps(ref_metrics))
    assert _same_weights(_weights(out), _weights(ref_dir))


def test_cli_train_exports_the_trained_model(tmp_path, capsys):
    out = tmp_path / "exported"
    flags = [f for f in TINY_FLAGS if f != "--no-export"]
    flags[flags.index("--epochs") + 1] = "1"
    assert main(["train", "--out", str(out), *flags, "--max-batches", "2", "--loss", "thinned"]) == 0
    assert "mIoU per output" in capsys.readouterr().out
    metrics = _metrics(out)
    assert metrics["export"] == "export/graph.json" and metrics["loss_weights"] == [1.0, 1.0, 0.0, 1.0]
    from mpsim.analysis.metrics import macs_per_output
    from mpsim.ir.serialize import load_graph

    g = load_graph(out / "export" / "graph.json")
    assert list(macs_per_output(g)[0]) == metrics["macs_per_output"]
    # the exported weights are the trained ones
    from itnet_export.cli import load_checkpoint as export_load
    from itnet_export.presets import build_preset

    model, _, _ = build_preset("itnet-tiny")
    export_load(model, str(out / "checkpoint.pt"))
    ref = np.load(out / "export" / "reference.npz")
    with torch.no_grad():
        got = model.eval()(torch.from_numpy(ref["input"]))
    assert np.allclose(got[-1].numpy(), ref["output_4"], atol=1e-5)


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "argument --epochs: 0 is out of range (allowed: 1..10,000)"),
    (["--dataset", "camvid", "--data-root", "/no/such/dir"], "/no/such/dir: no such data folder"),
    (["--dataset", "camvid"], "needs --data-root"),
    (["--loss", "bogus"], "unknown loss 'bogus'"),
    (["--preset", "nope"], "unknown preset 'nope'"),
    (["--lr", "-1"], "argument --lr: -1 is out of range (allowed: (0, 10])"),
])
def test_cli_train_bad_flags_one_line(tmp_path, capsys, argv, message):
    try:  # a flag out of range is refused as it is parsed (SystemExit), a bad setting when read
        rc = main(["train", "--out", str(tmp_path / "x"), "--quiet", *argv])
    except SystemExit as exc:
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_train_usage_error_and_conflicting_resume(reference_run, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--out", str(tmp_path), "--optimizer", "lbfgs"])
    assert info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
    ref_dir, _ = reference_run
    assert main(["train", "--out", str(ref_dir), "--resume", "--lr", "0.5", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--lr 0.5 differs from the resumed run's 0.001" in err and err.count("\n") == 1
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit) as info:
        main(["train", "--out", str(tmp_path / "file"), "--quiet"])
    assert info.value.code == 2 and "is not a folder" in capsys.readouterr().err


# Grid search --------------------------------------------------------------------------------------

def _r(family, l, n, k, peak, auc_):
    return {"family": family, "scales": l, "iterations": n, "blocks": k, "peak_miou": peak, "auc": auc_, "width": 8}


def test_grid_discard_rank_and_select_by_hand():
    results = [
        _r("shared", 1, 2, 1, 0.50, 0.40),  # A
        _r("shared", 2, 2, 1, 0.49, 0.42),  # B
        _r("shared", 1, 4, 1, 0.47, 0.45),  # C: 0.47 <= 0.50 - 0.02, discarded despite the best AUC
        _r("shared", 2, 4, 1, 0.481, 0.30),  # D
        _r("shared", 3, 2, 1, 0.495, 0.41),  # E
        _r("independent", 1, 2, 1, 0.60, 0.50),
        _r("independent", 2, 2, 1, 0.55, 0.52),  # discarded
        _r("independent", 1, 4, 1, 0.59, 0.48),
        _r("independent", 2, 4, 1, 0.58, 0.49),  # exactly best - 0.02: discarded (<=)
        _r("independent", 3, 2, 1, 0.595, 0.51),
    ]
    out = select(results)
    status = {(p["family"], p["scales"], p["iterations"]): (p["discarded"], p["rank"]) for p in out["points"]}
    assert status[("shared", 1, 4)] == (True, None)
    assert status[("independent", 2, 2)] == (True, None) and status[("independent", 2, 4)] == (True, None)
    # shared kept by AUC: B .42, E .41, A .40, D .30; independent kept: E .51, A .50, C .48
    assert [status[("shared", *k)][1] for k in ((2, 2), (3, 2), (1, 2), (2, 4))] == [1, 2, 3, 4]
    assert [status[("independent", *k)][1] for k in ((3, 2), (1, 2), (1, 4))] == [1, 2, 3]
    avg = {(r["scales"], r["iterations"], r["blocks"]): r["average_rank"] for r in out["ranking"]}
    assert avg == {(1, 2, 1): 2.5, (3, 2, 1): 1.5, (2, 2, 1): None, (1, 4, 1): None, (2, 4, 1): None}
    assert (out["selected"]["scales"], out["selected"]["iterations"], out["selected"]["blocks"]) == (3, 2, 1)
    assert out["selected"]["average_rank"] == 1.5


def test_grid_ties_and_no_survivor():
    tie = select([_r("shared", 1, 2, 1, 0.5, 0.4), _r("shared", 2, 2, 1, 0.5, 0.4)])
    assert [p["rank"] for p in tie["points"]] == [1, 1]
    assert tie["selected"]["scales"] == 1  # ties: smaller (L, N, K)
    none = select([_r("shared", 1, 2, 1, 0.5, 0.4), _r("independent", 2, 2, 1, 0.5, 0.4)])
    assert none["selected"] is None


GRID = ["grid", "--scales", "1,2", "--iterations", "2", "--blocks", "1", "--families", "shared",
        "--budget-macs", "1.5e6", "--epochs", "1", "--batch-size", "8", "--train-size", "16", "--val-size", "8",
        "--max-batches", "2", "--quiet"]


def test_grid_in_process_and_on_a_local_cluster_agree(tmp_path, capsys):
    pytest.importorskip("dask.distributed")
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main([*GRID, "--json", str(a)]) == 0
    printed = capsys.readouterr().out
    assert "selected: L=" in printed and "grid search" in printed
    assert main([*GRID, "--json", str(b), "--workers", "2"]) == 0
    ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
    assert ra == rb
    assert [(p["scales"], p["family"]) for p in ra["points"]] == [(1, "shared"), (2, "shared")]
    assert all(p["macs_per_output"][-1] < 1.5e6 for p in ra["points"])
    assert ra["selected"] is not None


def test_grid_bad_flags(capsys):
    assert main(["grid", "--scales", "1", "--iterations", "2", "--blocks", "1", "--budget-macs", "10",
                 "--families", "shared", "--quiet"]) == 2
    assert "over the budget" in capsys.readouterr().err
    assert main(["grid", "--scales", "1", "--iterations", "2", "--blocks", "1", "--families", "shared",
                 "--quiet"]) == 2  # the paper's 2.2 G MACs on a 64x64 preset
    assert "use a smaller --budget-macs" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["grid", "--scales", "x"])


@pytest.mark.slow
def test_grid_unreachable_scheduler(capsys):
    pytest.importorskip("dask.distributed")
    assert main(["grid", "--scheduler", "tcp://127.0.0.1:9", "--quiet", "--scales", "1", "--iterations", "2",
                 "--blocks", "1"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler" in err and err.count("\n") == 1


@pytest.mark.slow
def test_kill_at_a_random_moment_then_resume(reference_run, tmp_path):
    """SIGKILL a real ``mpsim train`` process at arbitrary moments (not chosen batches), resume each time."""
    import signal
    import time

    ref_dir, ref_metrics = reference_run
    out = tmp_path / "random-kill"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = np.random.default_rng(7)
    for attempt in range(3):
        argv = MPSIM + ["train", "--out", str(out), *(["--resume", "--quiet"] if attempt else TINY_FLAGS)]
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while not (out / "checkpoint.pt").exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(float(rng.uniform(0.0, 1.5)))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert main(["train", "--out", str(out), "--resume", "--quiet"]) == 0
    assert _metrics(out) == json.loads(json.dumps(ref_metrics))
    assert _same_weights(_weights(out), _weights(ref_dir))


def test_cli_commands_do_not_import_torch():
    code = ("import sys, mpsim.cli.main as m; m.build_parser(); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_training_on_camvid_and_cityscapes_fixtures(tmp_path, capsys):
    """End to end on the real layouts: CamVid at its real size (480x360, crop 480x352), Cityscapes resized."""
    from PIL import Image

    rng = np.random.default_rng(0)

    def png(path, arr):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr.astype(np.uint8)).save(path)

    cam = tmp_path / "camvid"
    for split, n in (("train", 2), ("val", 1)):
        for i in range(n):
            png(cam / split / f"f{i}.png", rng.integers(0, 256, (360, 480, 3)))
            png(cam / f"{split}annot" / f"f{i}.png", rng.integers(0, 12, (360, 480)))
    assert main(["train", "--out", str(tmp_path / "cam-run"), "--dataset", "camvid", "--data-root", str(cam),
                 "--epochs", "1", "--batch-size", "2", "--no-export", "--quiet"]) == 0
    m = _metrics(tmp_path / "cam-run")
    assert m["model"]["input_size"] == [360, 480] and m["model"]["num_classes"] == 11
    capsys.readouterr()

    cs = tmp_path / "cityscapes"
    for split in ("train", "val"):
        for i in range(2):
            png(cs / "leftImg8bit" / split / "ulm" / f"ulm_{i:06d}_000019_leftImg8bit.png", rng.integers(0, 256, (32, 64, 3)))
            png(cs / "gtFine" / split / "ulm" / f"ulm_{i:06d}_000019_gtFine_labelIds.png", rng.integers(0, 34, (32, 64)))
    cfg = TrainConfig(dataset="cityscapes", data_root=str(cs), epochs=1, batch_size=2, export=False,
                      data_options={"size": [32, 64]})
    m = train(cfg, tmp_path / "cs-run")
    assert m["model"]["num_classes"] == 19 and m["model"]["input_size"] == [32, 64]
    assert len(m["miou_per_output"]) == 4
    with pytest.raises(MpsimError, match="bad data set option"):
        train(TrainConfig(data_options={"colour": 1}, epochs=1), tmp_path / "bad")
