"""The browser engine's standalone site: the dashboard page running the simulation in the
browser (``web/engine/*.js`` on WebGPU with the package's WGSL shaders, or the JavaScript
CPU fallback).

The site's layout, the same whether it is exported (:func:`export_site`) or served
(:func:`create_site_app`)::

    index.html           the dashboard page (static/index.html) with engine/page.js
    config.json          the run: {"simulation", "metrics", "metrics_every", ...}
    static/              app.js, style.css (the dashboard)
    engine/              the ES modules of the engine
    shaders/             backends/wgpu_gpu/shaders/*.wgsl, the wgpu backend's own files

Nothing is built and nothing comes from a CDN: any static file server can serve it.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from importlib import resources
from pathlib import Path
from typing import Any

from resonance_engine.config import RunConfig
from resonance_engine.errors import ConfigError

__all__ = [
    "ENGINE_DIR",
    "STATIC_DIR",
    "SHADER_DIR",
    "page_html",
    "site_config",
    "site_files",
    "export_site",
    "StaticServer",
]

_WEB = Path(__file__).parent
ENGINE_DIR = _WEB / "engine"
STATIC_DIR = _WEB / "static"
SHADER_DIR = Path(str(resources.files("resonance_engine.backends.wgpu_gpu") / "shaders"))

_APP_SCRIPT = '<script type="module" src="static/app.js"></script>'
_ENGINE_SCRIPT = '<script type="module" src="engine/page.js"></script>'


def page_html() -> str:
    """The dashboard page with the engine's module loaded before the dashboard's script."""
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    if _APP_SCRIPT not in html:  # pragma: no cover - guards a change of static/index.html
        raise RuntimeError("static/index.html no longer loads static/app.js as expected")
    html = html.replace(_APP_SCRIPT, f"{_ENGINE_SCRIPT}\n{_APP_SCRIPT}")
    return html.replace("resonance-engine · live", "resonance-engine · in the browser")


def site_config(
    config: RunConfig,
    *,
    fps: float = 30.0,
    max_side: int = 256,
    steps_per_frame: int = 10,
    store: str | None = None,
) -> dict[str, Any]:
    """The ``config.json`` of the site: what the page runs.

    Parameters
    ----------
    config : RunConfig
        The simulation (float32; the browser ignores ``backend``) and its measures.
    fps : float
        Largest frame rate of the heatmap.
    max_side : int
        Largest frame side in cells (bigger fields are block-averaged for display).
    steps_per_frame : int
        Steps between two looks at the controls.
    store : str, optional
        URL (relative to the page) where the page POSTs its metric rows.
    """
    if config.simulation.dtype != "float32":
        raise ConfigError(
            f"the browser engine steps float32 fields, the config asks for "
            f"{config.simulation.dtype}; set dtype = 'float32'"
        )
    return {
        "simulation": config.simulation.model_dump(mode="json"),
        "metrics": config.metrics.model_dump(mode="json", exclude={"backend"}),
        "metrics_every": config.metrics_every,
        "steps_per_frame": steps_per_frame,
        "fps": fps,
        "max_side": max_side,
        "store": store,
    }


def site_files() -> dict[str, Path]:
    """Every file of the site but index.html and config.json: site path -> package file."""
    files: dict[str, Path] = {}
    for folder, pattern, prefix in (
        (STATIC_DIR, "*", "static"),
        (ENGINE_DIR, "*.js", "engine"),
        (SHADER_DIR, "*.wgsl", "shaders"),
    ):
        for path in sorted(folder.glob(pattern)):
            if path.is_file() and path.name != "index.html":
                files[f"{prefix}/{path.name}"] = path
    return files


def export_site(directory: str | Path, site: dict[str, Any], *, force: bool = False) -> list[Path]:
    """Write the standalone site into ``directory``.

    Parameters
    ----------
    directory : path
        Created when missing. A folder that holds anything is refused unless ``force``
        (then only the site's own files are replaced; nothing else is removed).
    site : dict
        The ``config.json`` (:func:`site_config`).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    ConfigError
        ``directory`` is a file, or a non-empty folder without ``force``.
    """
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"export-web: {str(root)!r} is a file, not a folder; name a folder")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise ConfigError(
            f"export-web: the folder {str(root)!r} is not empty; name a new or empty folder, "
            "or pass --force to replace the site's files in it"
        )
    written = []
    for name, source in site_files().items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        written.append(target)
    index = root / "index.html"
    index.write_text(page_html(), encoding="utf-8")
    settings = root / "config.json"
    settings.write_text(json.dumps(site, indent=2) + "\n", encoding="utf-8")
    return [index, settings, *written]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        return


class StaticServer:
    """A plain static file server (the standard library's) over an exported site, on
    127.0.0.1 at a free port, in a background thread: what the site needs, nothing more.

    Parameters
    ----------
    root : path
        The folder served.

    Attributes
    ----------
    url : str
        ``http://127.0.0.1:PORT/``.
    """

    def __init__(self, root: str | Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()
