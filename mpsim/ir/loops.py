"""Fold weight sharing into loop regions, and unroll loops back into a flat graph.

``fold`` finds repetition from parameter identity alone: a weight read by N nodes at equal
distances in the node order marks N iterations of a period; the period's window is then
matched node by node.  Parameters that are the same weight in every iteration are shared;
parameters that differ (per-iteration batch norm, per-iteration classifiers) become weight
groups indexed by iteration.  ``unroll(fold(g))`` is ``g`` up to node and tensor names, and
``fold(unroll(f)) == f`` for folded graphs made by ``fold``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mpsim.ir.graph import Carried, Graph, Loop, Node, Output, iter_name, split_iter_name


# Unrolling ------------------------------------------------------------------------------------

def unroll(g: Graph) -> Graph:
    """Replace every loop by ``trip_count`` copies of its body (names ``x@i``)."""
    if not g.loops:
        return g
    loop_at = {lp.body[0]: lp for lp in g.loops}
    in_body = g.loop_of
    tensors = {k: v for k, v in g.tensors.items()}
    nodes: list[Node] = []
    for n in g.nodes:
        if n.name in in_body:
            if n.name in loop_at:
                nodes.extend(_unroll_loop(g, loop_at[n.name], tensors))
            continue
        nodes.append(n)
    for lp in g.loops:
        for c in lp.carried:
            tensors.pop(c.body_input, None)
        for name in lp.body:
            for t in g.node_by_name[name].outputs:
                tensors.pop(t, None)
    used = {w for n in nodes for w in n.params.values()}
    return Graph(
        name=g.name,
        inputs=g.inputs,
        outputs=g.outputs,
        tensors=tensors,
        nodes=tuple(nodes),
        weights={k: v for k, v in g.weights.items() if k in used},
        weight_groups={},
        loops=(),
        meta=g.meta,
    )


def _unroll_loop(g: Graph, lp: Loop, tensors: dict) -> list[Node]:
    body_tensors = {t for name in lp.body for t in g.node_by_name[name].outputs}
    carried = {c.body_input: c for c in lp.carried}
    out: list[Node] = []
    for i in range(lp.trip_count):
        for name in lp.body:
            n = g.node_by_name[name]

            def ref(t: str) -> str:
                if t in body_tensors:
                    return iter_name(t, i)
                c = carried.get(t)
                if c is not None:
                    return c.init if i == 0 else iter_name(c.body_output, i - 1)
                return t

            for t in n.outputs:
                tensors[iter_name(t, i)] = g.tensors[t]
            params = {r: (g.weight_groups[w][i] if w in g.weight_groups else w) for r, w in n.params.items()}
            out.append(
                Node(iter_name(n.name, i), n.op, tuple(ref(t) for t in n.inputs),
                     tuple(iter_name(t, i) for t in n.outputs), n.attrs, params, n.macs, n.param_count, n.module)
            )
    return out


# Folding --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Window:
    start: int
    period: int
    trips: int

    @property
    def end(self) -> int:
        return self.start + self.period * self.trips

    def locate(self, pos: int) -> tuple[int, int] | None:
        """Node position -> (iteration, offset) inside the window, or None."""
        if self.start <= pos < self.end:
            return divmod(pos - self.start, self.period)
        return None


def fold(g: Graph) -> Graph:
    """Fold repeated uses of the same weights into loop regions (see module docstring)."""
    if g.loops:
        return g
    windows: list[_Window] = []
    uses: dict[str, list[int]] = {}
    for pos, n in enumerate(g.nodes):
        for w in dict.fromkeys(n.params.values()):
            uses.setdefault(w, []).append(pos)
    for w, positions in uses.items():
        if len(positions) < 2 or any(win.locate(positions[0]) for win in windows):
            continue
        win = _find_window(g, positions, windows)
        if win is not None:
            windows.append(win)
    if not windows:
        return g
    return _build_folded(g, sorted(windows, key=lambda w: w.start))


def _find_window(g: Graph, positions: list[int], taken: list[_Window]) -> _Window | None:
    """The earliest window of the repetition that matches and overlaps no loop already found."""
    period = positions[1] - positions[0]
    trips = len(positions)
    if period <= 0 or any(b - a != period for a, b in zip(positions, positions[1:])):
        return None
    for start in range(max(0, positions[0] - period + 1), positions[0] + 1):
        win = _Window(start, period, trips)
        if any(win.start < o.end and o.start < win.end for o in taken):
            continue
        if win.end <= len(g.nodes) and _matches(g, win):
            return win
    return None


def _classify_input(g: Graph, win: _Window, position: dict, offset: int, slot: int):
    """How input ``slot`` of body node ``offset`` is wired across iterations, or None."""
    kinds = set()
    refs = []
    for i in range(win.trips):
        n = g.nodes[win.start + i * win.period + offset]
        t = n.inputs[slot]
        writer = g.producer.get(t)
        loc = win.locate(position[writer]) if writer is not None else None
        if loc is None:
            refs.append(("ext", t))
        else:
            it, off = loc
            wn = g.nodes[win.start + it * win.period + off]
            refs.append(("body", i - it, off, wn.outputs.index(t)))
    first = refs[0]
    if all(r == first for r in refs):
        return first  # same external tensor in every iteration, or same-iteration body tensor
    if first[0] == "ext" and win.trips > 1 and all(r[0] == "body" and r[1] == 1 for r in refs[1:]):
        if len({r[2:] for r in refs[1:]}) == 1:
            return ("carried", first[1]) + refs[1][2:]
    return None


def _matches(g: Graph, win: _Window) -> bool:
    position = {n.name: i for i, n in enumerate(g.nodes)}
    for off in range(win.period):
        base = g.nodes[win.start + off]
        group = [g.nodes[win.start + i * win.period + off] for i in range(win.trips)]
        for n in group[1:]:
            if (n.op, dict(n.attrs), len(n.inputs), tuple(n.params)) != (
                base.op, dict(base.attrs), len(base.inputs), tuple(base.params)):
                return False
            if [g.tensors[t] for t in n.outputs] != [g.tensors[t] for t in base.outputs]:
                return False
        for role in base.params:
            names = [n.params[role] for n in group]
            if len(set(names)) not in (1, win.trips):
                return False
            if len({g.weights[w] for w in names}) != 1:
                return False
        for slot in range(len(base.inputs)):
            kind = _classify_input(g, win, position, off, slot)
            if kind is None or (kind[0] == "body" and kind[1] != 0):
                return False
    # Body tensors must not be read by later iterations other than through carried state.
    return True


def _strip0(name: str) -> str:
    base, it = split_iter_name(name)
    return base if it == 0 else name


def _build_folded(g: Graph, windows: list[_Window]) -> Graph:
    position = {n.name: i for i, n in enumerate(g.nodes)}
    rename: dict[str, str] = {}  # unrolled tensor name -> folded reference
    nodes: list[Node] = []
    loops: list[Loop] = []
    groups: dict[str, tuple[str, ...]] = {}
    tensors = dict(g.tensors)
    win_of = {}
    for k, win in enumerate(windows):
        for pos in range(win.start, win.end):
            win_of[pos] = (k, win)

    # Body tensor names: iteration 0's name (minus an '@0' suffix); iteration i -> name@i.
    for k, win in enumerate(windows):
        for i in range(win.trips):
            for off in range(win.period):
                n, n0 = g.nodes[win.start + i * win.period + off], g.nodes[win.start + off]
                for t, t0 in zip(n.outputs, n0.outputs):
                    rename[t] = iter_name(_strip0(t0), i)
        for i in range(win.trips):
            for off in range(win.period):
                for t in g.nodes[win.start + i * win.period + off].outputs:
                    tensors.pop(t, None)
        for off in range(win.period):
            for t in g.nodes[win.start + off].outputs:
                tensors[_strip0(t)] = g.tensors[t]

    pos = 0
    while pos < len(g.nodes):
        if pos not in win_of:
            n = g.nodes[pos]
            nodes.append(_retarget(n, n.name, [rename.get(t, t) for t in n.inputs], n.outputs, n.params))
            pos += 1
            continue
        k, win = win_of[pos]
        lname = f"loop{k}"
        carried: dict[tuple, Carried] = {}
        body = []
        for off in range(win.period):
            n0 = g.nodes[win.start + off]
            ins = []
            for slot, t in enumerate(n0.inputs):
                kind = _classify_input(g, win, position, off, slot)
                if kind[0] == "ext":
                    ins.append(rename.get(t, t))
                elif kind[0] == "body":
                    ins.append(_strip0(t))
                else:
                    _, init, src_off, src_slot = kind
                    out_t = _strip0(g.nodes[win.start + src_off].outputs[src_slot])
                    key = (init, out_t)
                    if key not in carried:
                        body_in = f"{lname}.carry{len(carried)}"
                        carried[key] = Carried(rename.get(init, init), body_in, out_t)
                        tensors[body_in] = g.tensors[init]
                    ins.append(carried[key].body_input)
            params = {}
            for role, w in n0.params.items():
                names = tuple(g.nodes[win.start + i * win.period + off].params[role] for i in range(win.trips))
                if len(set(names)) == 1:
                    params[role] = w
                else:
                    gname = f"{lname}.{_strip0(n0.name)}.{role}"
                    groups[gname] = names
                    params[role] = gname
            name = _strip0(n0.name)
            body.append(name)
            nodes.append(_retarget(n0, name, ins, [_strip0(t) for t in n0.outputs], params))
        loops.append(Loop(lname, win.trips, tuple(body), tuple(carried.values())))
        pos = win.end

    outputs = tuple(Output(o.index, rename.get(o.tensor, o.tensor)) for o in g.outputs)
    return Graph(
        name=g.name,
        inputs=g.inputs,
        outputs=outputs,
        tensors=tensors,
        nodes=tuple(nodes),
        weights=g.weights,
        weight_groups=groups,
        loops=tuple(loops),
        meta=g.meta,
    )


def _retarget(n: Node, name, inputs, outputs, params) -> Node:
    return Node(name, n.op, tuple(inputs), tuple(outputs), n.attrs, params, n.macs, n.param_count, n.module)
