"""Bounded reading of the JSON files users give (graphs, catalogs, budget traces).

Bounded in every way a file can make a parser misbehave: its size (read no more than the
limit), its nesting (no ``RecursionError``), its numbers (``NaN``, ``Infinity``, ``1e999`` and
integers beyond ``MAX_JSON_INT`` are refused where they are read, so no ``OverflowError`` later).
Each problem is one line of the caller's error class.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from mpsim.errors import MpsimError
from mpsim.limits import MAX_JSON_DEPTH, MAX_JSON_INT, show


class _Bad(Exception):
    """A number the JSON file may not hold; raised from inside the decoder's hooks."""


def _constant(name: str) -> Any:
    raise _Bad(f"{name} is not a number mpsim accepts (numbers must be finite)")


def _float(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise _Bad(f"{show(text)} is beyond the range of a 64-bit float")
    return x


def _int(text: str) -> int:
    if len(text) > 20:
        raise _Bad(f"integer {show(text)} has {len(text)} digits (limit: magnitude {MAX_JSON_INT:.3g})")
    v = int(text)
    if abs(v) > MAX_JSON_INT:
        raise _Bad(f"integer {v} is beyond the limit of {MAX_JSON_INT:.3g} in magnitude")
    return v


def depth(obj: Any) -> int:
    """Nesting depth of a decoded JSON value (a scalar is 0), without recursion."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            items = v.values()
        elif isinstance(v, list):
            items = v
        else:
            continue
        deepest = max(deepest, d)
        stack.extend((x, d + 1) for x in items if isinstance(x, (dict, list)))
    return deepest


def parse(text: str, error: type[MpsimError] = MpsimError, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Decode ``text``; any problem is one ``error`` line (no location prefix)."""
    try:
        obj = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except json.JSONDecodeError as exc:
        raise error(f"not valid JSON (truncated?) at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except _Bad as exc:
        raise error(f"not valid JSON here: {exc}") from None
    except RecursionError:
        raise error(f"JSON nested deeper than the limit of {max_depth} levels") from None
    except ValueError as exc:  # e.g. a number the decoder itself cannot convert
        raise error(f"not valid JSON: {show(str(exc))}") from None
    d = depth(obj)
    if d > max_depth:
        raise error(f"JSON nested {d} levels deep, more than the limit of {max_depth}")
    return obj


def read_text(path: str | os.PathLike[str], max_bytes: int, what: str,
              error: type[MpsimError] = MpsimError) -> str:
    """The UTF-8 text of a regular file of at most ``max_bytes``; one ``error`` line otherwise."""
    p = os.fspath(path)
    if not os.path.exists(p):
        raise error(f"{p}: no such {what}")
    if os.path.isdir(p):
        raise error(f"{p}: is a folder, not a {what}")
    if not os.path.isfile(p):
        raise error(f"{p}: is not a regular file (a {what} is read whole)")
    try:
        with open(p, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"{p}: cannot read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise error(f"{p}: larger than the limit of {max_bytes:,} bytes for a {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{p}: not UTF-8 text (byte {exc.start})") from None


def load(path: str | os.PathLike[str], max_bytes: int, what: str, error: type[MpsimError] = MpsimError,
         max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``read_text`` then ``parse``; errors name the file."""
    text = read_text(path, max_bytes, what, error)
    try:
        return parse(text, error, max_depth)
    except MpsimError as exc:
        raise error(f"{os.fspath(path)}: {exc}") from None
