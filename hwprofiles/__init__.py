"""Built-in hardware profiles, shipped as package data (one validated YAML file per profile).

The loader lives in ``mpsim.hw.profile``; this package only says where the files are, so that
the files travel with an installed wheel as well as with a source checkout.
"""

from __future__ import annotations

from pathlib import Path


def profile_dir() -> Path:
    """The folder holding the built-in ``*.yaml`` profiles."""
    return Path(__file__).resolve().parent
