"""The ``resonance`` command: argument parsing and the one-line error policy.

Each subcommand lives in its own module of :mod:`resonance_engine.cli` with a
``register(subparsers)`` function that adds its parser and sets ``func``. Errors of
resonance-engine (and bad arguments) print one line on stderr and exit with code 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from collections.abc import Sequence

from resonance_engine.errors import ResonanceError
from resonance_engine.loop.interrupts import interrupt_between_steps

__all__ = ["main", "build_parser", "SUBCOMMAND_MODULES"]

#: Modules of :mod:`resonance_engine.cli` that each register one subcommand.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "run",
    "bench",
    "db",
    "swarm",
    "serve",
    "sweep",
    "export_web",
    "optimize",
    "train",
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"resonance: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every subcommand registered."""
    from resonance_engine import __version__

    parser = _Parser(
        prog="resonance",
        description="Wave-interference fields, their complexity, and swarms that share it.",
    )
    parser.add_argument("--version", action="version", version=f"resonance-engine {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"resonance_engine.cli.{name}").register(sub)
    return parser


def _discard_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush at exit does not
    hit the closed pipe again (and print a traceback-like warning)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout is no real file (tests)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``resonance`` command; returns the exit code.

    A refused argument returns 2 (argparse's ``SystemExit`` is not raised to the caller).
    SIGTERM is handled like Ctrl-C: the running command stops, writes what it has and
    closes its files. A closed stdout pipe (``resonance db export 1 --csv - | head -1``)
    ends the command quietly with code 0.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a refused argument (one line printed), --help, --version
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    in_main_thread = threading.current_thread() is threading.main_thread()
    signals = (signal.SIGINT, signal.SIGTERM) if in_main_thread else ()
    previous = {signum: signal.signal(signum, interrupt_between_steps) for signum in signals}
    try:
        code: int = args.func(args)
    except ResonanceError as exc:
        sys.stderr.write(f"resonance: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("resonance: interrupted\n")
        return 130
    except BrokenPipeError:  # the reader of stdout left early (| head -1): not an error
        _discard_stdout()
        return 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
