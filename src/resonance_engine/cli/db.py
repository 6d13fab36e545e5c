"""``resonance db``: look into the metric database (runs, series, similar moments, export).

Subcommands::

    resonance db runs                      # the stored runs, newest first
    resonance db show RUN                  # a run's config and the summary of its series
    resonance db similar RUN --at T        # moments of any run nearest to RUN at t = T s
    resonance db export RUN --csv FILE     # the run's series (long format); or --parquet

Every subcommand takes ``--db PATH`` (default ``./resonance.db``) and ``--json``.
:func:`add_db_options` and :func:`open_db` give other commands (``resonance run``) the
same ``--db PATH`` / ``--no-db`` options.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from resonance_engine.cli.args import COUNT, FINITE, nonempty, number, output_file
from resonance_engine.errors import ConfigError, StoreError
from resonance_engine.store import AgentDB

__all__ = ["register", "add_db_options", "open_db", "check_export_target", "DEFAULT_DB"]

#: Database used when no --db is given.
DEFAULT_DB = Path("resonance.db")


def add_db_options(parser: argparse.ArgumentParser, storing: bool = True) -> None:
    """``--db PATH`` (and, for commands that store, ``--no-db``)."""
    parser.add_argument(
        "--db", type=output_file, default=DEFAULT_DB, metavar="PATH",
        help=f"metric database file (default: ./{DEFAULT_DB})",
    )
    if storing:
        parser.add_argument("--no-db", action="store_true", help="do not store the run")


def open_db(args: argparse.Namespace) -> AgentDB | None:
    """The database a storing command writes to, or None with ``--no-db``."""
    if getattr(args, "no_db", False):
        return None
    return AgentDB(args.db)


def _open_existing(args: argparse.Namespace) -> AgentDB:
    if not Path(args.db).exists():
        raise StoreError(
            f"no database at {str(args.db)!r}; store a run first ('resonance run') or pass "
            "--db PATH"
        )
    return AgentDB(args.db, readonly=True)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "db", help="inspect the metric database (runs, show, similar, export)",
        description="Inspect the metric database written by 'resonance run'.",
    )
    cmds = p.add_subparsers(dest="db_command", metavar="SUBCOMMAND", parser_class=type(p))
    cmds.required = True

    runs = cmds.add_parser("runs", help="list the stored runs, newest first")
    runs.add_argument("--limit", type=COUNT, default=50, help="at most this many (default 50)")
    runs.set_defaults(func=cmd_runs)

    show = cmds.add_parser("show", help="a run's configuration and series summary")
    show.add_argument("run", type=COUNT, metavar="RUN", help="run id (see 'resonance db runs')")
    show.set_defaults(func=cmd_show)

    similar = cmds.add_parser(
        "similar", help="moments in any run whose fingerprint is nearest to RUN at time T",
    )
    similar.add_argument("run", type=COUNT, metavar="RUN")
    similar.add_argument("--at", type=FINITE, required=True, metavar="T",
                         help="simulated time in RUN (s); its fingerprint bucket is the query")
    similar.add_argument("--k", type=COUNT, default=10, help="number of matches (default 10)")
    similar.add_argument("--max-distance", type=number(low=0.0, high=2.0), default=0.3,
                         help="largest cosine distance shown (default 0.3)")
    similar.add_argument("--other-runs", action="store_true", help="leave out RUN itself")
    similar.add_argument("--type", type=nonempty, default="ci", dest="series_type",
                         help="series type the fingerprints belong to (default ci)")
    similar.set_defaults(func=cmd_similar)

    export = cmds.add_parser("export", help="write a run's series to CSV or Parquet")
    export.add_argument("run", type=COUNT, metavar="RUN")
    fmt = export.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--csv", type=output_file, metavar="FILE", help="CSV file ('-' for stdout)")
    fmt.add_argument("--parquet", type=output_file, metavar="FILE",
                     help="Parquet file (needs pyarrow)")
    export.add_argument("--force", action="store_true",
                        help="replace FILE when it exists (never the database being read)")
    export.set_defaults(func=cmd_export)

    for parser in (runs, show, similar, export):
        add_db_options(parser, storing=False)
        parser.add_argument("--json", action="store_true", help="print JSON on stdout")


def _print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row))
    _console().print(table)


def _console() -> Console:
    # piped output: wide enough that no cell is cut
    return Console() if sys.stdout.isatty() else Console(width=240)


def _json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str) + "\n")


def _seconds(us: int | None, start: int) -> float | None:
    return None if us is None else (us - start) / 1e6


def cmd_runs(args: argparse.Namespace) -> int:
    with _open_existing(args) as db:
        runs = db.runs(limit=args.limit)
        rows = []
        for r in runs:
            series = db.series(run_id=r.run_id)
            values = sum(db.stats(s.series_id).n for s in series)
            rows.append({"run_id": r.run_id, "name": r.name, "started_at_us": r.started_at,
                         "status": r.status, "seed": r.seed, "series": len(series),
                         "values": values, "version": r.package_version})
    if args.json:
        _json(rows)
    else:
        _print_table(f"runs in {args.db}", list(rows[0]) if rows else ["run_id"],
                     [list(r.values()) for r in rows])
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with _open_existing(args) as db:
        run = db.run(args.run)
        series = []
        for s in db.series(run_id=run.run_id):
            st = db.stats(s.series_id)
            latest = db.latest(s.series_id)
            series.append({
                "series_id": s.series_id, "type": s.series_type, "name": s.series_name,
                "agent": s.agent_id, "n": st.n, "first_s": _seconds(st.first, run.started_at),
                "last_s": _seconds(st.last, run.started_at), "min": st.min, "mean": st.mean,
                "max": st.max, "latest": None if latest is None else latest.value,
                "fingerprints": len(db.vectors(s.series_id)[0]),
            })
        alerts = len(db.alerts(run_id=run.run_id))
    info = run._asdict()
    info["alerts"] = alerts
    if args.json:
        _json({"run": info, "series": series})
        return 0
    _console().print(
        f"[bold]run {run.run_id}[/] {run.name or ''} status={run.status} seed={run.seed} "
        f"version={run.package_version} started_at={run.started_at} us alerts={alerts}"
    )
    _console().print(f"config: {json.dumps(run.config, sort_keys=True)}")
    if run.summary:
        _console().print(f"summary: {json.dumps(run.summary, sort_keys=True)}")
    _print_table("series (times in s after the start)", list(series[0]) if series else ["-"],
                 [list(s.values()) for s in series])
    return 0


def cmd_similar(args: argparse.Namespace) -> int:
    with _open_existing(args) as db:
        run = db.run(args.run)
        candidates = db.series(run_id=run.run_id, series_type=args.series_type)
        buckets = None
        for s in candidates:
            got, vectors = db.vectors(s.series_id)
            if len(got):
                buckets = (got, vectors)
                break
        if buckets is None:
            raise StoreError(
                f"run {run.run_id} has no fingerprints of type {args.series_type!r}; "
                "they are stored by 'resonance run' with a database"
            )
        got, vectors = buckets
        at_us = run.started_at + round(args.at * 1e6)
        index = max(int((got <= at_us).sum()) - 1, 0)  # the bucket holding T (or the first)
        hits = db.similar(
            vectors[index], k=args.k, max_distance=args.max_distance,
            series_type=args.series_type,
            exclude_run_id=run.run_id if args.other_runs else None,
        )
        starts: dict[int | None, int] = {}
        rows = []
        for h in hits:
            if h.run_id not in starts:
                starts[h.run_id] = db.run(h.run_id).started_at if h.run_id else 0
            rows.append({"run_id": h.run_id, "t_s": _seconds(h.timestamp_bucket, starts[h.run_id]),
                         "series_id": h.series_id, "value": h.value, "distance": h.distance})
    query_t = (int(got[index]) - run.started_at) / 1e6
    if args.json:
        _json({"run_id": run.run_id, "query_bucket_t_s": query_t, "matches": rows})
    else:
        _print_table(
            f"nearest to run {run.run_id} at t = {query_t:.6g} s (cosine distance)",
            ["run_id", "t_s", "series_id", "value", "distance"],
            [list(r.values()) for r in rows],
        )
    return 0


def _export_rows(db: AgentDB, run_id: int) -> tuple[list[str], list[list[Any]]]:
    run = db.run(run_id)
    columns = ["run_id", "agent_id", "series_type", "series_name", "timestamp_us", "t_s",
               "value", "metadata"]
    rows = []
    for s in db.series(run_id=run_id):
        for p in db.range(s.series_id):
            rows.append([run_id, s.agent_id, s.series_type, s.series_name, p.timestamp,
                         (p.timestamp - run.started_at) / 1e6, p.value, p.metadata])
    return columns, rows


def _same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` name one file (after links; hard links too)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return a.resolve() == b.resolve()


def check_export_target(target: Path, db_path: Path, force: bool) -> None:
    """Refuse an export file that would destroy data the user did not name.

    Raises
    ------
    ConfigError
        When ``target`` is the database being read or one of its journal files (even
        with ``force``), a folder, or an existing file and ``force`` is False.
    """
    db_path = Path(db_path)
    for suffix in ("", "-wal", "-shm", "-journal"):
        if _same_file(target, db_path.with_name(db_path.name + suffix)):
            raise ConfigError(
                f"refusing to export onto {str(target)!r}: it is the database being read "
                f"({str(db_path) + suffix!r}); choose another file"
            )
    if target.is_dir():
        raise ConfigError(f"cannot write {str(target)!r}: it is a folder; name a file in it")
    if target.exists() and not force:
        raise ConfigError(
            f"{str(target)!r} exists; pass --force to replace it, or choose another file"
        )


def _write_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` beside ``target``, then rename it over ``target``: a failed write
    leaves an existing file as it was."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        raise ConfigError(f"cannot write {str(target)!r}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def cmd_export(args: argparse.Namespace) -> int:
    to_stdout = args.csv is not None and str(args.csv) == "-"
    target: Path = args.csv if args.csv is not None else args.parquet
    if not to_stdout:
        check_export_target(target, args.db, args.force)
    with _open_existing(args) as db:
        columns, rows = _export_rows(db, args.run)
    if to_stdout:
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
        sys.stdout.flush()  # a closed pipe (| head -1) shows here; main() exits quietly
        return 0
    if args.csv is not None:

        def write(path: Path) -> None:
            with open(path, "w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(columns)
                writer.writerows(rows)

    else:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ConfigError(
                "--parquet needs pyarrow: pip install 'resonance-engine[export]'"
            ) from None
        table = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})

        def write(path: Path) -> None:
            pq.write_table(table, path)

    _write_atomically(target, write)
    summary = {"run_id": args.run, "rows": len(rows), "file": str(target)}
    if args.json:
        _json(summary)
    else:
        Console(stderr=True).print(f"wrote {len(rows)} rows of run {args.run} to {target}")
    return 0
