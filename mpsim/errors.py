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
    """A model uses operators the exporter cannot express in the graph format."""


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that clean-up runs (the CLI exits with 143)."""
