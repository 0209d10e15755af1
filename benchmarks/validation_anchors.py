"""The validation anchors: published measurements of real silicon, each with the setup that
reproduces it in mpsim (network, profile, batch, precision, requests in flight, what the
measurement includes) and its role: a **calibration** anchor fits one declared profile field
(``CALIBRATIONS`` in benchmarks/validation.py), a **held-out** anchor is predicted, a **source**
anchor is the figure a profile field was derived from (a consistency check, neither).

Sources are in each row; /work/shared/reference/validation-anchors.md and the research notes
(research-ipu-gpu.md, research-analog.md) hold the quotes. ``docs/validation.md`` explains the
method. Every anchor stays here whether mpsim meets it or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# What a run of a setup is asked for (benchmarks/validation.py computes each from the report).
METRICS = ("throughput", "latency", "iteration", "power", "energy", "energy_dynamic", "arrays", "tops",
           "tops_per_w", "ratio")
TIME_METRICS = ("throughput", "latency", "iteration", "tops", "arrays", "ratio")  # band +-25 %
ENERGY_METRICS = ("power", "energy", "energy_dynamic", "tops_per_w")  # band +-50 %

DLE_PT = ("NVIDIA/DeepLearningExamples PyTorch/Classification/ConvNets/resnet50v1.5/README.md, 'Inference "
          "performance: NVIDIA DGX-1 (1x V100 16GB)' (pytorch-21.03 NGC container) [MV]")
DLE_TRITON = ("NVIDIA/DeepLearningExamples PyTorch/Classification/ConvNets/triton/resnet50/README.md, 'Offline: "
              "{machine}, ONNX Runtime TensorRT with FP16' (Triton 20.11) [MV]")
BYTEMLPERF = ("bytedance/ByteMLPerf byte_mlperf/reports/IPU/resnet50-torch-fp32/{file} (commit {commit}); harness "
              "backends/IPU/engine_poprt.py: 4 client threads, synchronous runner.execute, QPS = clients x batch / "
              "span [MV]")
ESSER_TABLE = ("Esser et al. 2016, PNAS 113:11441, per-data-set table (1 chip; as transcribed in the research "
               "notes, not re-read in the PNAS text) [S]")
LE_GALLO = "Le Gallo et al. 2023, Nature Electronics 6:680 (arXiv 2212.02872), Table I [P]"
GRAPHCORE_TRAIN = "Graphcore performance-results page, Bow platform training table (validation-anchors.md) [MV]"

DLE_INCLUDES = ("eager PyTorch forward (one kernel per module), cross-entropy and top-1/top-5 accuracy with "
                ".item() host syncs per iteration; input prefetched to the GPU on a side stream (H2D overlapped); "
                "latency = one iteration")
TRITON_INCLUDES = ("one request at a time (perf_analyzer, static batching): client send of the fp32 batch over local "
                   "gRPC, server queue, H2D copy, ONNX Runtime + TensorRT fp16 compute, D2H, response")
BYTE_INCLUDES = ("4 Python client threads each running PopRT synchronously (4 requests in flight), random input "
                 "copied over PCIe each request, 64 I/O tiles; QPS over all clients")


@dataclass(frozen=True)
class Setup:
    """How mpsim runs an anchor: a built-in (or benchmarks/validation.py synthetic) graph on a
    profile at a batch and format, with ``clients`` requests in flight (a closed loop, as a
    benchmark client keeps them; None: frames offered as fast as the machine accepts)."""

    model: str
    profile: str
    batch: int = 1
    precision: str | None = None
    clients: int | None = None
    placement: str | None = None
    overrides: tuple[tuple[str, str], ...] = ()  # profile fields the measurement's setup changes

    def key(self) -> tuple:
        return (self.model, self.profile, self.batch, self.precision, self.clients, self.placement, self.overrides)


@dataclass(frozen=True)
class Anchor:
    id: str
    family: str  # gpu | ipu | truenorth | analog | northpole
    hardware: str
    workload: str
    batch: str
    precision: str  # format and software stack
    includes: str  # what the measured figure contains
    metric: str  # one of METRICS
    unit: str  # of measured and simulated, as shown
    scale: float  # SI value x scale = shown value (1e3 for ms from s)
    measured: float | None  # None: a range
    source: str
    tag: str  # M, MV, S, R, P
    role: str  # calibration | held-out | source | not simulated
    setup: Setup | None = None
    versus: Setup | None = None  # ratio anchors: the comparator's setup
    low: float | None = None  # range anchors
    high: float | None = None
    note: str = ""
    limit: str = ""  # the modelling limit that keeps the row out of its band, when it is out
    extra: dict = field(default_factory=dict)

    @property
    def band(self) -> float:
        """Half-width of the band the ratio must fall in: 25 % for time, 50 % for energy."""
        return 0.5 if self.metric in ENERGY_METRICS else 0.25


def _dle(aid: str, batch: int, amp: bool, figure: float, role: str, metric: str = "iteration", note: str = "",
         limit: str = "") -> Anchor:
    prec = "fp16" if amp else None
    unit, scale = ("ms", 1e3) if metric == "iteration" else ("img/s", 1.0)
    return Anchor(
        aid, "gpu", "V100 SXM2 16 GB (DGX-1)", "ResNet-50 v1.5, 224x224", str(batch),
        f"{'mixed (AMP)' if amp else 'FP32'}, eager PyTorch", DLE_INCLUDES, metric, unit, scale, figure, DLE_PT, "MV",
        role, Setup("resnet50-eager", "gpu_v100_pytorch", batch, prec, clients=2), note=note, limit=limit)


def _triton(aid: str, machine: str, profile: str, batch: int, lat_ms: float, thr: float, role: str,
            limit: str = "") -> Anchor:
    return Anchor(
        aid, "gpu", machine, "ResNet-50 v1.5, 224x224, served by Triton", str(batch),
        "FP16, ONNX Runtime + TensorRT (Triton 20.11)", TRITON_INCLUDES, "latency", "ms", 1e3, lat_ms / 1e3,
        DLE_TRITON.format(machine=machine.split(" (")[0] if "DGX" in machine else machine), "MV", role,
        Setup("resnet50", profile, batch, "fp16", clients=1), limit=limit, extra={"measured_throughput": thr})


def _c600(aid: str, batch: int, fp8: bool, qps: float, lat_ms: float, role: str) -> Anchor:
    f, c = ("result-fp8.json", "bf99fffb") if fp8 else ("result-fp16.json", "80b7ce95")
    return Anchor(
        aid, "ipu", "Graphcore C600 (one Mk2 IPU, PCIe Gen4)", "ResNet-50 (torchvision), 224x224", str(batch),
        f"{'FP8' if fp8 else 'FP16'}, PopRT", BYTE_INCLUDES, "throughput", "img/s", 1.0, qps,
        BYTEMLPERF.format(file=f, commit=c), "MV", role,
        Setup("resnet50", "ipu_c600", batch, "fp8" if fp8 else "fp16", clients=4),
        extra={"measured_latency_ms": lat_ms})


def _bow(aid: str, pod: int, training: float) -> Anchor:
    per_chip = training / pod
    return Anchor(
        aid, "ipu", f"Bow IPU (of a Bow Pod{pod})", "ResNet-50 v1.5, 224x224, inference per chip", "90",
        "FP16.16 (Poplar)", "a bound, not a measurement: inference per chip is at least the measured training "
        "throughput per chip (a training step is a forward pass plus backward and update)",
        "throughput", "img/s", 1.0, None, f"{GRAPHCORE_TRAIN}: {training:,.0f} img/s on {pod} IPUs", "R", "held-out",
        Setup("resnet50", "ipu_bow", 90, "fp16"), low=per_chip, high=float("inf"),
        note="micro-batch 90: graphcore/examples vision/cnns/pytorch/inference/configs.yml [P]. The research notes' "
             "upper bound (3 x training, if inference ran at the training run's fraction of peak) is dropped: the "
             "measured C600 (I5: 13,542 img/s at fp16 on a 1.49 GHz IPU) already exceeds 3 x the Bow's training "
             "rate per chip, so inference runs at a higher fraction of peak than training")


def _esser(aid: str, data: str, fps: float, mw: float, role: str) -> Anchor:
    over = () if fps == 1249 else (("compute.clock", f"{fps} Hz"),)
    return Anchor(
        aid, "truenorth", "TrueNorth, 1 chip (NS1e/NS1t)", f"Esser 2016 network, {data} (4,042 cores)", "1",
        "trinary weights, binary spikes", "chip power while classifying one frame per tick at the run's tick rate",
        "power", "mW", 1e3, mw / 1e3, ESSER_TABLE, "S", role,
        Setup("truenorth-cifar10", "truenorth_esser", overrides=over),
        note="" if fps == 1249 else f"the tick of the {data} run ({fps:,} frames/s, one per tick); the same "
                                    "4,042-core network structure as CIFAR-10 (Esser's table), simulated with the "
                                    "CIFAR-10 preset; spike activity per data set is not modelled")


AUTOCAST = ("eager autocast casts every convolution's and the linear layer's fp32 weight to fp16 in each iteration "
            "(54 more host-issued ops) and adds its own dispatch layer to every op; the graph has neither, so at "
            "small batches, where the host's issue time bounds the iteration, mpsim is too fast")
SUPERLINEAR = ("the measured time per added image grows with the batch (V100: 0.41 ms per image from batch 1 to 32, "
               "0.70 ms from 32 to 128), which one effective request-path bandwidth (fitted at batch 128) cannot "
               "follow: mpsim is linear in the batch's bytes, so it overestimates batch 32")
PCM_NOIO = (("links.host_in", "1000000 GB/s"), ("links.host_out", "1000000 GB/s"))  # Table I times the MVM only

ANCHORS: list[Anchor] = [
    # -- GPU: NVIDIA DeepLearningExamples, eager PyTorch on a DGX-1 V100 -------------------------------
    _dle("G1", 256, False, 1261, "calibration", metric="throughput"),
    _dle("G2", 256, True, 3382, "calibration", metric="throughput"),
    _dle("G3", 1, False, 10.37e-3, "calibration"),
    _dle("G9", 1, True, 12.78e-3, "held-out", limit=AUTOCAST),
    _dle("G10", 8, False, 11.5e-3, "held-out"),
    _dle("G11", 64, False, 55.4e-3, "held-out"),
    _dle("G12", 8, True, 13.65e-3, "held-out", limit=AUTOCAST),
    _dle("G13", 64, True, 23.18e-3, "held-out"),
    # -- GPU: Triton-served ResNet-50, one request at a time ---------------------------------------------
    _triton("G4", "V100 SXM2 32 GB (DGX-1)", "gpu_v100_triton", 1, 2.838, 351.8, "calibration"),
    _triton("G5", "V100 SXM2 32 GB (DGX-1)", "gpu_v100_triton", 32, 15.664, 2044.8, "held-out", limit=SUPERLINEAR),
    _triton("G6", "V100 SXM2 32 GB (DGX-1)", "gpu_v100_triton", 128, 82.159, 1548.8, "calibration"),
    _triton("G14", "A100 SXM4 80 GB (DGX A100)", "gpu_a100_triton", 1, 2.128, 469.1, "held-out"),
    _triton("G15", "A100 SXM4 80 GB (DGX A100)", "gpu_a100_triton", 32, 11.193, 2857.6, "held-out"),
    _triton("G16", "A100 SXM4 80 GB (DGX A100)", "gpu_a100_triton", 128, 48.086, 2662.4, "calibration"),
    # -- GPU: MLPerf Inference v0.7, A100-PCIe, TensorRT 7.2 ---------------------------------------------
    Anchor("G7", "gpu", "A100-PCIe 40 GB", "ResNet-50 v1.5, MLPerf Inference v0.7 closed, SingleStream", "1",
           "INT8, TensorRT 7.2", "loadgen issues one query at a time; the H2D copy of the INT8 input is inside "
           "(no start_from_device); mean latency", "latency", "ms", 1e3, 0.513149e-3,
           "mlcommons/inference_results_v0.7 closed/NVIDIA/results/A100-PCIex1_TRT/resnet50/SingleStream/"
           "performance/run_1/mlperf_log_summary.txt: Mean 513,149 ns [M]", "M", "held-out",
           Setup("resnet50", "gpu_a100", 1, "int8", clients=1)),
    Anchor("G8", "gpu", "A100-PCIe 40 GB", "ResNet-50 v1.5, MLPerf Inference v0.7 closed, Offline", "2048",
           "INT8, TensorRT 7.2", "pre-processed INT8 inputs copied to the GPU inside the run (4 copy streams "
           "overlap them with compute)", "throughput", "img/s", 1.0, 32008.2,
           "mlcommons/inference_results_v0.7 .../A100-PCIex1_TRT/resnet50/Offline/performance/run_1/"
           "mlperf_log_summary.txt: 32008.2 samples/s [M]", "M", "calibration",
           Setup("resnet50", "gpu_a100", 2048, "int8")),
    # -- IPU --------------------------------------------------------------------------------------------
    _c600("I4", 4, False, 7062, 2.24, "calibration"),
    _c600("I5", 32, False, 13542, 9.33, "calibration"),
    _c600("I6", 4, True, 7966, 1.98, "held-out"),
    _c600("I7", 32, True, 18851, 6.7, "held-out"),
    _bow("I1", 16, 44059),
    _bow("I2", 64, 153205),
    _bow("I3", 256, 456906),
    Anchor("I8", "ipu", "one Mk2-class IPU of an IPU-POD4", "EfficientDet-D0, 512x512", "1", "fp16, TF2",
           "compute on the IPU only (the output transfer, 3.1 ms at 5.5 GB/s, is stated separately)", "latency",
           "ms", 1e3, 1e-3, "graphcore/examples vision/efficientdet/tensorflow2/README.md (HEAD 3cc8f81), "
           "'compute time of about 1ms' [MV, approximate]", "MV", "not simulated",
           note="EfficientDet-D0 is not an anchor preset (no BiFPN, no swish in mpsim's op table)"),
    Anchor("I9", "ipu", "one Graphcore IPU (type not stated)", "PaddleClas EfficientNetB0_small", "1",
           "Paddle Inference IPU backend, precision not stated", "the runtime call, 1,600 timed runs; whether "
           "host transfers are inside is not stated", "latency", "ms", 1e3, 1.72749e-3,
           "PaddlePaddle/FastDeploy PR #437 benchmark log [S]", "S", "not simulated",
           note="EfficientNet presets are not in mpsim (no swish or squeeze-excitation ops)"),
    Anchor("I10", "ipu", "one Graphcore IPU (type not stated)", "PaddleClas EfficientNetB7", "1",
           "Paddle Inference IPU backend", "as I9", "latency", "ms", 1e3, 10.1965e-3,
           "PaddlePaddle/FastDeploy PR #437 benchmark log [S]", "S", "not simulated", note="as I9"),
    Anchor("I11", "ipu", "one Graphcore IPU (type not stated)", "PaddleClas GhostNet_x0_5", "1",
           "Paddle Inference IPU backend", "as I9", "latency", "ms", 1e3, 1.64145e-3,
           "PaddlePaddle/FastDeploy PR #437 benchmark log [S]", "S", "not simulated",
           note="GhostNet is not a preset in mpsim"),
    # -- TrueNorth --------------------------------------------------------------------------------------
    Anchor("T1", "truenorth", "TrueNorth, 1 chip", "multi-object detection, 400x240 video at 30 frames/s", "1",
           "3,406 cores, 33 ticks per frame, 1 ms ticks", "total chip power during operation", "power", "mW", 1e3,
           63e-3, "Merolla et al. 2014, Science 345:668, abstract and S11 [P]", "M", "source",
           note="not simulated (the network is not a preset): power = static + 3,406 cores x 1,000 ticks/s x the "
                "truenorth profile's energy per core-tick, which was derived from this figure"),
    Anchor("T2", "truenorth", "TrueNorth, 1 chip", "Esser 2016 networks on 8 data sets (CIFAR-10 simulated)", "1",
           "trinary weights, binary spikes", "one classification per tick", "throughput", "frames/s", 1.0, None,
           "Esser et al. 2016, PNAS 113:11441, abstract [P]", "R", "source",
           Setup("truenorth-cifar10", "truenorth_esser"), low=1200, high=2600,
           note="the tick is taken from T2a (one classification per tick), so this checks the mapping sustains "
                "one frame per tick: every layer one tick (spatial unroll), the spikes moved within it"),
    Anchor("T2a", "truenorth", "TrueNorth, 1 chip (NS1e)", "Esser 2016 CIFAR-10 network (83.41 %)", "1",
           "trinary weights, binary spikes", "one classification per tick", "throughput", "frames/s", 1.0, 1249,
           ESSER_TABLE, "S", "source", Setup("truenorth-cifar10", "truenorth_esser"),
           note="truenorth_esser's tick is 1 / 1,249 s (derived from this figure); simulated below it by the "
                "spikes' exchange time that rollout mode adds to a tick"),
    Anchor("T2a-cores", "truenorth", "TrueNorth, 1 chip", "Esser 2016 CIFAR-10 network", "1",
           "trinary weights, binary spikes", "cores the network occupies", "arrays", "cores", 1.0, 4042,
           ESSER_TABLE, "S", "held-out", Setup("truenorth-cifar10", "truenorth_esser"),
           note="mpsim's truenorth-cifar10 is a reconstruction of Esser's Table 1 (docs/anchors.md); its cores come "
                "from the spatial-unroll mapping (one core per block of positions of a group's kernel)"),
    _esser("T2a-power", "CIFAR-10", 1249, 204.4, "calibration"),
    _esser("T2b", "CIFAR-100", 1526, 207.8, "held-out"),
    _esser("T2c", "SVHN", 2526, 256.5, "held-out"),
    _esser("T2d", "GTSRB", 1615, 200.6, "held-out"),
    # -- Analog in-memory: IBM's 64-core PCM chip ------------------------------------------------------------
    Anchor("A1", "analog", "IBM 64-core PCM chip, 14 nm", "8-bit MVM on all 64 cores, 4-phase read", "1",
           "8-bit inputs and outputs", "MVM throughput from the RTL timing (no I/O)", "tops", "TOPS", 1e-12, 16.1e12,
           LE_GALLO, "MV", "source", Setup("mvm-pcm64", "pcm_hermes64", overrides=PCM_NOIO),
           note="the profile's 520 ns per MVM is this row's figure; host link excluded as in the measurement"),
    Anchor("A1w", "analog", "IBM 64-core PCM chip, 14 nm", "8-bit MVM on all 64 cores, 4-phase read", "1",
           "8-bit inputs and outputs", "energy of array, ADCs and PWM, static included", "tops_per_w", "TOPS/W",
           1e-12, 2.48e12, LE_GALLO, "MV", "source", Setup("mvm-pcm64", "pcm_hermes64", overrides=PCM_NOIO),
           note="the profile's 52.8 nJ per core MVM is derived from this figure; its 0.5 W static is an assumption"),
    Anchor("A2", "analog", "IBM 64-core PCM chip, 14 nm", "8-bit MVM on all 64 cores, 1-phase read", "1",
           "8-bit inputs and outputs", "as A1", "tops", "TOPS", 1e-12, 63.1e12, LE_GALLO, "MV", "source",
           Setup("mvm-pcm64", "pcm_hermes64_1phase", overrides=PCM_NOIO)),
    Anchor("A2w", "analog", "IBM 64-core PCM chip, 14 nm", "8-bit MVM on all 64 cores, 1-phase read", "1",
           "8-bit inputs and outputs", "as A1w", "tops_per_w", "TOPS/W", 1e-12, 9.76e12, LE_GALLO, "MV", "source",
           Setup("mvm-pcm64", "pcm_hermes64_1phase", overrides=PCM_NOIO)),
    Anchor("A1b", "analog", "IBM 64-core PCM chip, 14 nm", "one input to a deep ResNet-9 layer (224 -> 224, "
           "3x3), 8 cores", "1", "8-bit, 4-phase read", "the layer's MVMs, on-chip partial-sum aggregation and "
           "the local digital units (RTL timing)", "latency", "us", 1e6, 1.518e-6, LE_GALLO, "MV", "held-out",
           Setup("resnet9-layer", "pcm_hermes64", overrides=PCM_NOIO)),
    Anchor("A1b-E", "analog", "IBM 64-core PCM chip, 14 nm", "one input to a deep ResNet-9 layer, 8 cores", "1",
           "8-bit, 4-phase read", "energy of the 8 cores' MVMs, aggregation and digital units, static included",
           "energy", "uJ", 1e6, 1.51e-6, LE_GALLO, "MV", "held-out",
           Setup("resnet9-layer", "pcm_hermes64", overrides=PCM_NOIO)),
    Anchor("A2b", "analog", "IBM 64-core PCM chip, 14 nm", "one input to a deep ResNet-9 layer, 8 cores", "1",
           "8-bit, 1-phase read", "as A1b", "latency", "us", 1e6, 1.131e-6, LE_GALLO, "MV", "held-out",
           Setup("resnet9-layer", "pcm_hermes64_1phase", overrides=PCM_NOIO)),
    Anchor("A2b-E", "analog", "IBM 64-core PCM chip, 14 nm", "one input to a deep ResNet-9 layer, 8 cores", "1",
           "8-bit, 1-phase read", "as A1b-E", "energy", "uJ", 1e6, 0.97e-6, LE_GALLO, "MV", "held-out",
           Setup("resnet9-layer", "pcm_hermes64_1phase", overrides=PCM_NOIO)),
    Anchor("A1c", "analog", "IBM 64-core PCM chip, 14 nm", "one LSTM time step (image captioning), 32 cores", "1",
           "8-bit, 4-phase read", "the gates' MVMs, aggregation and the global digital units' activations",
           "latency", "us", 1e6, 1.43e-6, LE_GALLO, "MV", "held-out",
           Setup("lstm-step", "pcm_hermes64", overrides=PCM_NOIO),
           note="cell sizes assumed: input 480, hidden 512 fill 32 cores at 97 % as Table I states; tanh costed "
                "as a sigmoid",
           limit="mpsim sends each core's 256 fp16 partial sums over one 3.2 Gbit/s link (1.28 us) before they are "
                 "added, which matches the ResNet-9 layer (A1b, A2b) but not this step: the chip's LSTM mapping "
                 "(4 row blocks x 8 column blocks, the global digital units) aggregates faster than one link per "
                 "core allows; the aggregation path is not modelled in more detail"),
    Anchor("A1c-E", "analog", "IBM 64-core PCM chip, 14 nm", "one LSTM time step, 32 cores", "1",
           "8-bit, 4-phase read", "as A1c, energy with static", "energy", "uJ", 1e6, 5.24e-6, LE_GALLO, "MV",
           "held-out", Setup("lstm-step", "pcm_hermes64", overrides=PCM_NOIO), note="as A1c"),
    Anchor("A3b", "analog", "Yao et al. 2020 128 x 128 memristor macro (estimate)", "8-bit MVM", "1",
           "8-bit inputs, 15-level weights", "XPEsim estimate with measured devices: array, drivers, S&H and "
           "ADCs over the 8 one-bit reads; no pooling, activation, routing or buffering", "energy_dynamic", "pJ",
           1e12, 8 * 371.89e-12, "Yao et al. 2020, Nature 577:641, Methods 'Benchmarking of system metrics': "
           "371.89 pJ per 1-bit read, 8 reads per 8-bit MVM [P] (11,014 GOPS/W counting 32,768 ops per MVM)", "P",
           "source", Setup("mvm-yao128", "memristor_yao2020_macro", overrides=PCM_NOIO),
           note="not silicon: the estimate the macro profile's energy fields come from (a check of the accounting: "
                "one ADC conversion per column and read). Yao counts 2 ops per cell; mpsim 2 per weight (a "
                "differential pair), so energy per MVM is compared, not GOPS/W"),
    Anchor("A3", "analog", "Yao et al. 2020 memristor macro vs a V100", "energy efficiency (ops per joule)", "-",
           "8-bit analog vs fp16 tensor cores", "the paper's claim: more than 100x a GPU's energy efficiency",
           "ratio", "x", 1.0, None, "Yao et al. 2020, abstract and Methods ('roughly 110 times better energy "
           "efficiency') [P]", "R", "held-out", Setup("mvm-yao128", "memristor_yao2020_macro", overrides=PCM_NOIO),
           versus=Setup("resnet50", "gpu_v100", 128, "fp16"), low=100, high=float("inf"),
           note="simulated: the macro's ops per joule (A3b's energy, 2 ops per weight MAC) over the V100's on "
                "ResNet-50 (TensorRT-like, fp16, batch 128, static power included, same op count)",
           limit="the claim compares the macro's estimate with a nominal 100 GOPS/W for the V100 and counts 2 ops "
                 "per memristor cell (a differential pair is 2 cells); mpsim counts 2 per weight and simulates the "
                 "V100 on ResNet-50, whose energy per MAC is fitted to NorthPole's fps/W ratio (N1-fpsW): a "
                 "simulated, not a nominal, GPU"),
    # -- NorthPole --------------------------------------------------------------------------------------
    Anchor("N1b", "northpole", "IBM NorthPole, 12 nm", "ResNet-50", "1", "4-bit (8-bit cannot reach the rate: "
           "256 cores x 1,024 MACs x 400 MHz = 105 TMAC/s < 42,460 x 4.09 GMAC)", "frames per second, one chip",
           "throughput", "frames/s", 1.0, 42460, "Modha et al. 2023, Science 382:329, Table 1 (via a blog that "
           "transcribes it) [S]", "S", "calibration", Setup("resnet50", "northpole", 1, "int4")),
    Anchor("N1b-P", "northpole", "IBM NorthPole, 12 nm", "ResNet-50", "1", "4-bit", "chip power while running",
           "power", "W", 1.0, 74, "Modha et al. 2023, Table 1 (via the same blog) [S]", "S", "calibration",
           Setup("resnet50", "northpole", 1, "int4"),
           note="fits NorthPole's energy per MAC; its static power (15 W) is an assumption"),
    Anchor("N1-fpsW", "northpole", "NorthPole vs a V100 (12 nm GPU)", "ResNet-50", "-", "NorthPole 4-bit; V100 "
           "fp16 TensorRT-like, batch 128", "frames per second per watt, ratio", "ratio", "x", 1.0, 25,
           "Modha et al. 2023, abstract [P]", "R", "calibration", Setup("resnet50", "northpole", 1, "int4"),
           versus=Setup("resnet50", "gpu_v100", 128, "fp16"),
           note="the paper does not say how the GPU was run; batch 128 fp16 (NVIDIA's published data-center "
                "inference tables use large batches) is an assumption"),
    Anchor("N1-lat", "northpole", "NorthPole vs a V100 (12 nm GPU)", "ResNet-50", "-", "as N1-fpsW",
           "latency of a frame (V100: of its batch), ratio GPU / NorthPole", "ratio", "x", 1.0, 22,
           "Modha et al. 2023, abstract [P]", "R", "held-out", Setup("resnet50", "northpole", 1, "int4"),
           versus=Setup("resnet50", "gpu_v100", 128, "fp16"), note="as N1-fpsW"),
    Anchor("N1-fpsT", "northpole", "NorthPole vs a V100 (12 nm GPU)", "ResNet-50", "-", "as N1-fpsW",
           "frames per second per transistor (NorthPole 22 B, V100 21.1 B), ratio", "ratio", "x", 1.0, 5,
           "Modha et al. 2023, abstract [P]; 21.1 B transistors: NVIDIA V100 (GTC17) [S]", "R", "held-out",
           Setup("resnet50", "northpole", 1, "int4"), versus=Setup("resnet50", "gpu_v100", 128, "fp16"),
           note="as N1-fpsW", extra={"transistors": (22e9, 21.1e9)},
           limit="the paper does not say how its GPU ran; the ratio implies ~8,100 frames/s for the V100 (NVIDIA's "
                 "published TensorRT figures are of that order), mpsim's V100 at batch 128 fp16 runs ~5,900: its "
                 "tensor-core efficiency is fitted to eager PyTorch AMP (G2), which TensorRT's kernels beat"),
]

# A calibration fits one value (written into every field listed) so that the anchor's simulated
# figure equals the measurement; bounds keep it physically plausible. Fitted in this order,
# twice, because some anchors feel several fields.


@dataclass(frozen=True)
class Calibration:
    anchor: str
    fields: tuple[tuple[str, str], ...]  # (profile file, field); the first is the one fitted
    unit: str  # the unit written into the profile
    low: float
    high: float
    why: str

    @property
    def profile(self) -> str:
        return self.fields[0][0]


CALIBRATIONS: list[Calibration] = [
    Calibration("G1", (("gpu_v100", "efficiency.conv"), ("gpu_v100", "efficiency.pointwise"),
                       ("gpu_a100", "efficiency.conv"), ("gpu_a100", "efficiency.pointwise")), "ratio", 0.05, 1.0,
                "fp32 achieved fraction of peak of cuDNN's convolution kernels (conv and 1x1 as one value)"),
    Calibration("G2", (("gpu_v100", "precision.efficiency.fp16"), ("gpu_a100", "precision.efficiency.fp16")),
                "ratio", 0.05, 1.0, "tensor-core (fp16) fraction of the fp32 class efficiencies"),
    Calibration("G3", (("gpu_v100_pytorch", "timing.host_issue"),), "us", 1.0, 500.0,
                "host time per eager op (dispatch, cuDNN set-up, launch)"),
    Calibration("G6", (("gpu_v100_triton", "links.host_in"), ("gpu_v100_triton", "links.host_out")), "GB/s", 0.05,
                12.0, "effective bandwidth of the DGX-1's request path (local gRPC, then PCIe), in the fp16 bytes "
                      "mpsim moves (the client sends fp32: twice the bytes)"),
    Calibration("G16", (("gpu_a100_triton", "links.host_in"), ("gpu_a100_triton", "links.host_out")), "GB/s", 0.05,
                25.0, "effective bandwidth of the DGX A100's request path (its own host), in fp16 bytes"),
    Calibration("G4", (("gpu_v100_triton", "links.host_latency"), ("gpu_a100_triton", "links.host_latency")), "ms",
                0.0, 2.0, "fixed cost per transfer of the serving stack (Triton, ONNX Runtime, gRPC client)"),
    Calibration("G8", (("gpu_a100", "precision.efficiency.int8"),), "ratio", 0.05, 1.0,
                "int8 tensor-core fraction of the class efficiencies"),
    Calibration("I5", (("ipu_gc200", "efficiency.conv"), ("ipu_gc200", "efficiency.pointwise")), "ratio", 0.02, 1.0,
                "achieved fraction of the AMP peak on convolutions (conv and 1x1 as one value)"),
    Calibration("I4", (("ipu_c600", "timing.frame_overhead"),), "us", 0.0, 2000.0,
                "fixed time per request of PopRT's runtime call on the device's timeline"),
    Calibration("N1b", (("northpole", "efficiency.conv"), ("northpole", "efficiency.pointwise")), "ratio", 0.05, 1.0,
                "achieved fraction of NorthPole's 4-bit peak (conv and 1x1 as one value)"),
    Calibration("N1b-P", (("northpole", "energy.mac"),), "pJ", 0.01, 5.0,
                "energy per 4-bit MAC with its share of NorthPole's near-memory traffic"),
    Calibration("N1-fpsW", (("gpu_v100", "energy.mac"),), "pJ", 0.1, 20.0,
                "the V100's energy per MAC with its SM-local operand traffic (no measured V100 power in the anchors: "
                "NorthPole's fps/W ratio is the only figure that fixes it)"),
    Calibration("T2a-power", (("truenorth_esser", "energy.crossbar_mvm"),), "nJ", 0.1, 1000.0,
                "energy per core per tick of Esser's CIFAR-10 network"),
]
