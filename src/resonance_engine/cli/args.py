"""Argument types of the ``resonance`` command: every option value is checked while parsing.

argparse calls an option's ``type`` on the text given; the functions made here turn it
into the value or raise :class:`argparse.ArgumentTypeError`, whose message argparse prints
as one line (``resonance: error: argument --seed: must be an integer >= 0, got '-1'``) with
exit code 2. They refuse what a command would otherwise take and fail on later, with a
traceback or after it has already created files: negative counts, NaN and infinities,
integers too large for the database or the memory, empty paths, a folder given as a file,
a file to write in a folder that does not exist.

>>> integer(low=1)("3")
3
>>> number(low=0.0)("2.5")
2.5
>>> integers(low=1)("16,32")
[16, 32]
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resonance_engine.errors import ConfigError

__all__ = [
    "MAX_INT",
    "IntegerArg",
    "NumberArg",
    "IntegersArg",
    "NamesArg",
    "ParsedArg",
    "integer",
    "number",
    "integers",
    "name_list",
    "SEED",
    "COUNT",
    "COUNT0",
    "POSITIVE",
    "NONNEGATIVE",
    "FINITE",
    "input_file",
    "input_folder",
    "output_file",
    "output_folder",
    "nonempty",
    "host_name",
    "PORT",
]

#: Largest integer any option takes (a signed 64-bit integer: SQLite, numpy).
MAX_INT = 2**63 - 1


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _range_words(low: float | None, high: float | None, low_open: bool) -> str:
    """">= 0 and <= 10" (bounds at +-MAX_INT are left out: they only keep out nonsense)."""
    parts = []
    if low is not None and low > -MAX_INT:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None and high < MAX_INT:
        parts.append(f"<= {high:g}")
    return " and ".join(parts)


@dataclass(frozen=True)
class IntegerArg:
    """An argparse type: a whole number in ``[low, high]`` (see :func:`integer`)."""

    low: int
    high: int

    @property
    def words(self) -> str:
        """What the option takes, in words."""
        bounds = _range_words(self.low, self.high, False)
        return "an integer" + (f" {bounds}" if bounds else "")

    def __call__(self, text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {self.words}, got {_shown(text)}"
            ) from None
        if abs(value) > MAX_INT:
            raise argparse.ArgumentTypeError(
                f"must be {self.words} that fits in 64 bits (|n| <= 2**63 - 1), got {_shown(text)}"
            )
        if not self.low <= value <= self.high:
            raise argparse.ArgumentTypeError(f"must be {self.words}, got {_shown(text)}")
        return value


@dataclass(frozen=True)
class NumberArg:
    """An argparse type: a finite real number, optionally bounded (see :func:`number`)."""

    low: float | None
    high: float | None
    low_open: bool = False

    @property
    def words(self) -> str:
        """What the option takes, in words."""
        bounds = _range_words(self.low, self.high, self.low_open)
        return "a finite number" + (f" {bounds}" if bounds else "")

    def __call__(self, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {self.words}, got {_shown(text)}"
            ) from None
        low, high = self.low, self.high
        too_low = low is not None and (value <= low if self.low_open else value < low)
        if not math.isfinite(value) or too_low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {self.words}, got {_shown(text)}")
        return value


def integer(low: int | None = None, high: int = MAX_INT) -> IntegerArg:
    """An argparse type: a whole number in ``[low, high]``.

    Parameters
    ----------
    low : int, optional
        Smallest value allowed (default ``-MAX_INT``).
    high : int
        Largest value allowed (default :data:`MAX_INT`).
    """
    return IntegerArg(-MAX_INT if low is None else low, high)


def number(
    low: float | None = None, high: float | None = None, *, low_open: bool = False
) -> NumberArg:
    """An argparse type: a finite real number, optionally bounded.

    Parameters
    ----------
    low, high : float, optional
        Bounds (inclusive; ``low_open=True`` makes the lower one exclusive).
    """
    return NumberArg(low, high, low_open)


@dataclass(frozen=True)
class IntegersArg:
    """An argparse type: comma-separated integers (see :func:`integers`)."""

    each: IntegerArg
    empty: bool = False

    def __call__(self, text: str) -> list[int]:
        if self.empty and not text.strip():
            return []
        items = [item.strip() for item in text.split(",")]
        if any(not item for item in items):
            raise argparse.ArgumentTypeError(
                f"must be comma-separated integers like '16,32', got {_shown(text)}"
            )
        try:
            return [self.each(item) for item in items]
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"each value {exc} (in {_shown(text)})") from None


@dataclass(frozen=True)
class NamesArg:
    """An argparse type: comma-separated names out of a list (see :func:`name_list`)."""

    choices: tuple[str, ...]
    empty: bool = False

    def __call__(self, text: str) -> list[str]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        unknown = [item for item in items if item not in self.choices]
        if unknown or (not items and not self.empty):
            raise argparse.ArgumentTypeError(
                f"must be comma-separated names out of {', '.join(self.choices)}, got "
                f"{_shown(text)}"
            )
        return items


def integers(low: int | None = None, high: int = MAX_INT, *, empty: bool = False) -> IntegersArg:
    """An argparse type: a comma-separated list of integers in ``[low, high]``.

    Parameters
    ----------
    low, high : int
        Bounds of each value (see :func:`integer`).
    empty : bool
        Whether an empty text (an empty list: "skip it") is allowed.
    """
    return IntegersArg(integer(low, high), empty)


def name_list(choices: Sequence[str], *, empty: bool = False) -> NamesArg:
    """An argparse type: a comma-separated list of names out of ``choices``.

    Parameters
    ----------
    choices : sequence of str
        The names allowed.
    empty : bool
        Whether an empty text (no names) is allowed.
    """
    return NamesArg(tuple(choices), empty)


@dataclass(frozen=True)
class ParsedArg:
    """An argparse type from a parser of the library: its
    :class:`~resonance_engine.errors.ConfigError` becomes argparse's one-line error.

    >>> from resonance_engine.dist.params import parse_param
    >>> ParsedArg(parse_param)("damping=0.1").values
    (0.1,)
    """

    parse: Callable[[str], Any]

    def __call__(self, text: str) -> Any:
        try:
            return self.parse(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None


#: A random seed (0 to 2**63 - 1).
SEED = integer(low=0)
#: A count of at least one (agents, steps per tick, workers, ...).
COUNT = integer(low=1)
#: A count that may be zero (0 usually means "none" or "skip").
COUNT0 = integer(low=0)
#: A number > 0.
POSITIVE = number(low=0.0, low_open=True)
#: A number >= 0.
NONNEGATIVE = number(low=0.0)
#: Any finite number.
FINITE = number()


def nonempty(text: str) -> str:
    """An argparse type: any text but the empty one."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def host_name(text: str) -> str:
    """An argparse type: a host name or address as a network library takes it (not empty,
    no spaces, at most 253 characters in labels of at most 63); ``*`` passes too."""
    if text == "*":
        return text
    labels = text.rstrip(".").split(".")
    if (not text.strip() or any(c.isspace() for c in text) or len(text) > 253
            or any(len(label) > 63 for label in labels)):
        raise argparse.ArgumentTypeError(
            f"must be a host name or address like 127.0.0.1 or example.org, got {_shown(text)}"
        )
    return text


#: A TCP port (0: pick a free one).
PORT = integer(low=0, high=65535)


def _path(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("must be a path, got an empty one")
    if "\0" in text:
        raise argparse.ArgumentTypeError(f"must be a path, got {_shown(text)} (a NUL byte)")
    return Path(text)


def input_file(text: str) -> Path:
    """An argparse type: a file that exists (not a folder)."""
    path = _path(text)
    try:
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{str(path)!r} is a folder, not a file")
        if not path.is_file():
            raise argparse.ArgumentTypeError(f"file {str(path)!r} does not exist")
    except OSError as exc:  # a name too long, ...
        raise argparse.ArgumentTypeError(f"cannot use {_shown(text)}: {exc.strerror}") from None
    return path


def input_folder(text: str) -> Path:
    """An argparse type: a folder that exists."""
    path = _path(text)
    try:
        if not path.is_dir():
            raise argparse.ArgumentTypeError(f"folder {str(path)!r} does not exist")
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot use {_shown(text)}: {exc.strerror}") from None
    return path


def output_file(text: str) -> Path:
    """An argparse type: a file to write (or to open, such as a database): not a folder,
    in a folder that exists. ``-`` (stdout) passes."""
    path = _path(text)
    if text == "-":
        return path
    try:
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{str(path)!r} is a folder, not a file")
        parent = path.parent
        if not parent.is_dir():
            raise argparse.ArgumentTypeError(
                f"folder {str(parent)!r} of {str(path)!r} does not exist; create it first"
            )
        # a name the file system refuses (too long) is found here, before any work
        path.exists()
        if len(path.name.encode()) > 255:
            raise argparse.ArgumentTypeError(f"file name of {_shown(text)} is too long")
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot use {_shown(text)}: {exc.strerror}") from None
    return path


def output_folder(text: str) -> Path:
    """An argparse type: a folder to write into (created later, with its parents): not an
    existing file, no part of it a file, no name too long."""
    path = _path(text)
    try:
        for part in (path, *path.parents):
            if part.exists() and not part.is_dir():
                raise argparse.ArgumentTypeError(f"{str(part)!r} is a file, not a folder")
        if any(len(name.encode()) > 255 for name in path.parts):
            raise argparse.ArgumentTypeError(f"a name in {_shown(text)} is too long")
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot use {_shown(text)}: {exc.strerror}") from None
    return path
