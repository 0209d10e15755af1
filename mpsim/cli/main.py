"""The ``mpsim`` command: one sub-command per module in this package.

Any ``MpsimError`` (bad file, bad flag, unsupported model) ends the program with one line on
stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from contextlib import contextmanager
from typing import Iterator

from mpsim.errors import MpsimError, Terminated

# Sub-command modules; each defines ``register(subparsers)`` and sets ``func`` on its parser.
COMMANDS = [
    "mpsim.cli.cmd_export",
    "mpsim.cli.cmd_stats",
    "mpsim.cli.cmd_verify",
    "mpsim.cli.cmd_profiles",
    "mpsim.cli.cmd_run",
    "mpsim.cli.cmd_anytime",
    "mpsim.cli.cmd_sweep",
    "mpsim.cli.cmd_train",
    "mpsim.cli.cmd_grid",
    "mpsim.cli.cmd_dnn",
]


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is a single line (and still exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {one_line(message)} (see --help)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="mpsim", description=(
        "Simulate anytime neural networks (ItNet, doubly nested networks) on massively parallel "
        "in-memory accelerators: export, map, stream frames, report fit, latency, throughput and traffic."))
    from mpsim import __version__

    parser.add_argument("--version", action="version", version=f"mpsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True
    for mod in COMMANDS:
        importlib.import_module(mod).register(sub)
    return parser


def one_line(text: object, limit: int = 1000) -> str:
    """A message as one line of at most ``limit`` characters, whatever it quotes."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _terminate(signum, frame) -> None:  # noqa: ARG001
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
    raise Terminated(signum)


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """SIGTERM raises ``Terminated`` in the main thread, so ``finally`` blocks remove temporary files."""
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread (an embedding program): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with _sigterm_unwinds():
        try:
            result = args.func(args)
        except MpsimError as exc:
            sys.stderr.write(f"mpsim {args.command}: error: {one_line(exc)}\n")
            return 2
        except KeyboardInterrupt:
            sys.stderr.write("mpsim: interrupted\n")
            return 130
        except Terminated:
            sys.stderr.write("mpsim: terminated\n")
            return 143
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
