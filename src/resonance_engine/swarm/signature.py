"""The complexity signature: a fixed 64-byte little-endian record an agent publishes.

Layout (offsets in bytes, all little-endian, no padding)::

    0   2s   magic        b"RS"
    2   B    version      2 (version 1 records are still decoded)
    3   B    flags        bits 0-2: number n of drive phases carried (0..6); bits 3-7 zero
    4   I    agent        agent id (uint32)
    8   Q    step         tick number of the agent (uint64)
    16  q    timestamp_us wall-clock time of the measurement (int64, microseconds since epoch)
    24  f    fractal_dim  D (float32)
    28  f    coherence    C (float32)
    32  f    gain         G (float32)
    36  f    dwell        tau (float32)
    40  f    ci           CI (float32)
    44  f    drive_omega  natural angular frequency of the agent's reference source (rad/s,
                          float32; 0 when the agent shares no drive)
    48  6H   drive_phase  phases of the agent's first n sources (uint16, phase = q 2 pi / 65536,
                          resolution 9.6e-5 rad; unused slots 0)
    60  I    crc32        zlib.crc32 of bytes 0..59

Version 1 had 16 zero bytes at offset 44 ("reserved"); it decodes with ``drive_omega`` 0
and no drive phases. Version 2 carries in those 16 bytes what the ``kuramoto`` coupling
exchanges (:mod:`resonance_engine.swarm.coupling`): the agent's drive frequency and
phases. Those are part of the agent's state (the phase of its drive), not a complexity
measure; a report of what the swarm exchanges says so.

The metric values travel as float32 and the phases as uint16, so a :class:`Signature`
rounds them when it is built: ``decode(encode(s)) == s`` holds exactly.
"""

from __future__ import annotations

import math
import struct
import time
import zlib
from typing import Any, NamedTuple

import numpy as np

from resonance_engine.errors import SignatureError

__all__ = [
    "Signature",
    "SIGNATURE_SIZE",
    "SIGNATURE_MAGIC",
    "SIGNATURE_VERSION",
    "SIGNATURE_VERSIONS_READ",
    "MAX_DRIVE_PHASES",
    "now_us",
]

SIGNATURE_MAGIC = b"RS"
SIGNATURE_VERSION = 2
#: Versions :meth:`Signature.decode` reads.
SIGNATURE_VERSIONS_READ = (1, 2)
#: Drive phases a signature can carry.
MAX_DRIVE_PHASES = 6
_BODY = struct.Struct("<2sBBIQq5ff6H")
_CRC = struct.Struct("<I")
_RECORD = struct.Struct("<2sBBIQq5ff6HI")
_PHASE_STEPS = 65536
_PHASE_QUANTUM = 2 * math.pi / _PHASE_STEPS
SIGNATURE_SIZE = _BODY.size + _CRC.size
assert SIGNATURE_SIZE == 64

_UINT32_MAX = 2**32 - 1
_UINT64_MAX = 2**64 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_F32_MAX = float(np.finfo(np.float32).max)


def now_us() -> int:
    """Current wall-clock time in integer microseconds since the Unix epoch."""
    return time.time_ns() // 1000


_F32X5 = struct.Struct("<5f")
_METRICS = ("fractal_dim", "coherence", "gain", "dwell", "ci")


def _f32_values(values: tuple[Any, ...]) -> tuple[float, ...]:
    """Round five metric values to float32 (as they travel), with clear errors."""
    try:
        return tuple(_F32X5.unpack(_F32X5.pack(*values)))
    except (struct.error, TypeError, OverflowError):
        pass
    for name, value in zip(_METRICS, values, strict=True):
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise SignatureError(f"Signature.{name} must be a number, got {value!r}") from None
        if math.isfinite(x) and abs(x) > _F32_MAX:
            raise SignatureError(
                f"Signature.{name} = {x!r} does not fit a float32 (|x| <= {_F32_MAX:.4g}); "
                "rescale the metric"
            )
    raise SignatureError(f"Signature metrics {values!r} cannot be stored as float32")


def _int(name: str, value: Any, low: int, high: int) -> int:
    if type(value) is int and low <= value <= high:
        return value
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise SignatureError(f"Signature.{name} must be an integer, got {value!r}")
    if not low <= int(value) <= high:
        raise SignatureError(f"Signature.{name} must be in [{low}, {high}], got {value!r}")
    return int(value)


def _drive(omega: Any, phases: Any) -> tuple[float, tuple[int, ...]]:
    """Round the drive payload as it travels: omega to float32, phases to uint16 steps."""
    try:
        w = float(omega)
        quanta = tuple(
            int(round((float(p) % (2 * math.pi)) / _PHASE_QUANTUM)) % _PHASE_STEPS
            for p in phases
        )
    except (TypeError, ValueError):
        raise SignatureError(
            f"Signature drive_omega must be a number and drive_phases a sequence of numbers, "
            f"got {omega!r} and {phases!r}"
        ) from None
    if not math.isfinite(w) or abs(w) > _F32_MAX:
        raise SignatureError(f"Signature.drive_omega must be a finite float32, got {omega!r}")
    if len(quanta) > MAX_DRIVE_PHASES:
        raise SignatureError(
            f"a signature carries at most {MAX_DRIVE_PHASES} drive phases, got {len(quanta)}; "
            "use fewer sources with the kuramoto coupling"
        )
    return struct.unpack("<f", struct.pack("<f", w))[0], quanta


class _SignatureFields(NamedTuple):
    agent: int
    step: int
    fractal_dim: float
    coherence: float
    gain: float
    dwell: float
    ci: float
    timestamp_us: int
    drive_omega: float = 0.0
    drive_phases: tuple[float, ...] = ()


class Signature(_SignatureFields):
    """One agent's complexity measures at one tick (64 bytes on the wire).

    An immutable named tuple (cheap to build and to decode by the hundred thousand).

    Parameters
    ----------
    agent : int
        Agent id, 0 <= agent < 2**32.
    step : int
        The agent's tick number, 0 <= step < 2**64.
    fractal_dim, coherence, gain, dwell, ci : float
        D, C, G, tau and CI of the agent's field (rounded to float32).
    timestamp_us : int, optional
        Measurement time (microseconds since the Unix epoch); defaults to now.
    drive_omega : float
        Natural angular frequency of the agent's reference drive source (rad/s; rounded
        to float32); 0 when the agent shares no drive.
    drive_phases : sequence of float
        Phases of the agent's first sources (rad, at most 6; rounded to steps of
        2 pi / 65536 in [0, 2 pi)); empty when the agent shares no drive.

    Notes
    -----
    Two signatures compare equal when every field is equal; a NaN metric makes a
    signature unequal to a decoded copy of itself, as NaN is to NaN.
    """

    __slots__ = ()

    def __new__(
        cls,
        agent: int,
        step: int,
        fractal_dim: float,
        coherence: float,
        gain: float,
        dwell: float,
        ci: float,
        timestamp_us: int | None = None,
        drive_omega: float = 0.0,
        drive_phases: Any = (),
    ) -> Signature:
        values = _f32_values((fractal_dim, coherence, gain, dwell, ci))
        omega, quanta = _drive(drive_omega, drive_phases) if len(drive_phases) or drive_omega \
            else (0.0, ())
        return tuple.__new__(cls, (
            _int("agent", agent, 0, _UINT32_MAX),
            _int("step", step, 0, _UINT64_MAX),
            *values,
            now_us() if timestamp_us is None
            else _int("timestamp_us", timestamp_us, _INT64_MIN, _INT64_MAX),
            omega,
            tuple(q * _PHASE_QUANTUM for q in quanta),
        ))

    @classmethod
    def from_metrics(
        cls,
        agent: int,
        step: int,
        metrics: Any,
        timestamp_us: int | None = None,
        drive_omega: float = 0.0,
        drive_phases: Any = (),
    ) -> Signature:
        """Build a signature from any object with ``fractal_dim``, ``coherence``, ``gain``,
        ``dwell`` and ``ci`` attributes (e.g. a ``ComplexityMetrics``), and an optional
        drive payload."""
        return cls(
            agent=agent,
            step=step,
            fractal_dim=metrics.fractal_dim,
            coherence=metrics.coherence,
            gain=metrics.gain,
            dwell=metrics.dwell,
            ci=metrics.ci,
            timestamp_us=now_us() if timestamp_us is None else timestamp_us,
            drive_omega=drive_omega,
            drive_phases=drive_phases,
        )

    def encode(self) -> bytes:
        """The 64-byte wire form (see the module docstring for the layout)."""
        n = len(self.drive_phases)
        quanta = [round(p / _PHASE_QUANTUM) % _PHASE_STEPS for p in self.drive_phases]
        quanta += [0] * (MAX_DRIVE_PHASES - n)
        body = _BODY.pack(
            SIGNATURE_MAGIC, SIGNATURE_VERSION, n, self.agent, self.step, self.timestamp_us,
            self.fractal_dim, self.coherence, self.gain, self.dwell, self.ci,
            self.drive_omega, *quanta,
        )
        return body + _CRC.pack(zlib.crc32(body))

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> Signature:
        """Parse the 64-byte wire form.

        Raises
        ------
        SignatureError
            When the length, magic, version or CRC32 checksum is wrong (the message says
            which, with the values seen).
        """
        if len(data) != SIGNATURE_SIZE:
            raise SignatureError(
                f"a signature is {SIGNATURE_SIZE} bytes, got {len(data)}; the message is not a "
                "resonance-engine signature or was truncated"
            )
        return _decode_at(cls, memoryview(data), 0)

    @classmethod
    def decode_many(
        cls, data: bytes | bytearray | memoryview
    ) -> tuple[list[Signature], list[SignatureError]]:
        """Parse a concatenation of 64-byte records (a batch message).

        Returns
        -------
        (signatures, errors)
            The records that decoded, and one SignatureError per record that did not.

        Raises
        ------
        SignatureError
            When the length is not a multiple of 64.
        """
        if len(data) % SIGNATURE_SIZE:
            raise SignatureError(
                f"a batch of signatures is a multiple of {SIGNATURE_SIZE} bytes, got "
                f"{len(data)}; the message was truncated or is not signatures"
            )
        view = memoryview(data)
        good: list[Signature] = []
        bad: list[SignatureError] = []
        for offset in range(0, len(data), SIGNATURE_SIZE):
            try:
                good.append(_decode_at(cls, view, offset))
            except SignatureError as exc:
                bad.append(exc)
        return good, bad


def _decode_at(cls: type[Signature], view: memoryview, offset: int) -> Signature:
    (magic, version, flags, agent, step, ts, d, c, g, tau, ci, omega,
     *quanta, stored) = _RECORD.unpack_from(view, offset)
    if magic != SIGNATURE_MAGIC:
        raise SignatureError(
            f"bad signature magic {magic!r}, expected {SIGNATURE_MAGIC!r}; the message is "
            "not a resonance-engine signature"
        )
    if version not in SIGNATURE_VERSIONS_READ:
        raise SignatureError(
            f"unsupported signature version {version}, this library reads versions "
            f"{', '.join(map(str, SIGNATURE_VERSIONS_READ))}; use the same resonance-engine "
            "version on every agent"
        )
    computed = zlib.crc32(view[offset : offset + _BODY.size])
    if stored != computed:
        raise SignatureError(
            f"signature checksum mismatch: stored CRC32 {stored:#010x}, computed "
            f"{computed:#010x}; the message was corrupted in transit"
        )
    if version == 1:  # the 16 bytes were reserved zeros: no drive payload
        return tuple.__new__(cls, (agent, step, d, c, g, tau, ci, ts, 0.0, ()))
    n = flags & 0x07
    if flags & ~0x07 or n > MAX_DRIVE_PHASES:
        raise SignatureError(
            f"bad signature flags {flags:#04x} (at most {MAX_DRIVE_PHASES} drive phases, "
            "high bits zero); the message is not a valid version-2 signature"
        )
    phases = tuple(q * _PHASE_QUANTUM for q in quanta[:n])
    return tuple.__new__(cls, (agent, step, d, c, g, tau, ci, ts, omega, phases))
