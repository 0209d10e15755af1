"""User-facing errors: each carries one line that says what is wrong and where.

The CLI turns any ``MpsimError`` into that line on stderr and exit code 2, without a traceback.
"""


class MpsimError(Exception):
    """Bad input from the user (a file, a flag, a model); printed as one line.

    Line breaks in the message (a quoted value may hold some) become spaces, so the message is
    one line wherever it is shown."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(" ".join(a.splitlines()) if isinstance(a, str) else a for a in args))


class GraphFormatError(MpsimError):
    """A graph file or graph object breaks the format's rules."""


class ProfileError(MpsimError):
    """A hardware profile is missing, malformed, or fails validation."""


class UnsupportedOperatorError(MpsimError):
    """A model uses operators the exporter cannot express in the graph format.

    ``occurrences`` lists every one: ``{"op", "module", "node"}`` and a ``reason`` where the op
    is known but this use of it is not (``mpsim export --json`` writes them)."""

    def __init__(self, message: str, occurrences: list[dict] | None = None) -> None:
        super().__init__(message)
        self.occurrences = list(occurrences or [])

    @classmethod
    def from_occurrences(cls, occurrences: list[dict]) -> "UnsupportedOperatorError":
        """One headline line: each distinct op with its count and first place, most frequent
        first, and the reason where there is one."""
        groups: dict[str, list[dict]] = {}
        for o in occurrences:
            groups.setdefault(o["op"], []).append(o)
        parts = []
        for op, occ in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            reason = f": {occ[0]['reason']}" if occ[0].get("reason") else ""
            where = occ[0].get("module") or occ[0].get("node") or "model"
            parts.append(f"{op} x{len(occ)} (first at {where}{reason})")
        return cls(f"{len(groups)} unsupported operator(s), {len(occurrences)} occurrence(s): " + "; ".join(parts)
                   + " (--json FILE lists every occurrence; docs/import.md says what to do)", occurrences)


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that clean-up runs (the CLI exits with 143)."""
