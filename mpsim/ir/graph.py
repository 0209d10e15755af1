"""The intermediate graph: typed, frozen dataclasses shared by every stage of mpsim.

A graph is stored *folded*: a weight-shared block appears once, inside a ``Loop`` that fires
``trip_count`` times per frame.  Inside a loop body, tensor names refer to the current
iteration; outside, ``"t@i"`` names body tensor ``t`` of iteration ``i`` (0-based).  The
unrolled view (``mpsim.ir.loops.unroll``) uses exactly those names, so a reference means the
same thing in both views.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

DTYPE_BYTES: Mapping[str, int] = MappingProxyType(
    {"float32": 4, "float16": 2, "bfloat16": 2, "int32": 4, "int16": 2, "int8": 1, "int64": 8, "bool": 1}
)

ITER_SEP = "@"


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


def iter_name(name: str, iteration: int) -> str:
    """Name of body tensor or node ``name`` at ``iteration`` in the unrolled view."""
    return f"{name}{ITER_SEP}{iteration}"


def split_iter_name(name: str) -> tuple[str, int | None]:
    """Inverse of ``iter_name``: ``"t@3"`` -> ``("t", 3)``; plain names give ``(name, None)``."""
    base, sep, idx = name.rpartition(ITER_SEP)
    if sep and idx.isascii() and idx.isdigit() and len(idx) <= 18:
        return base, int(idx)
    return name, None


@dataclass(frozen=True)
class TensorSpec:
    shape: tuple[int, ...]
    dtype: str = "float32"

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.numel * DTYPE_BYTES[self.dtype]


@dataclass(frozen=True)
class Node:
    """One operator.  ``params`` maps a role (``weight``, ``bias``...) to a weight name or,
    inside a loop, to a weight-group name whose i-th member serves iteration i."""

    name: str
    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    macs: int = 0
    param_count: int = 0
    module: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        object.__setattr__(self, "attrs", _frozen(self.attrs))
        object.__setattr__(self, "params", _frozen(self.params))


@dataclass(frozen=True)
class Carried:
    """Loop-carried state: iteration 0 reads ``init``; iteration i > 0 reads the previous
    iteration's ``body_output``.  Body nodes read it under the name ``body_input``."""

    init: str
    body_input: str
    body_output: str


@dataclass(frozen=True)
class Loop:
    name: str
    trip_count: int
    body: tuple[str, ...]
    carried: tuple[Carried, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "body", tuple(self.body))
        object.__setattr__(self, "carried", tuple(self.carried))


@dataclass(frozen=True)
class Output:
    """An anytime output m_index (1-based), read from ``tensor``."""

    index: int
    tensor: str


@dataclass(frozen=True)
class Graph:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[Output, ...]
    tensors: Mapping[str, TensorSpec]
    nodes: tuple[Node, ...]
    weights: Mapping[str, TensorSpec] = field(default_factory=dict)
    weight_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    loops: tuple[Loop, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        object.__setattr__(self, "nodes", tuple(self.nodes))
        object.__setattr__(self, "loops", tuple(self.loops))
        object.__setattr__(self, "tensors", _frozen(self.tensors))
        object.__setattr__(self, "weights", _frozen(self.weights))
        object.__setattr__(
            self, "weight_groups", _frozen({k: tuple(v) for k, v in dict(self.weight_groups).items()})
        )
        object.__setattr__(self, "meta", _frozen(self.meta))

    # Derived lookups (cached: the graph is immutable).
    @cached_property
    def node_by_name(self) -> Mapping[str, Node]:
        return MappingProxyType({n.name: n for n in self.nodes})

    @cached_property
    def producer(self) -> Mapping[str, str]:
        """Tensor name -> name of the node that writes it."""
        return MappingProxyType({t: n.name for n in self.nodes for t in n.outputs})

    @cached_property
    def consumers(self) -> Mapping[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {}
        for n in self.nodes:
            for t in n.inputs:
                out.setdefault(t, []).append(n.name)
        return MappingProxyType({k: tuple(v) for k, v in out.items()})

    @cached_property
    def loop_of(self) -> Mapping[str, str]:
        """Node name -> name of the loop whose body holds it."""
        return MappingProxyType({n: lp.name for lp in self.loops for n in lp.body})

    @property
    def is_folded(self) -> bool:
        return bool(self.loops)

    def param_names(self, node: Node, iteration: int | None = None) -> list[str]:
        """Weight names a node reads; for a group, member ``iteration`` or all members."""
        names: list[str] = []
        for ref in node.params.values():
            group = self.weight_groups.get(ref)
            if group is None:
                names.append(ref)
            elif iteration is None:
                names.extend(group)
            else:
                names.append(group[iteration])
        return names

    def param_shape(self, ref: str) -> tuple[int, ...]:
        """Shape of a weight or (one member of) a weight group."""
        group = self.weight_groups.get(ref)
        return self.weights[group[0] if group else ref].shape
