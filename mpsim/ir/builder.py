"""Build flat (unrolled) graphs op by op, with shapes, MACs and parameter counts inferred.

Used by the exporter, the model zoo of the tests and hand-written graphs alike, so that
every graph comes out of the same shape rules.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from mpsim.ir.graph import Graph, Node, Output, TensorSpec
from mpsim.ir.ops import check_node, index_outputs


class GraphBuilder:
    def __init__(self, name: str, meta: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.meta = dict(meta or {})
        self.tensors: dict[str, TensorSpec] = {}
        self.weights: dict[str, TensorSpec] = {}
        self.nodes: list[Node] = []
        self.inputs: list[str] = []
        self.outputs: list[Output] = []
        self._counts: dict[str, int] = {}

    def _fresh(self, base: str) -> str:
        k = self._counts.get(base, 0)
        self._counts[base] = k + 1
        name = base if k == 0 else f"{base}_{k}"
        while name in self.tensors or name in self._node_names():
            k += 1
            name = f"{base}_{k}"
            self._counts[base] = k + 1
        return name

    def _node_names(self) -> set[str]:
        return {n.name for n in self.nodes}

    def input(self, name: str, shape: Sequence[int], dtype: str = "float32") -> str:
        self.tensors[name] = TensorSpec(tuple(shape), dtype)
        self.inputs.append(name)
        return name

    def weight(self, name: str, shape: Sequence[int], dtype: str = "float32") -> str:
        spec = TensorSpec(tuple(int(s) for s in shape), dtype)
        if name in self.weights and self.weights[name] != spec:
            raise ValueError(f"weight '{name}' registered twice with different shapes")
        self.weights[name] = spec
        return name

    def node(
        self,
        op: str,
        inputs: Sequence[str],
        attrs: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        name: str | None = None,
        module: str = "",
        dtype: str | None = None,
    ) -> list[str]:
        """Append a node; return the names of the tensors it writes."""
        attrs = dict(attrs or {})
        params = dict(params or {})
        in_shapes = [self.tensors[t].shape for t in inputs]
        pshapes = {r: self.weights[w].shape for r, w in params.items()}
        outs, macs = check_node(op, in_shapes, attrs, pshapes)
        name = self._fresh(name or op)
        out_dtype = dtype or (self.tensors[inputs[0]].dtype if inputs else "float32")
        out_names = [name if len(outs) == 1 else f"{name}.{i}" for i in range(len(outs))]
        ints = index_outputs(op, attrs)
        for k, (t, s) in enumerate(zip(out_names, outs)):
            self.tensors[t] = TensorSpec(tuple(int(d) for d in s), "int64" if k in ints else out_dtype)
        count = sum(self.weights[w].numel for w in params.values())
        self.nodes.append(Node(name, op, tuple(inputs), tuple(out_names), attrs, params, macs, count, module))
        return out_names

    def output(self, tensor: str) -> None:
        self.outputs.append(Output(len(self.outputs) + 1, tensor))

    def build(self) -> Graph:
        used = {w for n in self.nodes for w in n.params.values()}
        return Graph(
            name=self.name,
            inputs=tuple(self.inputs),
            outputs=tuple(self.outputs),
            tensors=dict(self.tensors),
            nodes=tuple(self.nodes),
            weights={k: v for k, v in self.weights.items() if k in used},
            meta=self.meta,
        )
