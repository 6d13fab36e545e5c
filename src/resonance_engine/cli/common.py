"""Options and output helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

__all__ = [
    "add_common_options",
    "progress_bar",
    "show_progress",
    "print_summary",
    "output_dir",
]


def add_common_options(parser: argparse.ArgumentParser, out_default: str = "resonance-out") -> None:
    """--seed, --out, --json and --quiet, which every command that runs work takes."""
    parser.add_argument(
        "--seed", type=int, default=None, help="random seed (default: from config, else 0)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(out_default),
        metavar="DIR",
        help=f"folder for pictures and reports (default: ./{out_default}/)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the summary as one JSON object on stdout"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary table")


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars only for an interactive terminal and without --quiet/--json."""
    return not (args.quiet or args.json) and sys.stderr.isatty()


def progress_bar(enabled: bool) -> Progress:
    """A rich progress bar on stderr (disabled: renders nothing)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )


def print_summary(args: argparse.Namespace, title: str, summary: dict[str, Any]) -> None:
    """Print the summary: JSON on stdout with --json, else a table unless --quiet."""
    if args.json:
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
        return
    if args.quiet:
        return
    table = Table(title=title, show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for key, value in summary.items():
        if isinstance(value, float):
            value = f"{value:.6g}"
        table.add_row(key.replace("_", " "), str(value))
    Console().print(table)


def output_dir(path: Path) -> Path:
    """Create the output folder (and parents); errors become ConfigError."""
    from resonance_engine.errors import ConfigError

    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create output folder {str(path)!r}: {exc.strerror}") from None
    return path
