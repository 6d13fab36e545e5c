"""Options and output helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from resonance_engine.cli.args import SEED, output_folder
from resonance_engine.json_safe import dumps

if TYPE_CHECKING:
    from resonance_engine.config import RunConfig

__all__ = [
    "add_common_options",
    "progress_bar",
    "LogLines",
    "show_progress",
    "print_summary",
    "output_dir",
    "run_config_from_args",
    "warn_without_sources",
]


def add_common_options(parser: argparse.ArgumentParser, out_default: str = "resonance-out") -> None:
    """--seed, --out, --json and --quiet, which every command that runs work takes."""
    parser.add_argument(
        "--seed", type=SEED, default=None, help="random seed (default: from config, else 0)"
    )
    parser.add_argument(
        "--out",
        type=output_folder,
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


class LogLines:
    """Progress for a stderr that is not a terminal (logs, CI): a plain line every few seconds.

    Offers the part of :class:`rich.progress.Progress` the commands use (``add_task``,
    ``update``, context manager).
    """

    def __init__(self, every: float = 2.0) -> None:
        self.every = every
        self._tasks: dict[int, dict[str, Any]] = {}
        self._last = time.monotonic()

    def __enter__(self) -> LogLines:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, total: float | None = None, **fields: Any) -> TaskID:
        self._tasks[len(self._tasks)] = {
            "description": description,
            "total": total,
            "completed": 0,
            **fields,
        }
        return TaskID(len(self._tasks) - 1)

    def update(
        self,
        task: TaskID,
        *,
        completed: float | None = None,
        advance: float | None = None,
        **fields: Any,
    ) -> None:
        state = self._tasks[task]
        if completed is not None:
            state["completed"] = completed
        if advance is not None:
            state["completed"] += advance
        state.update(fields)
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            total = f"/{state['total']:g}" if state["total"] is not None else ""
            status = state.get("status", "")
            sys.stderr.write(f"{state['description']}: {state['completed']:g}{total} {status}\n")
            sys.stderr.flush()


def progress_bar(enabled: bool, log_lines: bool = False) -> Progress | LogLines:
    """A rich progress bar on stderr.

    Parameters
    ----------
    enabled : bool
        Show the bar (see :func:`show_progress`).
    log_lines : bool
        When the bar is not shown, print a plain progress line every 2 s instead (for
        runs whose stderr goes to a log).
    """
    if not enabled and log_lines:
        return LogLines()
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
    """Print the summary: strict JSON on stdout with --json (NaN as null), else a table
    unless --quiet."""
    if args.json:
        sys.stdout.write(dumps(summary) + "\n")
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


def output_dir(path: Path, files: Sequence[str] = ()) -> Path:
    """Create the output folder (and parents); errors become ConfigError.

    Parameters
    ----------
    path : Path
        The folder (``--out``).
    files : sequence of str
        Names of the files the command will write there: each must not be a folder
        (checked before the folder is created, so that the command fails before its work
        instead of after it).
    """
    from resonance_engine.errors import ConfigError

    for name in files:
        if (path / name).is_dir():
            raise ConfigError(
                f"cannot write {str(path / name)!r}: it is a folder; remove it or choose "
                "another --out"
            )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create output folder {str(path)!r}: {exc.strerror}") from None
    return path


def warn_without_sources(args: argparse.Namespace, config: RunConfig) -> None:
    """One warning line on stderr when ``--config`` gave no sources (call it once the
    configuration was accepted, so that an error stays the only line)."""
    if getattr(args, "config", None) and not config.simulation.sources:
        sys.stderr.write(
            f"resonance: warning: config file {str(args.config)!r} has no "
            "[[simulation.sources]]: nothing drives the field, which stays at zero\n"
        )


def run_config_from_args(
    args: argparse.Namespace, default_size: int, default_metrics_every: int | None = None
) -> RunConfig:
    """The :class:`RunConfig` of a command: ``--config FILE`` or the default pond, with
    ``--seed``, ``--size``, ``--steps``, ``--metrics-every`` and ``--backend`` applied.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options; those a command does not have are skipped.
    default_size : int
        Cells per side of the default pond when neither --config nor --size is given.
    default_metrics_every : int, optional
        ``metrics_every`` of the default pond when --metrics-every is not given.
    """
    from resonance_engine.config import RunConfig, default_pond, load_run_config

    seed = args.seed if args.seed is not None else 0
    size = getattr(args, "size", None)
    if args.config:
        config = load_run_config(args.config)
        if args.seed is not None:
            config.seed = args.seed
        if size is not None:
            config.simulation.nx = config.simulation.ny = size
    else:
        config = RunConfig(simulation=default_pond(size or default_size, seed=seed), seed=seed)
        if default_metrics_every is not None:
            config.metrics_every = default_metrics_every
    if getattr(args, "steps", None) is not None:
        config.steps = args.steps
    if getattr(args, "metrics_every", None) is not None:
        config.metrics_every = args.metrics_every
    if getattr(args, "backend", None) is not None:
        config.simulation.backend = args.backend
        # with wgpu the measures run on the GPU on the resident field (analyzer.observe)
        config.metrics.backend = args.backend
    return RunConfig.model_validate(config.model_dump())
