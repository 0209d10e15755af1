"""What every command writes besides the terminal: ``--json`` (stamped with the mpsim version and
the document's schema), ``--csv`` (its tables) and, where it has one, ``--html``.

``--csv FILE`` writes the command's main table to FILE and each other table beside it as
``STEM-NAME.csv`` (a CSV file holds one table)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

from mpsim.atomic import atomic_files, write_json
from mpsim.cli.argtypes import output_file
from mpsim.views.doc import stamp
from mpsim.views.table import TableView

__all__ = ["add_output_flags", "print_tables", "stamp", "write_csv", "write_outputs"]


def add_output_flags(p, json_help: str = "write the results as JSON", html: bool = False,
                     keep_parent: bool = False) -> None:
    """``keep_parent``: a sub-parser whose parent has the same flags (``profiles --json`` and
    ``profiles list --json``) must not reset what the parent parsed."""
    extra = {"default": argparse.SUPPRESS} if keep_parent else {}
    p.add_argument("--json", metavar="FILE", type=output_file, help=json_help, **extra)
    p.add_argument("--csv", metavar="FILE", type=output_file,
                   help="write the tables as CSV: the main one to FILE, any other beside it as STEM-NAME.csv", **extra)
    if html:
        p.add_argument("--html", metavar="FILE", type=output_file,
                       help="write a self-contained HTML report (opens offline)")


def csv_paths(path: str | Path, tables: Sequence[TableView]) -> list[Path]:
    path = Path(path)
    stem = path.with_suffix("") if path.suffix.lower() == ".csv" else path
    return [path] + [stem.parent / f"{stem.name}-{t.name}.csv" for t in tables[1:]]


def write_csv(path: str | Path, tables: Sequence[TableView]) -> list[Path]:
    """All the files or none: they are renamed into place together."""
    paths = csv_paths(path, tables)
    with atomic_files(paths) as tmps:
        for tmp, t in zip(tmps, tables):
            tmp.write_text(t.to_csv())
    return paths


def write_outputs(args, tables: Sequence[TableView], schema: str, doc: Any = None) -> None:
    """--json (``doc``, or the tables' rows by name) and --csv, for whichever the user asked."""
    if getattr(args, "json", None):
        write_json(args.json, stamp(schema, doc if doc is not None else {t.name: t.records() for t in tables}))
    if getattr(args, "csv", None) and tables:
        paths = write_csv(args.csv, tables)
        if len(paths) > 1:
            from rich.console import Console

            Console(stderr=True).print("wrote " + ", ".join(map(str, paths)), highlight=False)


def print_tables(tables: Sequence[TableView], console=None) -> None:
    from rich.console import Console

    console = console or Console()
    for t in tables:
        console.print(t.to_rich(console.width))
