"""The 64-byte signature: layout, round trip, and corruption detection."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resonance_engine.errors import SignatureError
from resonance_engine.swarm.signature import SIGNATURE_SIZE, Signature

f32 = st.floats(width=32, allow_nan=False)
signatures = st.builds(
    Signature,
    agent=st.integers(0, 2**32 - 1),
    step=st.integers(0, 2**64 - 1),
    fractal_dim=f32,
    coherence=f32,
    gain=f32,
    dwell=f32,
    ci=f32,
    timestamp_us=st.integers(-(2**63), 2**63 - 1),
    drive_omega=st.one_of(st.just(0.0), st.floats(width=32, allow_nan=False, allow_infinity=False)),
    drive_phases=st.lists(st.floats(-100, 100), max_size=6).map(tuple),
)


@given(signatures)
def test_round_trip(sig: Signature) -> None:
    data = sig.encode()
    assert isinstance(data, bytes) and len(data) == SIGNATURE_SIZE == 64
    assert Signature.decode(data) == sig


@settings(max_examples=50)
@given(signatures, st.integers(0, 63), st.integers(1, 255))
def test_any_flipped_byte_is_caught(sig: Signature, position: int, xor: int) -> None:
    data = bytearray(sig.encode())
    data[position] ^= xor
    with pytest.raises(SignatureError):
        Signature.decode(bytes(data))


def test_layout_is_little_endian_and_documented() -> None:
    sig = Signature(7, 123456789, 1.5, 0.25, 2.0, 3.0, 0.125, timestamp_us=42)
    data = sig.encode()
    assert data[:2] == b"RS" and data[2] == 2 and data[3] == 0
    assert struct.unpack_from("<I", data, 4)[0] == 7
    assert struct.unpack_from("<Q", data, 8)[0] == 123456789
    assert struct.unpack_from("<q", data, 16)[0] == 42
    assert struct.unpack_from("<5f", data, 24) == (1.5, 0.25, 2.0, 3.0, 0.125)
    assert data[44:60] == bytes(16)
    assert struct.unpack_from("<I", data, 60)[0] == zlib.crc32(data[:60])


def _resealed(data: bytearray) -> bytes:
    data[60:64] = struct.pack("<I", zlib.crc32(bytes(data[:60])))
    return bytes(data)


@pytest.mark.parametrize(
    ("mutate", "word"),
    [
        (lambda d: d[:63], "64 bytes"),
        (lambda d: d + b"\0", "64 bytes"),
        (lambda d: _resealed(bytearray(b"XX" + d[2:])), "magic"),
        (lambda d: _resealed(bytearray(d[:2] + b"\x09" + d[3:])), "version"),
        (lambda d: d[:30] + bytes([d[30] ^ 1]) + d[31:], "checksum"),
    ],
)
def test_errors_say_which_check_failed(mutate, word: str) -> None:  # type: ignore[no-untyped-def]
    data = Signature(1, 2, 1.0, 1.0, 1.0, 1.0, 1.0).encode()
    with pytest.raises(SignatureError, match=word):
        Signature.decode(mutate(data))


def test_values_are_rounded_to_float32_and_validated() -> None:
    sig = Signature(0, 0, 0.1, 0.2, 0.3, 0.4, 0.5)
    assert sig.fractal_dim == float(np.float32(0.1))
    with pytest.raises(SignatureError, match="agent"):
        Signature(-1, 0, 0, 0, 0, 0, 0)
    with pytest.raises(SignatureError, match="float32"):
        Signature(0, 0, 1e300, 0, 0, 0, 0)
    with pytest.raises(SignatureError, match="number"):
        Signature(0, 0, "x", 0, 0, 0, 0)  # type: ignore[arg-type]


def test_from_metrics_reads_attributes() -> None:
    class M:
        fractal_dim, coherence, gain, dwell, ci = 1.6, 0.5, 2.0, 0.7, 0.9

    sig = Signature.from_metrics(3, 10, M(), timestamp_us=5)
    assert (sig.agent, sig.step, sig.ci, sig.timestamp_us) == (3, 10, float(np.float32(0.9)), 5)


def test_drive_payload_travels_in_the_former_reserved_bytes() -> None:
    quantum = 2 * np.pi / 65536
    sig = Signature(1, 2, 1.5, 0.5, 2.0, 3.0, 4.0, timestamp_us=5,
                    drive_omega=62.5, drive_phases=(0.0, np.pi, -np.pi / 2))
    data = sig.encode()
    assert len(data) == 64 and data[2] == 2 and data[3] == 3  # version 2, three phases
    assert struct.unpack_from("<f", data, 44)[0] == 62.5
    assert struct.unpack_from("<6H", data, 48) == (0, 32768, 49152, 0, 0, 0)
    back = Signature.decode(data)
    assert back == sig
    assert np.allclose(back.drive_phases, (0.0, np.pi, 1.5 * np.pi), atol=quantum)
    with pytest.raises(SignatureError, match="at most 6"):
        Signature(1, 2, 1, 1, 1, 1, 1, drive_omega=1.0, drive_phases=[0.0] * 7)


def test_version_1_records_still_decode() -> None:
    body = struct.pack("<2sBBIQq5f16s", b"RS", 1, 0, 3, 9, 11, 1.5, 0.5, 2.0, 3.0, 4.0, bytes(16))
    old = body + struct.pack("<I", zlib.crc32(body))
    sig = Signature.decode(old)
    assert (sig.agent, sig.step, sig.ci, sig.timestamp_us) == (3, 9, 4.0, 11)
    assert sig.drive_omega == 0.0 and sig.drive_phases == ()
    assert Signature.decode_many(old + sig.encode())[0] == [sig, sig]
