"""The functional executor: run an exported graph with its weights, in float32, without torch.

The folded graph runs as it is stored: a loop body executes ``trip_count`` times, carried
state is fed back, member i of a weight group serves iteration i and ``t@i`` references are
served from the iteration that made them.  That is what early exit needs: ``iterations=n``
asks for the anytime outputs m_1..m_n only, so a loop stops after the iteration that produces
m_n and nothing the later outputs alone need is computed.

``Executor(graph, weights)`` prepares everything once (kernel choice per node, weights in the
layout the kernels want, interpolation tables, fusion of a convolution with the activation
and the residual add that follow it); ``run`` and ``stream`` then execute one input each.

Numerics hook: ``numerics`` is an optional object with

* ``weight(node, role, name, array) -> array``: called once per weight (per group member)
  when the executor is prepared, e.g. to quantise it;
* ``activation(node, tensor, array) -> array``: called on every tensor a node writes (and on
  each graph input, with ``node=None``);
* ``fuse`` (bool attribute, optional): whether nodes may still be fused.  Fusion skips the
  tensors between the fused nodes, so it is off unless the numerics object allows it;
* ``layer(executor, node)`` (optional): its own implementation of a node, ``fn(args,
  iteration) -> [outputs]`` (e.g. a convolution on a crossbar model), or None to keep the
  executor's kernel; ``executor.param(node, role)`` gives the node's (hooked) weights per
  iteration and ``executor.graph`` the graph.  Such nodes are never fused.

``None`` (the default) is plain float32, equal to ``FP32``.  ``fuse=False`` turns fusion off
in any case (one kernel call per node).
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

import numba
import numpy as np

from mpsim.errors import MpsimError
from mpsim.exec import kernels as K
from mpsim.exec.weights import check_weights
from mpsim.ir.graph import Graph, Loop, Node, split_iter_name
from mpsim.ir.ops import OPS

F32 = np.float32
SERIAL_WORK = 1 << 17  # steps below this many multiply-adds/elements run on the calling thread
_DUMMY = np.zeros((1, 1), F32)
_INF = math.inf


_BLAS_CONTROLLER: Any = False  # not looked up yet
_WARM = False


def _warm_up_once() -> None:
    """Compile (first time on this machine) or load every kernel, once per process."""
    global _WARM
    if not _WARM:
        K.warm_up()
        _WARM = True


def blas_controller() -> Any:
    """threadpoolctl's controller of the loaded BLAS libraries, or None without threadpoolctl.

    The numba kernels run on numba's thread pool; a multi-threaded BLAS keeps its own workers
    spinning after each product, and the two pools then fight over the cores (several times
    slower on a 2-core machine).  So while the executor runs, BLAS is limited to one thread
    (the products run between the parallel numba kernels).  Without threadpoolctl the numba
    kernels run on one thread instead and BLAS keeps its threads."""
    global _BLAS_CONTROLLER
    if _BLAS_CONTROLLER is False:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS_CONTROLLER = ThreadpoolController()
        except Exception:  # not installed, or no BLAS found
            _BLAS_CONTROLLER = None
    return _BLAS_CONTROLLER


class Float32Numerics:
    """Identity numerics: weights and activations stay float32 as computed."""

    name = "fp32"
    fuse = True

    def weight(self, node: Node, role: str, name: str, array: np.ndarray) -> np.ndarray:
        return array

    def activation(self, node: Node, tensor: str, array: np.ndarray) -> np.ndarray:
        return array


FP32 = Float32Numerics()

# Activation nodes that a convolution's epilogue can absorb (``_act_of`` gives code, lo, hi).
_ACT_CODES = {"sigmoid": K.ACT_SIGMOID, "hardswish": K.ACT_HARDSWISH, "hardsigmoid": K.ACT_HARDSIGMOID,
              "silu": K.ACT_SILU, "tanh": K.ACT_TANH, "erf": K.ACT_ERF, "sqrt": K.ACT_SQRT}
_ACT_OPS = {"relu", "relu6", "clamp", "gelu", "leaky_relu", "pow"} | set(_ACT_CODES)


def _act_of(node: Node) -> tuple[int, float, float]:
    op = node.op
    if op == "relu":
        return K.ACT_CLAMP, 0.0, _INF
    if op == "relu6":
        return K.ACT_CLAMP, 0.0, 6.0
    if op == "clamp":
        lo, hi = node.attrs.get("min"), node.attrs.get("max")
        return K.ACT_CLAMP, (-_INF if lo is None else float(lo)), (_INF if hi is None else float(hi))
    if op == "gelu":
        return (K.ACT_GELU_TANH if node.attrs.get("approximate", "none") == "tanh" else K.ACT_GELU), 0.0, 0.0
    if op == "leaky_relu":
        return K.ACT_LEAKY, float(node.attrs["negative_slope"]), 0.0
    if op == "pow":
        return K.ACT_POW, float(node.attrs["exponent"]), 0.0
    return _ACT_CODES[op], 0.0, 0.0


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, (list, tuple)):
        return (int(v[0]), int(v[0])) if len(v) == 1 else (int(v[0]), int(v[1]))
    return int(v), int(v)


def _c(a: np.ndarray) -> np.ndarray:
    if a.dtype != F32 or not a.flags.c_contiguous:
        return np.ascontiguousarray(a, dtype=F32)
    return a


# Plan ------------------------------------------------------------------------------------------

Fn = Callable[[list, int], list]


@dataclass
class _Step:
    """One kernel call: a node, or a convolution fused with the nodes that follow it."""

    nodes: tuple[Node, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    fn: Fn
    serial: bool = False  # too little work to wake numba's other threads for


@dataclass
class _LoopPlan:
    loop: Loop
    steps: list[_Step]
    body_tensors: frozenset[str]


@dataclass
class _IterPlan:
    """What one loop iteration runs: kept steps, and what to drop after each."""

    steps: list[tuple[_Step, tuple[str, ...]]]  # (step, body tensors dead after it)
    exports: tuple[str, ...]  # body tensors t whose t@i is read later
    carry: tuple[Any, ...]  # Carried entries to feed into the next iteration


@dataclass
class _Schedule:
    items: list[tuple[Any, Any, tuple[str, ...]]] = field(default_factory=list)  # (kind, data, drops)
    wanted: dict[str, list[int]] = field(default_factory=dict)  # tensor -> output indices


class Executor:
    """A graph with its weights, ready to run one input after another."""

    def __init__(self, graph: Graph, weights: Mapping[str, np.ndarray], *, numerics: Any = None,
                 fuse: bool = True) -> None:
        check_weights(graph, weights)
        self.graph = graph
        self.numerics = numerics
        self._hook = numerics is not None and type(numerics) is not Float32Numerics
        self._fuse = fuse and (not self._hook or bool(getattr(numerics, "fuse", False)))
        self._weights = weights
        self._schedules: dict[int, _Schedule] = {}
        self._threads = 1
        self._scratch = np.empty(0, F32)
        unknown = sorted({n.op for n in graph.nodes if n.op not in _FACTORIES})
        if unknown:
            raise MpsimError(f"graph '{graph.name}': the executor has no kernel for op(s) {', '.join(unknown)}")
        _warm_up_once()
        self._pinned_set = self._pinned()
        self._items = self._plan()

    # Weights ----------------------------------------------------------------------------------

    def workspace(self, size: int) -> np.ndarray:
        """A float32 scratch buffer of ``size`` elements, reused from call to call (so an
        Executor runs one input at a time: use one per thread)."""
        if self._scratch.size < size:
            self._scratch = np.empty(size, F32)
        return self._scratch[:size]

    def param(self, node: Node, role: str, prepare: Callable[[np.ndarray], Any] = _c) -> list | None:
        """The node's parameter ``role`` per iteration (a one-element list when not a group),
        after the numerics hook and ``prepare``."""
        ref = node.params.get(role)
        if ref is None:
            return None
        group = self.graph.weight_groups.get(ref)
        names = list(group) if group is not None else [ref]
        out = []
        for name in names:
            arr = np.asarray(self._weights[name], dtype=F32)
            if self._hook:
                arr = np.asarray(self.numerics.weight(node, role, name, arr), dtype=F32)
            out.append(prepare(np.ascontiguousarray(arr)))
        return out

    # Planning ---------------------------------------------------------------------------------

    def _pinned(self) -> set[str]:
        """Tensors that must exist as written: outputs, carried state, inputs, and body tensors
        read outside their loop as ``t@i``."""
        g = self.graph
        pinned = set(g.inputs)
        for o in g.outputs:
            pinned.add(split_iter_name(o.tensor)[0])
            pinned.add(o.tensor)
        for lp in g.loops:
            for c in lp.carried:
                pinned.update((c.init, c.body_output, c.body_input))
        for n in g.nodes:
            for t in n.inputs:
                base, it = split_iter_name(t)
                if it is not None:
                    pinned.add(base)
        return pinned

    def _region_steps(self, nodes: Sequence[Node]) -> list[_Step]:
        g = self.graph
        pinned = self._pinned_set
        region = {n.name for n in nodes}
        consumers = g.consumers

        def sole_consumer(t: str) -> Node | None:
            users = consumers.get(t, ())
            if t in pinned or len(users) != 1 or users[0] not in region:
                return None
            n = g.node_by_name[users[0]]
            return n if list(n.inputs).count(t) == 1 else None

        # Hardware numerics may replace a layer (analog crossbars); such nodes are not fused.
        layer = getattr(self.numerics, "layer", None) if self._hook else None
        custom: dict[str, Fn] = {}
        if layer is not None:
            for n in nodes:
                fn = layer(self, n)
                if fn is not None:
                    custom[n.name] = fn
        absorbed: dict[str, _Step] = {}  # node name -> the fused step placed at it
        skip: set[str] = set()
        if self._fuse:
            for n in nodes:
                if n.op != "conv2d" or n.name in skip or n.name in custom:
                    continue
                chain = [n]
                act = (K.ACT_NONE, 0.0, 0.0)
                t = n.outputs[0]
                nxt = sole_consumer(t)
                if nxt is not None and nxt.op in _ACT_OPS:
                    act = _act_of(nxt)
                    chain.append(nxt)
                    t = nxt.outputs[0]
                    nxt = sole_consumer(t)
                residual = None
                if (nxt is not None and nxt.op == "add" and len(nxt.inputs) == 2 and nxt.name not in absorbed
                        and g.tensors[nxt.inputs[0]].shape == g.tensors[nxt.inputs[1]].shape):
                    # (an add already fused with the other branch's conv stays with that one)
                    residual = nxt.inputs[1] if nxt.inputs[0] == t else nxt.inputs[0]
                    chain.append(nxt)
                if len(chain) == 1:
                    continue
                fn = _conv2d(self, n, act, residual is not None)
                ins = (n.inputs[0],) + ((residual,) if residual is not None else ())
                step = _Step(tuple(chain), ins, chain[-1].outputs, fn)
                absorbed[chain[-1].name] = step
                skip.update(c.name for c in chain[:-1])
        steps = []
        for n in nodes:
            if n.name in skip:
                continue
            if n.name in absorbed:
                steps.append(absorbed[n.name])
            else:
                fn = custom.get(n.name) or _FACTORIES[n.op](self, n)
                steps.append(_Step((n,), n.inputs, n.outputs, fn))
        for s in steps:
            s.serial = self._work(s) < SERIAL_WORK
            if self._hook:
                s.fn = self._with_numerics(s)
        return steps

    def _work(self, step: _Step) -> int:
        n = sum(self.graph.tensors[t].numel for t in step.outputs)
        head = step.nodes[0]
        if head.op == "conv_transpose2d":
            return max(n, head.macs)
        if head.op == "conv2d":
            _, cpg, kh, kw = self.graph.param_shape(head.params["weight"])
            n *= kh * kw * (cpg if int(head.attrs["groups"]) > 1 else 1)
        return n

    def _call(self, step: _Step, args: list, it: int) -> list:
        """Run a step; small ones with numba limited to this thread: waking the pool costs more
        than they do, and far more when other processes hold the cores."""
        if step.serial and self._threads > 1:
            numba.set_num_threads(1)
            try:
                return step.fn(args, it)
            finally:
                numba.set_num_threads(self._threads)
        return step.fn(args, it)

    def _with_numerics(self, step: _Step) -> Fn:
        inner, node, names, hook = step.fn, step.nodes[-1], step.outputs, self.numerics
        floats = [self.graph.tensors[t].dtype.startswith(("float", "bfloat")) for t in names]

        def fn(args: list, it: int) -> list:
            outs = inner(args, it)
            return [_c(np.asarray(hook.activation(node, t, o), dtype=F32)) if f else o
                    for t, o, f in zip(names, outs, floats)]

        return fn

    def _plan(self) -> list:
        g = self.graph
        loop_at = {lp.body[0]: lp for lp in g.loops}
        in_body = g.loop_of
        items: list = []
        pending: list[Node] = []
        for n in g.nodes:
            if n.name in in_body:
                if n.name in loop_at:
                    items.extend(("step", s) for s in self._region_steps(pending))
                    pending = []
                    lp = loop_at[n.name]
                    body = [g.node_by_name[b] for b in lp.body]
                    tensors = frozenset(t for b in body for t in b.outputs)
                    items.append(("loop", _LoopPlan(lp, self._region_steps(body), tensors)))
                continue
            pending.append(n)
        items.extend(("step", s) for s in self._region_steps(pending))
        return items

    def _schedule(self, n_out: int) -> _Schedule:
        """Backward pass: which steps (per loop iteration) outputs m_1..m_n need, and when each
        tensor can be dropped."""
        if n_out in self._schedules:
            return self._schedules[n_out]
        g = self.graph
        outs = sorted(g.outputs, key=lambda o: o.index)[:n_out]
        sched = _Schedule()
        for o in outs:
            sched.wanted.setdefault(o.tensor, []).append(o.index)
        needed: set[str] = set(sched.wanted)
        rev: list = []
        for kind, data in reversed(self._items):
            if kind == "step":
                if any(t in needed for t in data.outputs):
                    reads = set(data.inputs)
                    rev.append(("step", data, reads))
                    needed |= reads
                continue
            lp: _LoopPlan = data
            trips = 0
            for t in needed:
                base, it = split_iter_name(t)
                if it is not None and base in lp.body_tensors:
                    trips = max(trips, it + 1)
            if trips == 0:
                continue
            trips = min(trips, lp.loop.trip_count)
            carried_in = {c.body_input: c for c in lp.loop.carried}
            iters: list[_IterPlan] = [None] * trips  # type: ignore[list-item]
            outer_reads: set[str] = set()
            next_needs: set[str] = set()  # carried body_inputs read by iteration i+1
            for i in range(trips - 1, -1, -1):
                exports = tuple(t for t in lp.body_tensors if f"{t}@{i}" in needed)
                carry = tuple(c for c in lp.loop.carried if c.body_input in next_needs) if i + 1 < trips else ()
                want = set(exports) | {c.body_output for c in carry}
                kept: list[_Step] = []
                for s in reversed(lp.steps):
                    if any(t in want for t in s.outputs):
                        kept.append(s)
                        want |= set(s.inputs)
                kept.reverse()
                next_needs = {t for t in want if t in carried_in}
                outer_reads |= {t for t in want if t not in lp.body_tensors and t not in carried_in}
                # drops: body tensors (and carried inputs) dead after their last reader
                keep = set(exports) | {c.body_output for c in carry}
                last: dict[str, int] = {}
                for k, s in enumerate(kept):
                    for t in s.inputs:
                        if t in lp.body_tensors or t in carried_in:
                            last[t] = k
                drops: list[list[str]] = [[] for _ in kept]
                for t, k in last.items():
                    if t not in keep:
                        drops[k].append(t)
                iters[i] = _IterPlan([(s, tuple(d)) for s, d in zip(kept, drops)], exports, carry)
            outer_reads |= {carried_in[t].init for t in next_needs}
            rev.append(("loop", (lp, iters), outer_reads))
            needed |= outer_reads
        rev.reverse()
        # Outer tensors: drop after the last item that reads them (outputs are handed out).
        last_item: dict[str, int] = {}
        for k, (_, _, reads) in enumerate(rev):
            for t in reads:
                last_item[t] = k
        drops = [[] for _ in rev]
        for t, k in last_item.items():
            drops[k].append(t)
        sched.items = [(kind, data, tuple(d)) for (kind, data, _), d in zip(rev, drops)]
        self._schedules[n_out] = sched
        return sched

    # Running ----------------------------------------------------------------------------------

    def _inputs(self, x: Any) -> dict[str, np.ndarray]:
        g = self.graph
        if isinstance(x, Mapping):
            feeds = dict(x)
        else:
            if len(g.inputs) != 1:
                raise MpsimError(f"graph '{g.name}' has {len(g.inputs)} inputs: pass a dict name -> array")
            feeds = {g.inputs[0]: x}
        env = {}
        for name in g.inputs:
            if name not in feeds:
                raise MpsimError(f"graph '{g.name}': no value given for input '{name}'")
            arr = np.asarray(feeds[name])
            want = tuple(g.tensors[name].shape)
            if tuple(arr.shape) != want:
                raise MpsimError(f"input '{name}' has shape {list(arr.shape)}, graph '{g.name}' expects {list(want)}")
            arr = _c(arr)
            if self._hook:
                arr = _c(np.asarray(self.numerics.activation(None, name, arr), dtype=F32))
            env[name] = arr
        return env

    def _n_outputs(self, iterations: int | None) -> int:
        total = len(self.graph.outputs)
        if iterations is None:
            return total
        if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) \
                or not 1 <= int(iterations) <= total:
            raise MpsimError(f"iterations must be an integer in 1..{total}, got {iterations!r}")
        return int(iterations)

    def stream(self, x: Any, iterations: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, array)`` for the anytime outputs m_1..m_n (n = ``iterations``, all
        by default) as soon as each is computed.  Until the generator is exhausted or closed,
        BLAS stays limited to one thread (see ``blas_controller``)."""
        sched = self._schedule(self._n_outputs(iterations))
        env = self._inputs(x)
        ctl = blas_controller()
        before = numba.get_num_threads()
        self._threads = before if ctl is not None else 1
        if self._threads != before:
            numba.set_num_threads(self._threads)
        try:
            with ctl.limit(limits=1, user_api="blas") if ctl is not None else nullcontext():
                yield from self._execute(sched, env)
        finally:
            if numba.get_num_threads() != before:
                numba.set_num_threads(before)

    def _execute(self, sched: _Schedule, env: dict) -> Iterator[tuple[int, np.ndarray]]:
        wanted = sched.wanted
        for t in [t for t in wanted if t in env]:
            for idx in wanted[t]:
                yield idx, env[t]
        for kind, data, drops in sched.items:
            if kind == "step":
                step: _Step = data
                outs = self._call(step, [env[t] for t in step.inputs], 0)
                for t, v in zip(step.outputs, outs):
                    env[t] = v
                    if t in wanted:
                        for idx in wanted[t]:
                            yield idx, v
            else:
                lp, iters = data
                yield from self._run_loop(lp, iters, env, wanted)
            for t in drops:
                env.pop(t, None)

    def _run_loop(self, lp: _LoopPlan, iters: list[_IterPlan], env: dict, wanted: dict) -> Iterator:
        body: dict[str, np.ndarray] = {}
        for c in lp.loop.carried:
            if c.init in env:
                body[c.body_input] = env[c.init]
        for i, ip in enumerate(iters):
            for step, dead in ip.steps:
                args = [body[t] if t in body else env[t] for t in step.inputs]
                outs = self._call(step, args, i)
                for t, v in zip(step.outputs, outs):
                    body[t] = v
                    name = f"{t}@{i}"
                    if name in wanted:
                        for idx in wanted[name]:
                            yield idx, v
                for t in dead:
                    body.pop(t, None)
            for t in ip.exports:
                env[f"{t}@{i}"] = body[t]
            body = {c.body_input: body[c.body_output] for c in ip.carry}

    def run(self, x: Any, iterations: int | None = None) -> list[np.ndarray]:
        """The anytime outputs m_1..m_n in index order (n = ``iterations``, all by default)."""
        got = dict(self.stream(x, iterations))
        return [got[i] for i in sorted(got)]


def run_graph(graph: Graph, weights: Mapping[str, np.ndarray], x: Any, *, iterations: int | None = None,
              numerics: Any = None) -> list[np.ndarray]:
    """Run ``graph`` on ``x`` (an array for a one-input graph, or a dict name -> array); return
    every output in index order, or only m_1..m_n with ``iterations=n`` (early exit)."""
    return Executor(graph, weights, numerics=numerics).run(x, iterations=iterations)


# Op factories ----------------------------------------------------------------------------------
# Each takes (executor, node) and returns fn(args, iteration) -> list of output arrays.

def _out_shape(ex: Executor, node: Node, k: int = 0) -> tuple[int, ...]:
    return tuple(ex.graph.tensors[node.outputs[k]].shape)


def _pick(ws: list, it: int):
    return ws[it] if len(ws) > 1 else ws[0]


def _conv2d(ex: Executor, node: Node, act=(K.ACT_NONE, 0.0, 0.0), residual: bool = False) -> Fn:
    a = node.attrs
    (sh, sw), (ph, pw), (dh, dw) = (_pair(a[k]) for k in ("stride", "padding", "dilation"))
    groups = int(a["groups"])
    n_, cout, oh, ow = _out_shape(ex, node)
    wshape = ex.graph.param_shape(node.params["weight"])
    _, cpg, kh, kw = wshape
    cin = cpg * groups
    opg = cout // groups
    code, lo, hi = act
    ws = ex.param(node, "weight")
    bs = ex.param(node, "bias") or [np.zeros(cout, F32)]
    if len(bs) == 1 and len(ws) > 1:
        bs = bs * len(ws)
    if groups > 1 and cpg < 16:
        def fn(args, it):
            x = args[0]
            out = K.conv_direct(x, _pick(ws, it), _pick(bs, it), sh, sw, ph, pw, dh, dw, groups, oh, ow,
                                code, lo, hi)
            if residual:
                out = K.binary_same(args[1].reshape(-1), out.reshape(-1), 0).reshape(out.shape)
            return [out]
        return fn

    w2s = [w.reshape(cout, cpg * kh * kw) for w in ws]
    pointwise = kh == 1 and kw == 1 and ph == 0 and pw == 0 and groups == 1
    P = oh * ow

    def fn(args, it):  # noqa: F811
        x = args[0]
        w2, b = _pick(w2s, it), _pick(bs, it)
        out = np.empty((n_, cout, oh, ow), F32)
        for n in range(n_):
            o2 = out[n].reshape(cout, P)
            if pointwise:
                xn = x[n]
                if sh != 1 or sw != 1:
                    xn = K.subsample(xn, sh, sw, oh, ow)
                np.dot(w2, xn.reshape(cin, P), out=o2)
            else:
                col = ex.workspace(cpg * kh * kw * P).reshape(cpg * kh * kw, P)
                for gi in range(groups):
                    K.im2col(x[n], gi * cpg, (gi + 1) * cpg, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, col)
                    np.dot(w2[gi * opg:(gi + 1) * opg], col, out=o2[gi * opg:(gi + 1) * opg])
            res = args[1][n].reshape(cout, P) if residual else _DUMMY
            K.epilogue_rows(o2, b, code, lo, hi, res, residual)
        return [out]

    return fn


def _conv_transpose2d(ex: Executor, node: Node) -> Fn:
    """Per image and group one BLAS product ``W_g^T (Cout_g*kh*kw x Cin_g) @ X_g (Cin_g x HW)``,
    then ``col2im`` adds the columns into the output (bias first)."""
    a = node.attrs
    (sh, sw), (ph, pw), (dh, dw) = (_pair(a[k]) for k in ("stride", "padding", "dilation"))
    groups = int(a["groups"])
    n_, cout, oh, ow = _out_shape(ex, node)
    _, cin, H, W = ex.graph.tensors[node.inputs[0]].shape
    _, coutg, kh, kw = ex.graph.param_shape(node.params["weight"])
    cing = cin // groups
    rows = coutg * kh * kw
    wts = ex.param(node, "weight", lambda w: np.ascontiguousarray(
        w.reshape(groups, cing, rows).transpose(0, 2, 1)))
    bs = ex.param(node, "bias") or [np.zeros(cout, F32)]

    def fn(args, it):
        x = args[0]
        wt, b = _pick(wts, it), _pick(bs, it)
        out = np.empty((n_, cout, oh, ow), F32)
        col = ex.workspace(rows * H * W).reshape(rows, H * W)
        for n in range(n_):
            xn = x[n].reshape(groups, cing, H * W)
            for gi in range(groups):
                np.dot(wt[gi], xn[gi], out=col)
                lo, hi = gi * coutg, (gi + 1) * coutg
                K.col2im(col, coutg, kh, kw, sh, sw, ph, pw, dh, dw, H, W, oh, ow, b[lo:hi], out[n, lo:hi])
        return [out]

    return fn


def _matmul(ex: Executor, node: Node) -> Fn:
    def fn(args, it):
        return [_c(np.matmul(args[0], args[1]))]

    return fn


def _linear(ex: Executor, node: Node) -> Fn:
    ws = ex.param(node, "weight")
    bs = ex.param(node, "bias")
    shape = _out_shape(ex, node)

    def fn(args, it):
        x = args[0]
        w = _pick(ws, it)
        out = np.dot(x.reshape(-1, w.shape[1]), w.T)
        if bs is not None:
            K.bias_cols(out, _pick(bs, it))
        return [out.reshape(shape)]

    return fn


def _channel_geometry(shape: tuple[int, ...]) -> tuple[int, int]:
    c = shape[1] if len(shape) >= 2 else 1
    p = int(np.prod(shape[2:], dtype=np.int64)) if len(shape) > 2 else 1
    return c, p


def _batch_norm(ex: Executor, node: Node) -> Fn:
    scales, shifts = ex.param(node, "scale"), ex.param(node, "shift")
    shape = _out_shape(ex, node)
    _, p = _channel_geometry(shape)

    def fn(args, it):
        return [K.channel_affine(args[0].reshape(-1), _pick(scales, it), _pick(shifts, it), p).reshape(shape)]

    return fn


def _prelu(ex: Executor, node: Node) -> Fn:
    ws = ex.param(node, "weight")
    shape = _out_shape(ex, node)
    c, p = _channel_geometry(shape)

    def fn(args, it):
        return [K.prelu(args[0].reshape(-1), _pick(ws, it), c, p).reshape(shape)]

    return fn


def _activation(ex: Executor, node: Node) -> Fn:
    code, lo, hi = _act_of(node)

    def fn(args, it):
        x = args[0]
        return [K.unary(x.reshape(-1), code, lo, hi).reshape(x.shape)]

    return fn


_UFUNCS = {K.OP_ADD: np.add, K.OP_MUL: np.multiply, K.OP_SUB: np.subtract, K.OP_DIV: np.divide}


def _binary(opcode: int) -> Callable[[Executor, Node], Fn]:
    def factory(ex: Executor, node: Node) -> Fn:
        shape = _out_shape(ex, node)
        reverse = bool(node.attrs.get("reverse", False))
        others = ex.param(node, "other")
        if len(node.inputs) == 1 and others is None:
            s = float(node.attrs["scalar"])

            def fn(args, it):
                return [K.scalar_op(args[0].reshape(-1), s, opcode, reverse).reshape(shape)]
            return fn
        sa = tuple(ex.graph.tensors[node.inputs[0]].shape)
        sb = tuple(ex.graph.tensors[node.inputs[1]].shape) if others is None else tuple(others[0].shape)
        pair = _pairwise(opcode, sa, sb, shape)
        if others is None:
            return lambda args, it: [pair(args[0], args[1])]
        if reverse:
            pair_r = _pairwise(opcode, sb, sa, shape)
            return lambda args, it: [pair_r(_pick(others, it), args[0])]
        return lambda args, it: [pair(args[0], _pick(others, it))]

    return factory


def _pairwise(opcode: int, sa: tuple, sb: tuple, shape: tuple) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``a op b`` for operands of shapes ``sa`` and ``sb`` broadcasting to ``shape``."""
    if sa == sb:
        return lambda a, b: K.binary_same(a.reshape(-1), b.reshape(-1), opcode).reshape(shape)
    if len(shape) <= 4:
        pad = (1,) * (4 - len(shape))
        s4 = pad + shape
        a4 = pad + (1,) * (len(shape) - len(sa)) + sa
        b4 = pad + (1,) * (len(shape) - len(sb)) + sb

        def fn(a, b):
            return K.binary_bcast4(np.broadcast_to(a.reshape(a4), s4), np.broadcast_to(b.reshape(b4), s4),
                                   opcode).reshape(shape)
        return fn
    ufunc = _UFUNCS[opcode]
    return lambda a, b: _c(ufunc(a, b))  # rank > 4: NumPy's broadcasting loop


def _cat(ex: Executor, node: Node) -> Fn:
    axis = int(node.attrs["axis"])

    def fn(args, it):
        return [np.concatenate(args, axis=axis)]

    return fn


def _split(ex: Executor, node: Node) -> Fn:
    rank = len(ex.graph.tensors[node.inputs[0]].shape)
    axis = int(node.attrs["axis"]) % rank
    bounds = np.cumsum([int(s) for s in node.attrs["sizes"]])[:-1].tolist()

    def fn(args, it):
        return [np.ascontiguousarray(p) for p in np.split(args[0], bounds, axis=axis)]

    return fn


def _reshape(ex: Executor, node: Node) -> Fn:
    shape = tuple(int(s) for s in node.attrs["shape"])

    def fn(args, it):
        return [args[0].reshape(shape)]

    return fn


def _permute(ex: Executor, node: Node) -> Fn:
    dims = tuple(int(d) for d in node.attrs["dims"])

    def fn(args, it):
        return [np.ascontiguousarray(args[0].transpose(dims))]

    return fn


def _pool(ex: Executor, node: Node) -> Fn:
    a = node.attrs
    (kh, kw), (sh, sw), (ph, pw) = _pair(a["kernel"]), _pair(a["stride"]), _pair(a["padding"])
    _, _, oh, ow = _out_shape(ex, node)
    if node.op == "max_pool2d" and a.get("indices"):
        dh, dw = _pair(a.get("dilation", 1))

        def fn(args, it):
            return list(K.max_pool2d_indices(args[0], kh, kw, sh, sw, ph, pw, dh, dw, oh, ow))
        return fn
    if node.op == "max_pool2d":
        dh, dw = _pair(a.get("dilation", 1))

        def fn(args, it):
            return [K.max_pool2d(args[0], kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)]
        return fn
    include = bool(a.get("count_include_pad", True))

    def fn(args, it):  # noqa: F811
        return [K.avg_pool2d(args[0], kh, kw, sh, sw, ph, pw, oh, ow, include)]
    return fn


def _max_unpool2d(ex: Executor, node: Node) -> Fn:
    _, _, oh, ow = _out_shape(ex, node)

    def fn(args, it):
        x, idx = args
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= oh * ow):
            raise MpsimError(f"node '{node.name}' (max_unpool2d): an index lies outside the {oh}x{ow} output")
        return [K.max_unpool2d(x, np.ascontiguousarray(idx, dtype=np.int64), oh, ow)]

    return fn


_NUMPY_PAD = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pad(ex: Executor, node: Node) -> Fn:
    """Negative amounts crop (PyTorch's constant padding allows them), the rest np.pad."""
    pads = [(int(lo), int(hi)) for lo, hi in node.attrs["pads"]]
    in_shape = ex.graph.tensors[node.inputs[0]].shape
    crop = tuple(slice(max(-lo, 0), d - max(-hi, 0)) for (lo, hi), d in zip(pads, in_shape))
    grow = [(max(lo, 0), max(hi, 0)) for lo, hi in pads]
    mode = _NUMPY_PAD[node.attrs.get("mode", "constant")]
    extra = {"constant_values": F32(node.attrs.get("value", 0.0) or 0.0)} if mode == "constant" else {}

    def fn(args, it):
        return [_c(np.pad(args[0][crop], grow, mode=mode, **extra))]

    return fn


def _slice(ex: Executor, node: Node) -> Fn:
    rank = len(ex.graph.tensors[node.inputs[0]].shape)
    axis = int(node.attrs["axis"]) % rank
    index = tuple(slice(int(node.attrs["start"]), int(node.attrs["end"]), int(node.attrs.get("step", 1)))
                  if d == axis else slice(None) for d in range(rank))

    def fn(args, it):
        return [np.ascontiguousarray(args[0][index])]

    return fn


def _expand(ex: Executor, node: Node) -> Fn:
    shape = _out_shape(ex, node)

    def fn(args, it):
        return [np.ascontiguousarray(np.broadcast_to(args[0], shape))]

    return fn


def _layer_norm(ex: Executor, node: Node) -> Fn:
    shape = tuple(ex.graph.tensors[node.inputs[0]].shape)
    axis = int(node.attrs["axis"]) % len(shape)
    length = int(np.prod(shape[axis:], dtype=np.int64))
    eps = float(node.attrs["eps"])
    ws = [w.reshape(-1) for w in ex.param(node, "weight") or [np.zeros(1, F32)]]
    bs = [b.reshape(-1) for b in ex.param(node, "bias") or [np.zeros(1, F32)]]
    has_w, has_b = "weight" in node.params, "bias" in node.params

    def fn(args, it):
        y = K.layer_norm_rows(args[0].reshape(-1, length), eps, _pick(ws, it), _pick(bs, it), has_w, has_b)
        return [y.reshape(shape)]

    return fn


def _group_norm(ex: Executor, node: Node) -> Fn:
    shape = tuple(ex.graph.tensors[node.inputs[0]].shape)
    c, p = _channel_geometry(shape)
    groups, eps = int(node.attrs["groups"]), float(node.attrs["eps"])
    ws = ex.param(node, "weight") or [np.zeros(1, F32)]
    bs = ex.param(node, "bias") or [np.zeros(1, F32)]
    has_w, has_b = "weight" in node.params, "bias" in node.params

    def fn(args, it):
        y = K.group_norm(args[0].reshape(shape[0], c, p), groups, eps, _pick(ws, it), _pick(bs, it), has_w, has_b)
        return [y.reshape(shape)]

    return fn


def _adaptive_avg(ex: Executor, node: Node) -> Fn:
    _, _, oh, ow = _out_shape(ex, node)

    def fn(args, it):
        return [K.adaptive_avg_pool2d(args[0], oh, ow)]

    return fn


def _scale_f32(in_size: int, out_size: int, scale: float | None) -> np.float32:
    """PyTorch's compute_scales_value in float: 1/scale when a positive scale was given."""
    if scale is not None and scale > 0:
        return F32(1.0 / scale)
    return F32(in_size) / F32(out_size)


def nearest_indices(in_size: int, out_size: int, scale: float | None) -> np.ndarray:
    """Source index per output position of PyTorch's 'nearest' (floor(dst * in/out), float32)."""
    dst = np.arange(out_size, dtype=np.int64)
    if out_size == in_size:
        return dst
    if out_size == 2 * in_size:
        return dst >> 1
    s = _scale_f32(in_size, out_size, scale)
    src = np.floor(dst.astype(F32) * s).astype(np.int64)
    return np.minimum(src, in_size - 1)


def linear_indices(in_size: int, out_size: int, align_corners: bool, scale: float | None):
    """(i0, i1, lambda0, lambda1) per output position of PyTorch's bilinear interpolation."""
    dst = np.arange(out_size, dtype=np.int64)
    if out_size == in_size:
        return dst, dst.copy(), np.ones(out_size, F32), np.zeros(out_size, F32)
    if align_corners:
        ratio = F32(in_size - 1) / F32(out_size - 1) if out_size > 1 else F32(0)
        src = ratio * dst.astype(F32)
    else:
        ratio = _scale_f32(in_size, out_size, scale)
        src = ratio * (dst.astype(F32) + F32(0.5)) - F32(0.5)
        src = np.where(src < 0, F32(0), src).astype(F32)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    lam1 = np.clip(src - i0.astype(F32), F32(0), F32(1)).astype(F32)
    i1 = i0 + (i0 < in_size - 1)
    lam0 = (F32(1) - lam1).astype(F32)
    return i0, i1.astype(np.int64), lam0, lam1


def _interpolate(ex: Executor, node: Node) -> Fn:
    a = node.attrs
    _, _, H, W = ex.graph.tensors[node.inputs[0]].shape
    _, _, oh, ow = _out_shape(ex, node)
    scales = a.get("scales") or None
    sh, sw = (None, None) if scales is None else _pair_f(scales)
    if a["mode"] == "nearest":
        hi, wi = nearest_indices(H, oh, sh), nearest_indices(W, ow, sw)

        def fn(args, it):
            return [K.nearest(args[0], hi, wi)]
        return fn
    align = bool(a["align_corners"])
    th = linear_indices(H, oh, align, sh)
    tw = linear_indices(W, ow, align, sw)

    def fn(args, it):  # noqa: F811
        return [K.bilinear(args[0], th[0], th[1], th[2], th[3], tw[0], tw[1], tw[2], tw[3])]
    return fn


def _pair_f(v: Any) -> tuple[float | None, float | None]:
    vals = [None if s is None else float(s) for s in v]
    return (vals[0], vals[0]) if len(vals) == 1 else (vals[0], vals[1])


def _softmax(ex: Executor, node: Node) -> Fn:
    shape = _out_shape(ex, node)
    axis = int(node.attrs["axis"]) % len(shape)
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))

    def fn(args, it):
        return [K.softmax_mid(args[0].reshape(outer, shape[axis], inner)).reshape(shape)]

    return fn


def _reduce(ex: Executor, node: Node) -> Fn:
    in_shape = tuple(ex.graph.tensors[node.inputs[0]].shape)
    rank = len(in_shape)
    axes = sorted({int(d) % rank for d in node.attrs["axes"]})
    keep = [d for d in range(rank) if d not in axes]
    order = tuple(keep + axes)
    rows = int(np.prod([in_shape[d] for d in keep], dtype=np.int64))
    length = int(np.prod([in_shape[d] for d in axes], dtype=np.int64))
    shape = _out_shape(ex, node)

    rows_kernel = K.sum_rows if node.op == "sum" else K.mean_rows

    def fn(args, it):
        x = np.ascontiguousarray(args[0].transpose(order)).reshape(rows, length)
        return [rows_kernel(x).reshape(shape)]

    return fn


_FACTORIES: dict[str, Callable[[Executor, Node], Fn]] = {
    "conv2d": lambda ex, n: _conv2d(ex, n),
    "conv_transpose2d": _conv_transpose2d,
    "linear": _linear,
    "matmul": _matmul,
    "batch_norm": _batch_norm,
    "layer_norm": _layer_norm,
    "group_norm": _group_norm,
    "prelu": _prelu,
    **{op: _activation for op in _ACT_OPS},
    "add": _binary(K.OP_ADD),
    "sub": _binary(K.OP_SUB),
    "mul": _binary(K.OP_MUL),
    "div": _binary(K.OP_DIV),
    "cat": _cat,
    "split": _split,
    "reshape": _reshape,
    "permute": _permute,
    "expand": _expand,
    "slice": _slice,
    "pad": _pad,
    "max_pool2d": _pool,
    "avg_pool2d": _pool,
    "max_unpool2d": _max_unpool2d,
    "adaptive_avg_pool2d": _adaptive_avg,
    "interpolate": _interpolate,
    "softmax": _softmax,
    "mean": _reduce,
    "sum": _reduce,
}

assert set(_FACTORIES) == set(OPS), "every op of mpsim.ir.ops needs an executor kernel"
