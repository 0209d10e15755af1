"""A table as data: one definition printed to the terminal (rich, readable at 80 columns),
written as CSV and as JSON rows. Cells hold raw values (what CSV and JSON get); each column
formats them for reading with ``mpsim.fmt``."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


@dataclass(frozen=True)
class Cell:
    """A raw value with its own text (a key-value table's rows each have their unit)."""

    raw: Any
    text: str


def _plain(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


@dataclass(frozen=True)
class Column:
    key: str  # the CSV / JSON field
    header: str  # what the terminal shows
    fmt: Callable[[Any], str] = _plain
    right: bool = False  # numbers align right
    show: bool = True  # on the terminal and the HTML page
    save: bool = True  # in CSV and JSON rows


@dataclass
class TableView:
    name: str  # short, file-name safe: the CSV file of a non-main table is STEM-NAME.csv
    title: str
    columns: Sequence[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    show_header: bool = True
    caption: str | None = None

    def add(self, **values: Any) -> None:
        self.rows.append(values)

    def text(self, row: dict[str, Any], col: Column) -> str:
        v = row.get(col.key)
        return v.text if isinstance(v, Cell) else col.fmt(v)

    @property
    def shown(self) -> list[Column]:
        return [c for c in self.columns if c.show]

    def records(self) -> list[dict[str, Any]]:
        """Rows with raw values, for JSON and CSV."""
        return [{c.key: (v.raw if isinstance(v := r.get(c.key), Cell) else v) for c in self.columns if c.save}
                for r in self.rows]

    def widths(self, width: int) -> list[int] | None:
        """Column widths that fit ``width`` terminal columns without breaking a word: each column
        gets its longest word (a number column its longest value; where they cannot all fit, the
        longest words fold), the first column (the rows' names) all it needs where the others still
        fit, and the rest of the room goes to the columns in proportion to what they would still
        use. None when everything fits as it is (or nothing can)."""
        cols = self.shown
        cells = [[c.header] + [self.text(r, c) for r in self.rows] for c in cols]
        # A word is a column's unbreakable piece; a number with its unit ("2.07 GMAC") is one.
        lo = [max((len(w) for t in (col if not c.right else col[:1]) for w in t.split()), default=1)
              for c, col in zip(cols, cells)]
        lo = [max([m] + [len(t) for t in col[1:]]) if c.right else m for c, col, m in zip(cols, cells, lo)]
        hi = [max((len(line) for t in col for line in t.splitlines()), default=1) for col in cells]
        n = len(cols)  # padding and rules: see to_rich's box and pad_edge
        room = width - (3 * n - 1 if self.show_header else 3 * n + 1)
        if sum(hi) <= room:
            return None
        while sum(lo) > room and max(lo[1:], default=0) > 8:  # long words fold, the widest first; never
            k = 1 + lo[1:].index(max(lo[1:]))                  # the first column's (the row's name)
            lo[k] -= 1
        if sum(lo) > room:
            return None
        lo[0] = max(lo[0], min(hi[0], room - sum(lo[1:])))  # the rows' names whole first, where they fit
        spare, want = room - sum(lo), [h - m for h, m in zip(hi, lo)]
        return [m + spare * w // max(1, sum(want)) for m, w in zip(lo, want)]

    def to_rich(self, width: int | None = None):
        """A rich table that wraps long cells at spaces and folds only words longer than a
        column (no '…' at any width); ``width``: the terminal's, to keep words whole."""
        from rich import box
        from rich.markup import escape
        from rich.table import Table

        t = Table(title=self.title, title_justify="left", show_header=self.show_header, caption=self.caption,
                  caption_justify="left", box=box.SIMPLE_HEAD if self.show_header else box.SQUARE,
                  pad_edge=not self.show_header)
        fixed = self.widths(width) if width else None
        for k, c in enumerate(self.shown):
            t.add_column(c.header, justify="right" if c.right else "left", overflow="fold",
                         width=None if fixed is None else fixed[k])
        for r in self.rows:
            t.add_row(*(escape(self.text(r, c)) for c in self.shown))
        return t

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        keys = [c.key for c in self.columns if c.save]
        w.writerow(keys)
        for rec in self.records():
            w.writerow([_csv_value(rec[k]) for k in keys])
        return buf.getvalue()


def _csv_value(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v)
    return v
