"""Shared fixtures: one export of the ``itnet-tiny`` preset per test session, through the CLI."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    """A folder written by ``mpsim export --preset itnet-tiny`` (graph.json, weights, reference)."""
    pytest.importorskip("torch")
    from mpsim.cli.main import main

    out = tmp_path_factory.mktemp("itnet-tiny")
    assert main(["export", "--preset", "itnet-tiny", "--out", str(out)]) == 0
    return out
