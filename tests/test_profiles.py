"""Hardware profiles: built-ins load with the published numbers, units convert exactly, every
kind of bad input is one ProfileError line naming the file and the field, and the CLI obeys
its exit codes."""

from __future__ import annotations

import copy
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hwprofiles import profile_dir
from mpsim.cli.main import main
from mpsim.errors import ProfileError
from mpsim.hw.profile import Profile, list_profiles, load_profile, read_raw
from mpsim.hw.units import UnitError, to_si

BUILTINS = ["gpu_a100", "gpu_a100_triton", "gpu_v100", "gpu_v100_pytorch", "gpu_v100_triton", "ipu_bow", "ipu_c600",
            "ipu_embedded", "ipu_gc200", "ipu_m2000", "memristor_isaac", "memristor_yao2020", "memristor_yao2020_chip",
            "memristor_yao2020_macro", "northpole", "pcm_hermes64", "pcm_hermes64_1phase", "truenorth",
            "truenorth_esser"]
CROSSBARS = ["memristor_isaac", "memristor_yao2020", "memristor_yao2020_chip", "memristor_yao2020_macro", "pcm_hermes64",
             "pcm_hermes64_1phase", "truenorth", "truenorth_esser"]


def _raw(name: str) -> dict:
    """A built-in profile as one mapping, its ``extends`` resolved."""
    return read_raw(name)[0]


def _write(tmp_path: Path, raw: object, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw, sort_keys=False))
    return path


def _error(tmp_path: Path, raw: object) -> str:
    path = _write(tmp_path, raw)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(path)), msg
    return msg


# --- built-in profiles ------------------------------------------------------------------------

def test_list_profiles_is_sorted_and_complete():
    assert list_profiles() == BUILTINS


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_loads(name):
    p = load_profile(name)
    assert isinstance(p, Profile) and p.name == name and p.path == profile_dir() / f"{name}.yaml"
    assert set(p.link_bandwidth) == {"on_tile", "exchange", "chip_to_chip", "offchip", "host_in", "host_out"}
    assert (p.crossbar is not None) == (p.kind == "crossbar")
    assert p.energy is not None
    assert all(f.source for f in p.fields.values())
    assert p.capacity_bytes == p.total_tiles * p.tile_memory_bytes > 0


def test_ipu_m2000_numbers():
    p = load_profile("ipu_m2000")
    assert (p.chips, p.tiles_per_chip, p.total_tiles) == (4, 1472, 5888)
    assert p.tile_memory_bytes == 624 * 1024
    assert p.capacity_bytes == 5888 * 624 * 1024 == 3_762_290_688
    # Graphcore's "3.6 GB" (and "900 MB" per chip) counts MiB: 3.76e9 B = 3,588 MiB, within 1% of
    # 3,600; against 3.6e9 decimal bytes it would be 4.5% off.
    assert abs(p.capacity_bytes / 2**20 - 3600) / 3600 < 0.01
    # 250 TFLOPS fp16 (62.5 fp32) per GC200: four chips make 500 (125) T MAC/s.
    assert abs(p.tile_macs_per_s * p.total_tiles - 500e12) / 500e12 < 0.01
    assert abs(p.with_precision("fp32").tile_macs_per_s * p.total_tiles - 125e12) / 125e12 < 0.01
    assert p.link_bandwidth["exchange"] == 4 * 1.33e9
    assert p.link_bandwidth["chip_to_chip"] == 29.2e9  # per chip pair and direction
    assert p.link_bandwidth["host_in"] == p.link_bandwidth["host_out"] == 22e9  # per direction
    assert p.sync_s == pytest.approx(90 / 1.33e9, rel=1e-12) and p.sync_for(4) == pytest.approx(171 / 1.33e9)
    assert p.op_overhead_s == pytest.approx(160 / 1.33e9)
    assert p.default_mode == "bsp" and p.default_placement == "sequential" and p.kind == "tiles"
    assert p.crossbar is None and p.static_power_w == 350
    assert p.precision.name == "fp16" and p.numerics.weights == "fp16" and p.numerics.activation_bytes == 2


def test_ipu_gc200_is_one_chip_of_the_m2000():
    one, four = load_profile("ipu_gc200"), load_profile("ipu_m2000")
    assert one.total_tiles * 4 == four.total_tiles and one.tile_memory_bytes == four.tile_memory_bytes


def test_ipu_embedded_holds_the_small_graph_only():
    p = load_profile("ipu_embedded")
    assert 100e6 <= p.capacity_bytes <= 150e6
    assert p.capacity_bytes > 83e6 > 0 and p.capacity_bytes < 384e6  # ItNet Fig. 5c graph sizes


def test_gpu_v100_numbers():
    p = load_profile("gpu_v100")
    assert p.kind == "gpu" and p.total_tiles == 80
    assert abs(2 * p.tile_macs_per_s * p.total_tiles - 15.7e12) / 15.7e12 < 0.01
    assert abs(2 * p.with_precision("fp16").tile_macs_per_s * p.total_tiles - 125e12) / 125e12 < 0.01  # tensor cores
    assert p.link_bandwidth["offchip"] == 897e9 and p.offchip_capacity_bytes == 16e9
    assert p.op_overhead_s == 1.83e-6 and p.link_bandwidth["host_in"] == 12e9
    assert p.capacity_bytes == pytest.approx(6 * 2**20)


@pytest.mark.parametrize("name", CROSSBARS)
def test_crossbar_macs_agree_with_array_geometry(name):
    p = load_profile(name)
    xb = p.crossbar
    assert xb is not None and xb.programmable_per_frame is False
    per_array = xb.weights_per_array / xb.mvm_time_s(p.precision.activation_bits)
    assert abs(p.tile_macs_per_s - per_array) / per_array < 0.001


def test_crossbar_figures():
    isaac = load_profile("memristor_isaac")
    assert isaac.crossbar.cells_per_weight == 8 and isaac.crossbar.weights_per_array == 2048
    tops = 2 * isaac.tile_macs_per_s * isaac.total_arrays
    assert abs(tops - 41.3e12) / 41.3e12 < 0.01  # ISAAC's published 41.3 TOPS
    yao = load_profile("memristor_yao2020")
    # Yao et al. 2020: inputs on 16 bit lines, outputs on 128 source lines, differential pairs.
    assert (yao.crossbar.rows, yao.crossbar.cols, yao.crossbar.cells_per_weight) == (16, 128, 2)
    assert 300_000 < yao.crossbar_weight_capacity < 3_000_000  # holds the shared ItNets, not the independent one
    assert yao.crossbar.read_noise == pytest.approx(0.05) and yao.energy.adc_conversion == pytest.approx(2.55e-12)
    chip = load_profile("memristor_yao2020_chip")
    assert chip.total_arrays == 8 and chip.crossbar.rows * chip.crossbar.cols == 2048  # eight arrays of 2,048 cells
    tn = load_profile("truenorth")
    assert tn.total_tiles == 4096 and tn.crossbar.mvm_latency_s == 1e-3 and tn.precision.name == "ternary"
    assert tn.crossbar.input_slices(tn.precision.activation_bits) == 1  # binary spikes: one tick per layer
    assert tn.crossbar_weight_capacity == 4096 * 256 * 256  # 256 M synapses
    assert load_profile("ipu_m2000").crossbar_weight_capacity == 0


def test_profile_is_frozen():
    p = load_profile("ipu_m2000")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.chips = 8  # type: ignore[misc]
    with pytest.raises(TypeError):
        p.link_bandwidth["host"] = 1.0  # type: ignore[index]


def test_energy_absent_is_none_and_missing_entries_are_zero(tmp_path):
    raw = _raw("ipu_m2000")
    del raw["energy"]
    assert load_profile(_write(tmp_path, raw)).energy is None
    raw["energy"] = {"mac": {"value": 2, "unit": "pJ", "source": "assumption: a test value for the loader"}}
    e = load_profile(_write(tmp_path, raw)).energy
    assert e.mac == 2e-12 and e.offchip_byte == 0.0 and e.crossbar_mvm == 0.0


# --- units ------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, unit, dim, clock, si", [
    (624, "KiB", "size", None, 638_976.0),
    (1, "GiB", "size", None, 2.0**30),
    (3.6, "GB", "size", None, 3.6e9),
    (320, "GB/s", "bandwidth", None, 320e9),
    (1, "GiB/s", "bandwidth", None, 2.0**30),
    (4, "B/cycle", "bandwidth", 1.25e9, 5e9),
    (600, "cycles", "time", 1.5e9, 4e-7),
    (100, "ns", "time", None, 1e-7),
    (10, "us", "time", None, 1e-5),
    (30, "pJ", "energy", None, 30e-12),
    (5, "%", "ratio", None, 0.05),
    (1.53, "GHz", "frequency", None, 1.53e9),
])
def test_unit_conversion(value, unit, dim, clock, si):
    assert to_si(value, unit, dim, clock) == si  # exact: one rounding at most


def test_unit_errors():
    with pytest.raises(UnitError, match="'GB/s' is not a size unit"):
        to_si(1, "GB/s", "size")
    with pytest.raises(UnitError, match="needs compute.clock"):
        to_si(1, "cycles", "time")


# --- bad input: one line, the file and the field ----------------------------------------------

def _mut(name: str, fn) -> dict:
    raw = copy.deepcopy(_raw(name))
    fn(raw)
    return raw


BAD = [
    ("unknown top-level field", "ipu_m2000", lambda r: r.update(colour="blue"), "'colour'"),
    ("unknown field in a section", "ipu_m2000", lambda r: r["compute"].update(tile_mem=r["compute"]["tile_memory"]),
     "'compute.tile_mem'"),
    ("unknown key in a field", "ipu_m2000", lambda r: r["compute"]["clock"].update(note="x"), "'compute.clock'"),
    ("missing field", "ipu_m2000", lambda r: r["compute"].pop("clock"), "'compute.clock'"),
    ("missing section", "ipu_m2000", lambda r: r.pop("links"), "'links'"),
    ("missing value", "ipu_m2000", lambda r: r["links"]["host_in"].pop("value"), "'links.host_in'"),
    ("negative", "ipu_m2000", lambda r: r["links"]["host_out"].update(value=-1), "'links.host_out'"),
    ("zero where positive", "ipu_m2000", lambda r: r["compute"]["chips"].update(value=0), "'compute.chips'"),
    ("fractional count", "ipu_m2000", lambda r: r["compute"]["tiles_per_chip"].update(value=1.5),
     "'compute.tiles_per_chip'"),
    ("number as text", "ipu_m2000", lambda r: r["compute"]["chips"].update(value="four"), "'compute.chips'"),
    ("missing source", "ipu_m2000", lambda r: r["timing"]["sync"].pop("source"), "'timing.sync'"),
    ("empty source", "ipu_m2000", lambda r: r["timing"]["sync"].update(source="  "), "'timing.sync'"),
    ("placeholder source", "ipu_m2000", lambda r: r["timing"]["sync"].update(source="TODO"), "'timing.sync'"),
    ("assumption without why", "ipu_m2000", lambda r: r["timing"]["sync"].update(source="assumption:"),
     "'timing.sync'"),
    ("wrong time unit", "ipu_m2000", lambda r: r["timing"]["op_overhead"].update(unit="GHz"), "'timing.op_overhead'"),
    ("crossbar on tiles", "ipu_m2000", lambda r: r.update(crossbar=_raw("memristor_isaac")["crossbar"]),
     "'crossbar'"),
    ("no crossbar on crossbar", "memristor_isaac", lambda r: r.pop("crossbar"), "'crossbar'"),
    ("crossbar energy on tiles", "ipu_m2000",
     lambda r: r["energy"].update(adc_conversion={"value": 1, "unit": "pJ", "source": "a citation [P]"}),
     "'energy.adc_conversion'"),
    ("unknown kind", "ipu_m2000", lambda r: r.update(kind="fpga"), "'kind'"),
    ("unknown mode", "ipu_m2000", lambda r: r.update(default_mode="async"), "'default_mode'"),
    ("unknown precision", "ipu_m2000", lambda r: r["precision"]["macs_per_cycle"].update(fp64=r["precision"]
                                                                                      ["macs_per_cycle"]["fp32"]),
     "'precision.macs_per_cycle.fp64'"),
    ("default precision not listed", "ipu_m2000", lambda r: r["precision"].update(default="int8"),
     "'precision.default'"),
    ("missing precision", "ipu_m2000", lambda r: r.pop("precision"), "'precision'"),
    ("efficiency over 1", "ipu_m2000", lambda r: r["efficiency"]["conv"].update(value=1.5), "'efficiency.conv'"),
    ("missing static power", "ipu_m2000", lambda r: r["power"].pop("static"), "'power'"),
    ("placement the kind cannot run", "gpu_v100", lambda r: r.update(default_placement="pipelined"),
     "'default_placement'"),
    ("code fills the tile", "ipu_m2000", lambda r: r["memory"]["code_per_tile"].update(value=700),
     "'memory.code_per_tile'"),
    ("missing name", "ipu_m2000", lambda r: r.pop("name"), "'name'"),
    ("bool field not bool", "memristor_isaac",
     lambda r: r["crossbar"]["programmable_per_frame"].update(value="no"), "'crossbar.programmable_per_frame'"),
    ("ratio over 1", "memristor_isaac", lambda r: r["crossbar"]["stuck_at_off"].update(value=120, unit="%"),
     "'crossbar.stuck_at_off'"),
    ("array narrower than a weight", "memristor_isaac", lambda r: r["crossbar"]["cols"].update(value=4),
     "'crossbar.cols'"),
    ("empty energy block", "ipu_m2000", lambda r: r.update(energy={}), "'energy'"),
]


@pytest.mark.parametrize("case, base, fn, field", BAD, ids=[b[0] for b in BAD])
def test_bad_profile_names_the_field(tmp_path, case, base, fn, field):
    msg = _error(tmp_path, _mut(base, fn))
    assert f"field {field}" in msg, msg


def test_wrong_dimension_message_is_exact(tmp_path):
    raw = _mut("ipu_m2000", lambda r: r["compute"]["tile_memory"].update(unit="GB/s"))
    msg = _error(tmp_path, raw)
    assert msg.endswith("field 'compute.tile_memory': unit 'GB/s' is not a size unit "
                        "(use B, KiB, MiB, GiB, TiB, kB, KB, MB, GB, TB)"), msg


def test_builtin_errors_name_the_file_as_hwprofiles(monkeypatch, tmp_path):
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    monkeypatch.setattr("mpsim.hw.profile.profile_dir", lambda: tmp_path)
    with pytest.raises(ProfileError, match=r"^hwprofiles/broken.yaml: malformed YAML at line \d+"):
        load_profile("broken")


@pytest.mark.parametrize("text, what", [
    ("name: x\n  bad: indent\n: :\n", "malformed YAML"),
    ("- just\n- a list\n", "(top level)"),
    ("name: a\nname: b\n", "duplicate key 'name'"),
])
def test_malformed_files(tmp_path, text, what):
    assert what in _error(tmp_path, text)


def test_cycles_and_b_per_cycle_follow_the_clock(tmp_path):
    raw = _mut("ipu_m2000", lambda r: r["compute"]["clock"].update(value=2, unit="GHz"))
    p = load_profile(_write(tmp_path, raw))
    assert p.link_bandwidth["exchange"] == 8e9 and p.sync_s == 45e-9


def test_bad_clock_is_reported_before_what_depends_on_it(tmp_path):
    msg = _error(tmp_path, _mut("ipu_m2000", lambda r: r["compute"]["clock"].update(unit="GB")))
    assert "field 'compute.clock'" in msg


# --- user profiles and names ------------------------------------------------------------------

def test_extends_merges_field_by_field_and_overrides_revalidate(tmp_path):
    m2000, gc200 = load_profile("ipu_m2000"), load_profile("ipu_gc200")
    assert m2000.chips == 4 and gc200.chips == 1
    assert m2000.tiles_per_chip == gc200.tiles_per_chip and m2000.efficiency == gc200.efficiency
    child = {"name": "half", "extends": "ipu_gc200",
             "compute": {"clock": {"value": 0.665, "unit": "GHz", "source": "assumption: half clock for a test"}}}
    half = load_profile(_write(tmp_path, child, "half.yaml"))
    # Cycle-based fields follow the child's clock: the same 90-cycle sync takes twice as long.
    assert half.sync_s == pytest.approx(2 * gc200.sync_s) and half.tile_macs_per_s == gc200.tile_macs_per_s / 2
    fast = gc200.with_overrides(**{"compute.clock": "2.66 GHz", "links.host_in": 11})
    assert fast.sync_s == pytest.approx(gc200.sync_s / 2) and fast.link_bandwidth["host_in"] == 11e9
    assert "override" in fast.fields["links.host_in"].source
    with pytest.raises(ProfileError, match="compute.nope"):
        gc200.with_overrides(**{"compute.nope": 3})
    (tmp_path / "loop.yaml").write_text("name: loop\nextends: loop.yaml\n")
    with pytest.raises(ProfileError, match="extends"):
        load_profile(tmp_path / "loop.yaml")


def test_no_source_is_a_leftover():
    """Every built-in field has a real source: no placeholder left from drafting."""
    for name in BUILTINS:
        for field, raw in load_profile(name).fields.items():
            assert "PROVISIONAL" not in raw.source and "TODO" not in raw.source.upper(), (name, field)


def test_user_profile_from_a_path(tmp_path):
    raw = _mut("ipu_embedded", lambda r: r.update(name="my_chip"))
    raw["compute"]["tiles_per_chip"] = {"value": 64, "unit": "count", "source": "assumption: a smaller test chip"}
    raw["links"]["offchip"]["value"] = "1.0e10"  # numbers given as text are read too
    raw["links"]["offchip"]["unit"] = "B/s"
    path = _write(tmp_path, raw, "my_chip.yaml")
    for arg in (path, str(path)):
        p = load_profile(arg)
        assert p.name == "my_chip" and p.total_tiles == 64 and p.path == path.resolve()
        assert p.link_bandwidth["offchip"] == 1e10
        assert p.fields["compute.tiles_per_chip"] == (64, "count", "assumption: a smaller test chip")


def test_unknown_name_and_missing_file():
    with pytest.raises(ProfileError, match="unknown profile 'nope' .*ipu_m2000"):
        load_profile("nope")
    with pytest.raises(ProfileError, match="no such profile file"):
        load_profile("does/not/exist.yaml")


def test_core_does_not_import_torch():
    code = "import sys, mpsim.hw.profile, mpsim.cli.cmd_profiles; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- CLI --------------------------------------------------------------------------------------

@pytest.fixture
def wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")


def test_cli_list(wide, capsys):
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    for name in BUILTINS:
        assert name in out
    assert "5,888" in out and "3.76 GB" in out


def test_cli_show(wide, capsys):
    assert main(["profiles", "show", "ipu_m2000"]) == 0
    out = capsys.readouterr().out
    assert "compute.tile_memory" in out and "KiB" in out and "638976 B" in out
    assert "poplibs CTCLossPlan.cpp" in out


def test_cli_show_user_file(wide, capsys, tmp_path):
    path = _write(tmp_path, _raw("truenorth"), "tn.yaml")
    assert main(["profiles", "show", str(path)]) == 0
    assert "crossbar.mvm_latency" in capsys.readouterr().out


@pytest.mark.parametrize("arg", ["nope", "missing/file.yaml"])
def test_cli_bad_name_exits_2_with_one_line(capsys, arg):
    assert main(["profiles", "show", arg]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mpsim profiles: error:")


def test_cli_bad_file_exits_2(capsys, tmp_path):
    path = _write(tmp_path, _mut("ipu_m2000", lambda r: r["compute"]["tile_memory"].update(unit="GB/s")))
    assert main(["profiles", "show", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "compute.tile_memory" in err


def test_cli_as_a_process():
    ok = subprocess.run([sys.executable, "-m", "mpsim", "profiles"], capture_output=True, text=True)
    assert ok.returncode == 0 and "ipu_m2000" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "mpsim", "profiles", "show", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stdout == ""


def test_docs_describe_every_field():
    from mpsim.hw.schema import SECTIONS

    text = (Path(__file__).resolve().parents[1] / "docs" / "profiles.md").read_text()
    missing = [f"{s}.{k}" for s, specs in SECTIONS.items() for k in specs if f"`{k}`" not in text]
    assert not missing and all(f"`{n}`" in text for n in BUILTINS), missing
