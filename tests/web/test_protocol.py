"""Binary frames and JSON messages of the dashboard protocol."""

from __future__ import annotations

import json

import numpy as np
import pytest

from resonance_engine.errors import ConfigError
from resonance_engine.web.protocol import (
    HEADER,
    FrameEncoder,
    decode_frame,
    downsample,
    dumps,
)


def test_header_is_32_bytes() -> None:
    assert HEADER.size == 32


def test_downsample_is_the_block_mean(rng: np.random.Generator) -> None:
    u = rng.standard_normal((70, 50))
    small, k = downsample(u, 16)
    assert k == 5  # ceil(70 / 16)
    assert small.shape == (14, 10)
    expected = np.array(
        [[u[5 * i : 5 * i + 5, 5 * j : 5 * j + 5].mean() for j in range(10)] for i in range(14)]
    )
    np.testing.assert_allclose(small, expected, rtol=1e-5, atol=1e-6)


def test_downsample_keeps_small_fields(rng: np.random.Generator) -> None:
    u = rng.standard_normal((20, 30))
    small, k = downsample(u, 64)
    assert k == 1
    np.testing.assert_array_equal(small, u.astype(np.float32))


def test_round_trip_within_one_quantum(rng: np.random.Generator) -> None:
    u = rng.standard_normal((64, 96)).astype(np.float32)
    frame = FrameEncoder(max_side=256).encode(u, step=1234567890123, t=2.5, member=3)
    header, back = decode_frame(frame)
    assert (header.width, header.height, header.factor) == (96, 64, 1)
    assert (header.step, header.t, header.member) == (1234567890123, 2.5, 3)
    assert header.scale == pytest.approx(np.abs(u).max(), rel=1e-6)
    assert len(frame) == 32 + 64 * 96
    # quantization error: at most half a step of 2 * scale / 255
    assert np.max(np.abs(back - u)) <= header.scale / 255 + 1e-6


def test_row_zero_comes_first() -> None:
    u = np.zeros((32, 32))
    u[0, :] = 1.0  # bottom row positive
    _, back = decode_frame(FrameEncoder(32).encode(u, 0, 0.0))
    assert back[0].min() > 0.99 and abs(back[1:]).max() < 0.01


def test_scale_decays_slowly_and_rises_at_once() -> None:
    encoder = FrameEncoder(max_side=32, decay=0.5)
    loud, quiet = np.full((8, 8), 4.0), np.full((8, 8), 1.0)
    assert decode_frame(encoder.encode(loud, 0, 0.0))[0].scale == 4.0
    assert decode_frame(encoder.encode(quiet, 1, 0.1))[0].scale == 2.0
    assert decode_frame(encoder.encode(quiet, 2, 0.2))[0].scale == 1.0
    assert decode_frame(encoder.encode(loud * 2, 3, 0.3))[0].scale == 8.0


def test_non_finite_values_show_as_zero() -> None:
    u = np.ones((16, 16))
    u[3, 4], u[5, 6] = np.nan, np.inf
    _, back = decode_frame(FrameEncoder(16).encode(u, 0, 0.0))
    assert abs(back[3, 4]) < 0.01 and abs(back[5, 6]) < 0.01
    assert back[0, 0] > 0.99


def test_bad_frames_are_refused() -> None:
    frame = FrameEncoder(32).encode(np.ones((8, 8)), 0, 0.0)
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        decode_frame(frame[:10])
    with pytest.raises(ConfigError, match="needs"):
        decode_frame(frame[:-1])
    with pytest.raises(ConfigError, match="not a version"):
        decode_frame(b"XX" + frame[2:])


def test_bad_encoder_settings() -> None:
    with pytest.raises(ConfigError, match="max_side"):
        FrameEncoder(max_side=4)
    with pytest.raises(ConfigError, match="decay"):
        FrameEncoder(decay=0.0)
    with pytest.raises(ConfigError, match="2D"):
        downsample(np.zeros((2, 3, 4)), 8)


def test_dumps_turns_non_finite_into_null() -> None:
    text = dumps({"rows": [[1, float("nan"), np.float32(2.5)]], "x": float("inf")})
    assert json.loads(text) == {"rows": [[1, None, 2.5]], "x": None}
