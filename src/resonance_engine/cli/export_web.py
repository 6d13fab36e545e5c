"""``resonance export-web``: write the standalone site that runs the simulation in a browser."""

from __future__ import annotations

import argparse

from resonance_engine.cli.args import COUNT, POSITIVE, SEED, input_file, output_folder
from resonance_engine.cli.common import print_summary, run_config_from_args
from resonance_engine.errors import ConfigError

__all__ = ["register", "cmd_export_web", "add_site_options", "site_from_args"]


def add_site_options(p: argparse.ArgumentParser) -> None:
    """--config, --size, --metrics-every, --fps, --max-side and --seed of the page's run."""
    p.add_argument("--config", type=input_file, metavar="FILE.toml",
                   help="run configuration (see README)")
    p.add_argument(
        "--size", type=COUNT, help="grid cells per side of the default pond (default 256)"
    )
    p.add_argument(
        "--metrics-every",
        type=COUNT,
        metavar="N",
        help="steps between measured frames (default: the config's metrics_every, else 50)",
    )
    p.add_argument("--fps", type=POSITIVE, default=30.0, help="largest frame rate (default 30)")
    p.add_argument(
        "--max-side",
        type=COUNT,
        default=256,
        help="largest frame side in cells; bigger fields are block-averaged (default 256)",
    )
    p.add_argument(
        "--seed", type=SEED, default=None, help="random seed (default: from config, else 0)"
    )


def site_from_args(args: argparse.Namespace, store: str | None = None) -> dict:
    """The site's config.json from the options, checked by the Python engine first
    (a configuration it refuses is refused here, with its message)."""
    from resonance_engine.web.site import site_config

    if args.size is not None and args.size < 16:
        raise ConfigError(f"--size must be >= 16 cells, got {args.size}")
    if not args.fps > 0:
        raise ConfigError(f"--fps must be > 0, got {args.fps}")
    if not 16 <= args.max_side <= 4096:
        raise ConfigError(f"--max-side must be in [16, 4096] cells, got {args.max_side}")
    config = run_config_from_args(args, default_size=256, default_metrics_every=50)
    config.simulation.model_copy(update={"backend": "numpy"}).build()
    return site_config(config, fps=args.fps, max_side=args.max_side, store=store)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export-web",
        help="write a standalone web site that runs the simulation in the browser",
        description=(
            "Write DIR/index.html and its files: the dashboard (field, charts, controls) "
            "with the simulation and its measures running in the browser (WebGPU with the "
            "package's WGSL shaders, or a JavaScript fallback). Serve DIR with any static "
            "file server, e.g. python -m http.server -d DIR."
        ),
    )
    p.add_argument("dir", type=output_folder, metavar="DIR", help="folder to write (new or empty)")
    add_site_options(p)
    p.add_argument(
        "--force",
        action="store_true",
        help="write into a folder that is not empty (replaces the site's files only)",
    )
    p.add_argument(
        "--json", action="store_true", help="print the summary as one JSON object on stdout"
    )
    p.add_argument("--quiet", action="store_true", help="no summary table")
    p.set_defaults(func=cmd_export_web)


def cmd_export_web(args: argparse.Namespace) -> int:
    from resonance_engine.web.site import export_site

    site = site_from_args(args)
    try:
        written = export_site(args.dir, site, force=args.force)
    except OSError as exc:
        raise ConfigError(f"export-web: cannot write {str(args.dir)!r}: {exc.strerror}") from None
    sim = site["simulation"]
    print_summary(
        args,
        "resonance export-web",
        {
            "dir": str(args.dir),
            "files": len(written),
            "grid": f"{sim['nx']}x{sim['ny']}",
            "open": f"python -m http.server -d {args.dir} (then http://127.0.0.1:8000/)",
        },
    )
    return 0
