"""mpsim: a simulator for anytime neural networks on massively parallel in-memory accelerators.

The Python API (docs/api.md), imported on first use so that ``import mpsim`` stays light:

* ``mpsim.load_model(name_or_path)``: a built-in model, a graph.json or an export folder;
* ``mpsim.load_profile(name_or_path, **overrides)``: a hardware profile, fields changed with units;
* ``mpsim.simulate(model, profile, **options) -> Report``: to steady state, plain values;
* ``mpsim.list_models()``, ``mpsim.list_profiles()``: the built-in names.

The simulator core never imports torch; the PyTorch side lives in ``itnet_export``.
"""

__version__ = "0.1.0"

__all__ = ["Report", "__version__", "list_models", "list_profiles", "load_model", "load_profile", "simulate"]
_API = frozenset(__all__) - {"__version__"}


def __getattr__(name: str):
    if name in _API:
        from mpsim import api

        return getattr(api, name)
    raise AttributeError(f"module 'mpsim' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(__all__) | {n for n in globals() if not n.startswith("_")} | {"__doc__", "__path__"})
