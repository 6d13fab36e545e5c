"""The dashboard's wire format: binary field frames and JSON messages.

A field frame is one binary WebSocket message: a 32-byte little-endian header followed
by ``width * height`` bytes, row 0 first (row 0 is the bottom of the field, y = 0).

====== ======= ===================================================================
offset type    meaning
====== ======= ===================================================================
0      2s      magic ``b"RF"``
2      u8      protocol version (:data:`PROTOCOL_VERSION`)
3      u8      kind (0 = field frame)
4      u16     member: batch member / agent shown (0 for a single field)
6      u16     width (cells after downsampling)
8      u16     height
10     u16     downsampling factor (cells of the field per frame cell, per side)
12     u64     solver step
20     f64     simulated time t (s)
28     f32     scale: a byte q stands for u = (q - 127.5) / 127.5 * scale
====== ======= ===================================================================

Everything else (hello, state, metric rows, control replies, alerts) is a JSON text
message with a ``type`` field; see the README section of the dashboard for the list.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from resonance_engine.errors import ConfigError
from resonance_engine.json_safe import dumps as strict_dumps

__all__ = [
    "PROTOCOL_VERSION",
    "FRAME_MAGIC",
    "HEADER",
    "FrameHeader",
    "FrameEncoder",
    "downsample",
    "decode_frame",
    "dumps",
]

PROTOCOL_VERSION = 1
FRAME_MAGIC = b"RF"
KIND_FIELD = 0
#: struct layout of the frame header (32 bytes, little-endian).
HEADER = struct.Struct("<2sBBHHHHQdf")


@dataclass(frozen=True)
class FrameHeader:
    """The decoded header of a field frame (see the module docstring)."""

    version: int
    kind: int
    member: int
    width: int
    height: int
    factor: int
    step: int
    t: float
    scale: float


def downsample(
    u: np.ndarray, max_side: int, out: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    """Block-average a field so that neither side exceeds ``max_side``.

    Parameters
    ----------
    u : ndarray, shape (ny, nx)
        The field.
    max_side : int
        Largest number of cells per side of the result, >= 1.
    out : ndarray, shape (ny // k, nx // k), float32, optional
        Where to write the result (saves an allocation per frame).

    Returns
    -------
    ndarray, shape (ny // k, nx // k), float32
        Means over k x k blocks (the last rows/columns that do not fill a block are
        dropped); a float32 copy of ``u`` when k = 1.
    int
        The factor k = ceil(max(ny, nx) / max_side).
    """
    if u.ndim != 2:
        raise ConfigError(f"a frame needs a 2D field, got shape {u.shape}")
    if max_side < 1:
        raise ConfigError(f"max_side must be >= 1, got {max_side}")
    ny, nx = u.shape
    k = max(1, math.ceil(max(ny, nx) / max_side))
    h, w = ny // k, nx // k
    if out is None or out.shape != (h, w) or out.dtype != np.float32:
        out = np.empty((h, w), dtype=np.float32)
    # k*k strided adds of (h, w) views: far faster than a mean over a 4D reshape
    np.copyto(out, u[0 : h * k : k, 0 : w * k : k], casting="unsafe")
    for i in range(k):
        for j in range(k):
            if i or j:
                out += u[i : h * k : k, j : w * k : k]
    if k > 1:
        out *= np.float32(1.0 / (k * k))
    return out, k


class FrameEncoder:
    """Turns fields into binary frames with a slowly decaying colour scale.

    The scale follows the peak |u| upwards at once and decays by ``decay`` per frame
    when the field calms down, so colours do not flicker from frame to frame.

    Parameters
    ----------
    max_side : int
        Largest frame side (cells); bigger fields are block-averaged.
    decay : float
        Per-frame factor in (0, 1] applied to the previous scale.
    """

    def __init__(self, max_side: int = 256, decay: float = 0.97) -> None:
        if not 16 <= max_side <= 4096:
            raise ConfigError(f"max_side must be in [16, 4096] cells, got {max_side}")
        if not 0 < decay <= 1:
            raise ConfigError(f"decay must be in (0, 1], got {decay}")
        self.max_side = max_side
        self.decay = decay
        self.scale = 0.0
        self._small: np.ndarray | None = None
        self._q: np.ndarray | None = None

    def encode(self, u: np.ndarray, step: int, t: float, member: int = 0) -> bytes:
        """Encode one field as a frame.

        Parameters
        ----------
        u : ndarray, shape (ny, nx)
            The field (any real dtype; non-finite values are shown as 0).
        step : int
            Solver step of the field.
        t : float
            Simulated time (s).
        member : int
            Batch member / agent index shown.
        """
        small, factor = downsample(u, self.max_side, self._small)
        self._small = small
        if not np.isfinite(small).all():
            np.nan_to_num(small, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        peak = float(max(small.max(initial=0.0), -small.min(initial=0.0)))
        self.scale = max(peak, self.scale * self.decay)
        scale = self.scale if self.scale > 0 else 1.0
        if self._q is None or self._q.shape != small.shape:
            self._q = np.empty(small.shape, dtype=np.float32)
        q = self._q
        np.multiply(small, np.float32(127.5 / scale), out=q)
        q += np.float32(128.0)  # + 127.5 for the offset, + 0.5 to round when truncating
        np.clip(q, 0.0, 255.0, out=q)
        payload = q.astype(np.uint8)
        height, width = payload.shape
        header = HEADER.pack(
            FRAME_MAGIC,
            PROTOCOL_VERSION,
            KIND_FIELD,
            member,
            width,
            height,
            factor,
            step,
            t,
            scale,
        )
        return header + payload.tobytes()


def decode_frame(data: bytes) -> tuple[FrameHeader, np.ndarray]:
    """Decode a binary frame.

    Returns
    -------
    FrameHeader
    ndarray, shape (height, width), float32
        The dequantized field, (q - 127.5) / 127.5 * scale.
    """
    if len(data) < HEADER.size:
        raise ConfigError(f"a frame has at least {HEADER.size} bytes, got {len(data)}")
    magic, version, kind, member, width, height, factor, step, t, scale = HEADER.unpack_from(data)
    if magic != FRAME_MAGIC or version != PROTOCOL_VERSION:
        raise ConfigError(
            f"not a version-{PROTOCOL_VERSION} field frame (magic {magic!r}, version {version})"
        )
    if len(data) != HEADER.size + width * height:
        raise ConfigError(
            f"frame of {width}x{height} needs {HEADER.size + width * height} bytes, got {len(data)}"
        )
    header = FrameHeader(version, kind, member, width, height, factor, step, t, scale)
    q = np.frombuffer(data, dtype=np.uint8, offset=HEADER.size).reshape(height, width)
    return header, (q.astype(np.float32) - 127.5) * np.float32(scale / 127.5)


def dumps(message: dict[str, Any]) -> str:
    """JSON text of a message; NaN and infinities become null (JSON has neither)."""
    return strict_dumps(message, separators=(",", ":"))
