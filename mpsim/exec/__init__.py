"""The functional executor: run an exported graph with its weights in float32 (numba, no torch).

``run_graph(graph, weights, x, iterations=None)`` returns the anytime outputs in index order;
``Executor(graph, weights)`` prepares once and runs per frame (``run``, or ``stream`` to get
each output as soon as it exists).  ``load_weights`` / ``load_reference`` read an export.
See docs/executor.md.
"""

from mpsim.exec.executor import FP32, Executor, Float32Numerics, run_graph
from mpsim.exec.weights import check_weights, load_reference, load_weights

__all__ = [
    "Executor",
    "FP32",
    "Float32Numerics",
    "run_graph",
    "check_weights",
    "load_reference",
    "load_weights",
]
