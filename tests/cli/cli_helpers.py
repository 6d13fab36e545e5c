"""Helpers of the CLI tests: run ``main`` in this process and say what went wrong."""

from __future__ import annotations

import contextlib
import io
import os
import signal
from pathlib import Path
from types import FrameType

from resonance_engine.cli.main import main

__all__ = ["refusal_problem"]


class _TookTooLong(BaseException):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _TookTooLong


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root, name)
            st = path.lstat()
            found[str(path.relative_to(folder))] = (st.st_size, st.st_mtime_ns)
    return found


def refusal_problem(argv: list[str], folder: Path, says: str = "") -> str | None:
    """What is wrong with ``main(argv)`` (None: it exits 2 with one 'resonance: error:'
    line that contains ``says``, and leaves ``folder`` as it was)."""
    before = _snapshot(folder)
    err, out = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(30)  # a value wrongly accepted starts work: report it instead of hanging
    code: int | str
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    except _TookTooLong:
        code = "still running after 30 s"
    except Exception as exc:  # a traceback
        code = f"raised {type(exc).__name__}: {exc}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    lines = err.getvalue().splitlines()
    shown = f"{[a[:40] for a in argv]}: code {code}, stderr {err.getvalue()[-300:]!r}"
    if code != 2 or len(lines) != 1 or not lines[0].startswith("resonance: error:") or (
        says not in lines[0]
    ):
        return shown
    after = _snapshot(folder)
    if after != before:
        changed = sorted(set(after) ^ set(before) | {k for k in after if before.get(k) != after[k]})
        return f"{shown}: files changed: {changed[:5]}"
    return None
