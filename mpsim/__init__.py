"""mpsim: a simulator for anytime neural networks on massively parallel in-memory accelerators.

The simulator core never imports torch; the PyTorch side lives in ``itnet_export``.
"""

__version__ = "0.1.0"
