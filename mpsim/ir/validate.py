"""Check a graph against the format's rules; every failure is one line naming the culprit.

Sizes come first (``_check_sizes``): every later rule, and every later stage, may then count
elements, MACs and unrolled nodes without overflow or unbounded work (``mpsim.limits``).
"""

from __future__ import annotations

from mpsim.errors import GraphFormatError
from mpsim.ir.graph import Graph, split_iter_name
from mpsim.ir.ops import OPS, OpError, check_node
from mpsim.limits import (MAX_GRAPH_MACS, MAX_NODES, MAX_OUTPUTS, MAX_RANK, MAX_TENSOR_ELEMENTS, MAX_TRIP_COUNT,
                          MAX_UNROLLED_NODES)


def _fail(msg: str) -> None:
    raise GraphFormatError(msg)


def validate(g: Graph) -> None:
    """Raise ``GraphFormatError`` on the first broken rule; return quietly otherwise."""
    _check_sizes(g)
    _check_names(g)
    _check_weights(g)
    body_loop = {}  # node name -> Loop
    names = [n.name for n in g.nodes]
    position = {n: i for i, n in enumerate(names)}
    for lp in g.loops:
        _check_loop_shape(g, lp, names, position)
        for n in lp.body:
            body_loop[n] = lp
    _check_order_and_refs(g, body_loop)
    _check_ops(g)
    _check_outputs(g, body_loop)


def _check_spec(what: str, name: str, shape) -> None:
    if len(shape) > MAX_RANK:
        _fail(f"{what} '{name}' has rank {len(shape)}, more than the limit of {MAX_RANK}")
    numel = 1
    for d in shape:
        if d <= 0:
            _fail(f"{what} '{name}' has a non-positive dimension {list(shape)}")
        if d > MAX_TENSOR_ELEMENTS:
            _fail(f"{what} '{name}' has dimension {d} in {list(shape)} (allowed: 1..{MAX_TENSOR_ELEMENTS:,})")
        numel *= d
    if numel > MAX_TENSOR_ELEMENTS:
        _fail(f"{what} '{name}' {list(shape)} has {numel:.3g} elements, more than the limit of "
              f"{MAX_TENSOR_ELEMENTS:,}")


def _check_sizes(g: Graph) -> None:
    """The limits that bound what later stages do with the graph (mpsim.limits, docs/limits.md)."""
    if len(g.nodes) > MAX_NODES:
        _fail(f"the graph has {len(g.nodes):,} nodes, more than the limit of {MAX_NODES:,}")
    if len(g.outputs) > MAX_OUTPUTS:
        _fail(f"the graph has {len(g.outputs):,} outputs, more than the limit of {MAX_OUTPUTS:,}")
    for t, spec in g.tensors.items():
        _check_spec("tensor", t, spec.shape)
    for w, spec in g.weights.items():
        _check_spec("weight", w, spec.shape)
    unrolled = len(g.nodes)
    trips: dict[str, int] = {}
    for lp in g.loops:
        if not 1 <= lp.trip_count <= MAX_TRIP_COUNT:
            _fail(f"loop '{lp.name}' has trip count {lp.trip_count} (allowed: 1..{MAX_TRIP_COUNT:,})")
        unrolled += len(lp.body) * (lp.trip_count - 1)
        trips.update((n, lp.trip_count) for n in lp.body)
    if unrolled > MAX_UNROLLED_NODES:
        _fail(f"unrolled, the graph has {unrolled:,} nodes, more than the limit of {MAX_UNROLLED_NODES:,} "
              "(loop bodies x trip counts)")
    macs = sum(max(0, n.macs) * trips.get(n.name, 1) for n in g.nodes)
    if macs > MAX_GRAPH_MACS:
        _fail(f"the graph declares {macs:.3g} MACs per frame, more than the limit of {MAX_GRAPH_MACS:.3g}")


def _check_names(g: Graph) -> None:
    seen: set[str] = set()
    for n in g.nodes:
        if n.name in seen:
            _fail(f"node name '{n.name}' is used twice")
        seen.add(n.name)
    written: dict[str, str] = {}
    for n in g.nodes:
        for t in n.outputs:
            if t in written:
                _fail(f"tensor '{t}' is written by both '{written[t]}' and '{n.name}'")
            if t not in g.tensors:
                _fail(f"node '{n.name}' writes tensor '{t}' that is not declared in 'tensors'")
            written[t] = n.name
    for t in g.inputs:
        if t not in g.tensors:
            _fail(f"graph input '{t}' is not declared in 'tensors'")
        if t in written:
            _fail(f"graph input '{t}' is also written by node '{written[t]}'")


def _check_weights(g: Graph) -> None:
    for name, members in g.weight_groups.items():
        if name in g.weights:
            _fail(f"weight group '{name}' has the name of a weight")
        for m in members:
            if m not in g.weights:
                _fail(f"weight group '{name}' names unknown weight '{m}'")
        shapes = {g.weights[m].shape for m in members}
        if len(shapes) > 1:
            _fail(f"weight group '{name}' mixes shapes {sorted(list(s) for s in shapes)}")
    for n in g.nodes:
        for role, ref in n.params.items():
            if ref not in g.weights and ref not in g.weight_groups:
                _fail(f"node '{n.name}' parameter '{role}' names unknown weight '{ref}'")


def _check_loop_shape(g: Graph, lp, names: list[str], position: dict[str, int]) -> None:
    start = position.get(lp.body[0], -2) if lp.body else -1
    if start == -2:
        _fail(f"loop '{lp.name}' names unknown node '{lp.body[0]}'")
    if start < 0 or tuple(names[start : start + len(lp.body)]) != lp.body:
        _fail(f"loop '{lp.name}' body must list existing nodes in their graph order, contiguously")
    for n in lp.body:
        for ref in g.node_by_name[n].params.values():
            group = g.weight_groups.get(ref)
            if group is not None and len(group) != lp.trip_count:
                _fail(f"weight group '{ref}' has {len(group)} members, loop '{lp.name}' runs {lp.trip_count} times")
    for c in lp.carried:
        for t in (c.init, c.body_input, c.body_output):
            base, _ = split_iter_name(t)
            if t not in g.tensors and (t != c.init or base not in g.tensors):
                _fail(f"loop '{lp.name}' carried tensor '{t}' is not declared")
        if c.body_input in g.producer:
            _fail(f"loop '{lp.name}' carried input '{c.body_input}' must not be written by a node")
        if g.producer.get(c.body_output) not in lp.body:
            _fail(f"loop '{lp.name}' carried output '{c.body_output}' is not written inside the loop")
        a, b = g.tensors[c.body_input], g.tensors[c.body_output]
        if a != b:
            _fail(f"loop '{lp.name}' carries '{c.body_output}' {list(b.shape)} into '{c.body_input}' {list(a.shape)}")


def _check_order_and_refs(g: Graph, body_loop) -> None:
    """Nodes must be in topological order; a later writer means a cycle or a misordered file."""
    position = {n.name: i for i, n in enumerate(g.nodes)}
    carried_in = {c.body_input: lp for lp in g.loops for c in lp.carried}
    for lp in g.loops:
        first = position[lp.body[0]]
        for c in lp.carried:
            if not _available_before(g, c.init, first, position, body_loop, None):
                _fail(f"loop '{lp.name}' initial state '{c.init}' is not computed before the loop")
    for i, n in enumerate(g.nodes):
        lp = body_loop.get(n.name)
        for t in n.inputs:
            if t in carried_in:
                if carried_in[t] is not lp:
                    _fail(f"node '{n.name}' reads carried state '{t}' of loop '{carried_in[t].name}' from outside it")
                continue
            if not _available_before(g, t, i, position, body_loop, lp):
                writer = g.producer.get(t)
                if writer is None and split_iter_name(t)[0] not in g.producer:
                    _fail(f"node '{n.name}' reads tensor '{t}' that nothing writes (dangling)")
                cyc = _find_cycle(g, body_loop)
                if cyc:
                    _fail(f"cycle outside a loop region: {' -> '.join(cyc)}")
                _fail(f"node '{n.name}' reads '{t}' before it is written (nodes must be in topological order)")


def _available_before(g: Graph, t: str, pos: int, position, body_loop, lp) -> bool:
    if t in g.inputs:
        return True
    writer = g.producer.get(t)
    if writer is not None:
        wl = body_loop.get(writer)
        if wl is not None and wl is not lp:
            return False  # a body tensor seen from outside needs an '@i' suffix
        return position[writer] < pos
    base, it = split_iter_name(t)
    writer = g.producer.get(base)
    if it is None or writer is None:
        return False
    wl = body_loop.get(writer)
    if wl is None or wl is lp or it >= wl.trip_count:
        return False
    return position[wl.body[-1]] < pos


def _find_cycle(g: Graph, body_loop) -> list[str]:
    """Node names along one dependency cycle (loop feedback excluded), or [] if none."""
    deps: dict[str, list[str]] = {}
    for n in g.nodes:
        ds = []
        for t in n.inputs:
            w = g.producer.get(t) or g.producer.get(split_iter_name(t)[0])
            if w is not None:
                ds.append(w)
        deps[n.name] = ds
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in deps:
        if root in state:
            continue
        path: list[str] = [root]
        todo = [iter(deps[root])]  # depth-first without recursion: a long chain must not overflow
        state[root] = 1
        while todo:
            v = next(todo[-1], None)
            if v is None:
                state[path.pop()] = 2
                todo.pop()
            elif state.get(v) == 1:
                return list(reversed(path[path.index(v):] + [v]))
            elif v not in state:
                state[v] = 1
                path.append(v)
                todo.append(iter(deps[v]))
    return []


def _spec(g: Graph, t: str):
    spec = g.tensors.get(t)
    if spec is None:
        spec = g.tensors[split_iter_name(t)[0]]
    return spec


def _check_ops(g: Graph) -> None:
    for n in g.nodes:
        if n.op not in OPS:
            _fail(f"node '{n.name}' has unknown op '{n.op}'")
        in_shapes = [_spec(g, t).shape for t in n.inputs]
        params = {role: g.param_shape(ref) for role, ref in n.params.items()}
        try:
            outs, macs = check_node(n.op, in_shapes, n.attrs, params)
        except OpError as exc:
            _fail(f"node '{n.name}' ({n.op}): {exc}")
        if len(outs) != len(n.outputs):
            _fail(f"node '{n.name}' ({n.op}) writes {len(n.outputs)} tensors, the op makes {len(outs)}")
        for t, shape in zip(n.outputs, outs):
            if tuple(g.tensors[t].shape) != tuple(shape):
                _fail(f"shape mismatch at node '{n.name}' ({n.op}): '{t}' is declared "
                      f"{list(g.tensors[t].shape)}, the op gives {list(shape)}")
        if n.macs != macs:
            _fail(f"node '{n.name}' ({n.op}) declares {n.macs} MACs, its shapes give {macs}")
        count = sum(_numel(s) for s in params.values())
        if n.param_count != count:
            _fail(f"node '{n.name}' ({n.op}) declares {n.param_count} parameters, its weights hold {count}")


def _numel(shape) -> int:
    out = 1
    for d in shape:
        out *= int(d)
    return out


def _check_outputs(g: Graph, body_loop) -> None:
    if not g.outputs:
        _fail("the graph has no outputs")
    end = len(g.nodes)
    position = {n.name: i for i, n in enumerate(g.nodes)}
    indices = [o.index for o in g.outputs]
    if sorted(indices) != list(range(1, len(indices) + 1)):
        _fail(f"output indices must be 1..{len(indices)}, got {indices}")
    for o in g.outputs:
        if not _available_before(g, o.tensor, end, position, body_loop, None):
            _fail(f"output m_{o.index} reads tensor '{o.tensor}' that nothing writes (dangling)")
