"""Number formats a run can use: bits per weight and per activation.

These are definitions of formats, not hardware settings: what a chip does at each format (its
MAC rate) is in the profile's ``precision`` section, and a run at a format the profile does not
list is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping


@dataclass(frozen=True)
class Precision:
    """A format: storage bits of weights and activations, and the digital format the functional
    executor emulates for it (``mpsim.exec.numerics``: fp32, fp16, bf16, int16, int8)."""

    name: str
    weight_bits: int
    activation_bits: int
    exec_weights: str
    exec_activations: str
    doc: str

    def weight_bytes(self, count: int | float) -> float:
        """Bytes of ``count`` weights, packed (1-bit and 2-bit formats share bytes)."""
        return count * self.weight_bits / 8

    def activation_bytes(self, count: int | float) -> float:
        return count * self.activation_bits / 8


PRECISIONS: Mapping[str, Precision] = MappingProxyType({p.name: p for p in (
    Precision("fp32", 32, 32, "fp32", "fp32", "IEEE single precision"),
    Precision("fp16", 16, 16, "fp16", "fp16", "half-precision operands, fp32 accumulation (AMP, tensor cores)"),
    Precision("bf16", 16, 16, "bf16", "bf16", "bfloat16 operands, fp32 accumulation"),
    Precision("fp8", 8, 8, "fp16", "fp16", "8-bit floating-point weights and activations (Graphcore C600's FP8); "
              "the executor emulates them at fp16"),
    Precision("int16", 16, 16, "int16", "int16", "16-bit integer weights and activations"),
    Precision("int8", 8, 8, "int8", "int8", "8-bit integer weights and activations, 32-bit accumulation"),
    Precision("int4", 4, 4, "int8", "int8", "4-bit integer weights and activations (NorthPole); the executor "
              "emulates them at int8"),
    Precision("ternary", 2, 1, "int8", "int8",
              "weights in {-1, 0, 1} (2 bits), binary activations (one spike): Esser et al. 2016"),
    Precision("binary", 1, 1, "int8", "int8", "binary weights and binary activations"),
)})
