"""The terminal view of a run report (``mpsim run``): what fits, how fast, what bounds it."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from mpsim.views.run_tables import (classes_table, latency_table, summary_table, terminal_units_table,
                                    traffic_table, utilisation_table)


def print_report(rep: dict[str, Any], console: Console | None = None, top: int = 8) -> None:
    console = console or Console()
    tables = [summary_table(rep)]
    if rep.get("steady_state"):
        tables += [latency_table(rep), terminal_units_table(rep, top), utilisation_table(rep, top),
                   classes_table(rep), traffic_table(rep)]
    for t in tables:
        console.print(t.to_rich(console.width))
