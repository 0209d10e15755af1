"""What every JSON document mpsim writes starts with: its schema and the mpsim version."""

from __future__ import annotations

from typing import Any


def stamp(schema: str, doc: Any) -> dict[str, Any]:
    """``doc`` (a dict, or a list put under ``rows``) with the mpsim version and its schema first
    (a document that already names them keeps its own)."""
    from mpsim import __version__

    body = doc if isinstance(doc, dict) else {"rows": doc}
    out = {"schema": body.get("schema", schema), "mpsim_version": body.get("mpsim_version", __version__)}
    out.update({k: v for k, v in body.items() if k not in out})
    return out
