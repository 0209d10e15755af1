"""argparse types that check a flag's value where the flag is declared.

Every numeric flag takes one of these as its ``type=``, with its bound from ``mpsim.limits``::

    p.add_argument("--frames", type=count(1, MAX_FRAMES, "frames"), default=200)
    p.add_argument("--rate", type=real(0, MAX_RATE, open_lo=True, unit="frames/s"))
    p.add_argument("--values", type=csv_list(real(0, MAX_POLICY_VALUE), max_items=MAX_POLICY_VALUES))
    p.add_argument("--json", type=output_file, metavar="FILE")

A bad value ends the program at parse time, before any work, with one line such as
``mpsim run: error: argument --rate: nan is not a finite number (allowed: (0, 1e+12] frames/s)``
and exit code 2.  The types are frozen dataclasses, so tests read their bounds back from the
parser (``lo``, ``hi``) and probe every numeric flag of every command.
"""

from __future__ import annotations

import argparse
import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from mpsim import limits
from mpsim.limits import int_problem, real_problem, show
from mpsim.outpaths import file_problem, folder_problem, stem_problem

_INT = re.compile(r"^[+-]?\d{1,30}$")
_SCI_INT = re.compile(r"^[+-]?\d{1,20}(\.\d{0,20})?[eE][+]?\d{1,3}$")  # 1e6, 2.5e3
_MAX_TEXT = 200


def _fail(msg: str) -> None:
    raise argparse.ArgumentTypeError(msg)


def _text(text: Any) -> str:
    s = str(text).strip()
    if len(s) > _MAX_TEXT:
        _fail(f"'{show(s)}' is too long")
    return s


@dataclass(frozen=True)
class Count:
    """An integer in lo..hi (``1e6`` is accepted for 1000000)."""

    lo: int
    hi: int
    unit: str = ""

    @property
    def __name__(self) -> str:  # argparse names a type in some messages
        return "integer"

    def __call__(self, text: str) -> int:
        s = _text(text)
        if _INT.match(s):
            value: Any = int(s)
        elif _SCI_INT.match(s) and float(s).is_integer() and abs(float(s)) < 2**53:
            value = int(float(s))
        else:
            value = s  # reported as "not an integer"
        problem = int_problem(value, self.lo, self.hi, self.unit, shown=s)
        if problem:
            _fail(problem)
        return value


@dataclass(frozen=True)
class Real:
    """A finite real number in [lo, hi] (either end open)."""

    lo: float
    hi: float
    open_lo: bool = False
    open_hi: bool = False
    unit: str = ""

    @property
    def __name__(self) -> str:
        return "number"

    def __call__(self, text: str) -> float:
        s = _text(text)
        try:
            value: Any = float(s)
        except ValueError:
            value = s  # reported as "not a number"
        problem = real_problem(value, self.lo, self.hi, self.open_lo, self.open_hi, self.unit, shown=s)
        if problem:
            _fail(problem)
        return float(value)


@dataclass(frozen=True)
class CsvList:
    """Comma-separated items, each through ``item``; between min_items and max_items of them."""

    item: Callable[[str], Any]
    min_items: int = 1
    max_items: int = limits.MAX_LIST_ITEMS
    unique: bool = False

    @property
    def __name__(self) -> str:
        return "list"

    def __call__(self, text: str) -> list:
        raw = [t.strip() for t in str(text).split(",")]
        parts = [t for t in raw if t]
        if len(parts) < self.min_items:
            _fail(f"'{show(text)}' lists {len(parts)} item(s), at least {self.min_items} needed")
        if len(parts) > self.max_items:
            _fail(f"'{show(text)}...' lists {len(parts):,} items, at most {self.max_items:,} allowed")
        out = []
        for t in parts:
            try:
                out.append(self.item(t))
            except argparse.ArgumentTypeError as exc:
                _fail(f"item {exc}")
        return list(dict.fromkeys(out)) if self.unique else out


@dataclass(frozen=True)
class Name:
    """A non-empty word (a profile, a model, a mode)."""

    @property
    def __name__(self) -> str:
        return "name"

    def __call__(self, text: str) -> str:
        s = _text(text)
        if not s:
            _fail("an empty name")
        return s


@dataclass(frozen=True)
class OutputPath:
    """A path a command will write: a file, a folder, or a figure's STEM (STEM.png, STEM.svg)."""

    kind: str = "file"  # file | folder | stem

    @property
    def __name__(self) -> str:
        return f"output {self.kind}"

    def __call__(self, text: str) -> str:
        check = {"file": file_problem, "folder": folder_problem, "stem": stem_problem}[self.kind]
        problem = check(text)
        if problem:
            _fail(f"'{show(text)}' {problem}" if self.kind != "stem" else problem)
        return text


def count(lo: int = 1, hi: int = limits.MAX_FRAMES, unit: str = "") -> Count:
    return Count(int(lo), int(hi), unit)


def real(lo: float = -math.inf, hi: float = math.inf, open_lo: bool = False, open_hi: bool = False,
         unit: str = "") -> Real:
    return Real(float(lo), float(hi), open_lo, open_hi, unit)


def probability() -> Real:
    """A fraction: an agreement, an accuracy, a probability, in [0, 1]."""
    return Real(0.0, 1.0)


def seed() -> Count:
    return Count(0, limits.MAX_SEED)


def csv_list(item: Callable[[str], Any], min_items: int = 1, max_items: int = limits.MAX_LIST_ITEMS,
             unique: bool = False) -> CsvList:
    return CsvList(item, min_items, max_items, unique)


def names(min_items: int = 1, max_items: int = limits.MAX_LIST_ITEMS) -> CsvList:
    """Comma-separated names; ',' alone or an empty string is an error."""
    return CsvList(Name(), min_items, max_items, unique=True)


output_file = OutputPath("file")
output_folder = OutputPath("folder")
output_stem = OutputPath("stem")

NUMERIC_TYPES = (Count, Real, CsvList)
