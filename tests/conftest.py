"""Shared fixtures: one export of the ``itnet-tiny`` preset per test session, through the CLI.

Property-based tests run derandomized (hypothesis draws the same examples on every run), so the
suite's outcome depends on the code alone, as every other result of this project does on its
seed; ``HYPOTHESIS_PROFILE=explore`` draws fresh examples for a deeper, random search.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    """A folder written by ``mpsim export --preset itnet-tiny`` (graph.json, weights, reference)."""
    pytest.importorskip("torch")
    from mpsim.cli.main import main

    out = tmp_path_factory.mktemp("itnet-tiny")
    assert main(["export", "--preset", "itnet-tiny", "--out", str(out)]) == 0
    return out
