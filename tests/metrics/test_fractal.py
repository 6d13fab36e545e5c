"""Box counting on exact sets, modes, grid shapes and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resonance_engine.errors import ConfigError, FieldError, MetricError
from resonance_engine.metrics import fractal_dimension
from resonance_engine.metrics.fractal import (
    box_sizes,
    fit_dimension,
    fit_dimensions,
    local_slopes,
    scaling_ranges,
)

from .exact_sets import embed, sierpinski_carpet, sierpinski_triangle

LOG2_3 = math.log(3) / math.log(2)
CARPET = math.log(8) / math.log(3)


@pytest.mark.parametrize("shape", [(256, 256), (300, 333), (129, 97)])
def test_straight_line_has_dimension_one(shape: tuple[int, int], backend: str) -> None:
    mask = np.zeros(shape, dtype=bool)
    mask[shape[0] // 3, : shape[1] // 16 * 16] = True  # a multiple of the largest box
    fit = fractal_dimension(mask, backend=backend)
    assert fit.dimension == pytest.approx(1.0, abs=0.03)
    assert fit.r2 > 0.99


def test_diagonal_line_has_dimension_one(backend: str) -> None:
    mask = np.eye(256, dtype=bool)
    assert fractal_dimension(mask, backend=backend).dimension == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize(("shape", "offset"), [((256, 256), (0, 0)), ((200, 230), (32, 64))])
def test_filled_square_has_dimension_two(
    shape: tuple[int, int], offset: tuple[int, int], backend: str
) -> None:
    mask = embed(np.ones((128, 128), dtype=bool), shape, offset)
    fit = fractal_dimension(mask, backend=backend)
    assert fit.dimension == pytest.approx(2.0, abs=0.03)


def test_full_power_of_two_grid_counts_every_box(backend: str) -> None:
    fit = fractal_dimension(np.ones((128, 128), dtype=bool), backend=backend)
    assert fit.counts.tolist() == [(128 // s) ** 2 for s in fit.box_sizes]


@pytest.mark.parametrize(("order", "shape"), [(8, (256, 256)), (9, (512, 512)), (8, (300, 281))])
def test_sierpinski_triangle(order: int, shape: tuple[int, int], backend: str) -> None:
    mask = embed(sierpinski_triangle(order), shape, (0, 0))
    fit = fractal_dimension(mask, backend=backend)
    assert fit.dimension == pytest.approx(LOG2_3, abs=0.02)
    assert fit.r2 > 0.999


@pytest.mark.parametrize(
    ("n", "shape"), [(512, (512, 512)), (1024, (1024, 1024)), (512, (700, 650))]
)
def test_sierpinski_carpet(n: int, shape: tuple[int, int], backend: str) -> None:
    depth = int(math.log(n) / math.log(3))
    mask = embed(sierpinski_carpet(n, depth), shape, (0, 0))
    fit = fractal_dimension(mask, backend=backend)
    assert fit.dimension == pytest.approx(CARPET, abs=0.03)


def test_boundary_mode_on_a_disk_is_about_one(backend: str) -> None:
    y, x = np.mgrid[0:512, 0:512]
    disk = (y - 250.3) ** 2 + (x - 260.7) ** 2 < 180.0**2
    # a digital circle is a staircase at the scale of a few cells: fit 8..64
    boundary = fractal_dimension(disk, mode="boundary", min_box=8, max_box=64, backend=backend)
    occupancy = fractal_dimension(disk, backend=backend)
    assert boundary.dimension == pytest.approx(1.0, abs=0.1)
    assert occupancy.dimension > 1.8


def test_boundary_counts_are_active_and_not_full() -> None:
    mask = np.zeros((64, 64), dtype=bool)
    mask[:, :33] = True  # a vertical edge at column 33: one column of boxes crosses it
    fit = fractal_dimension(
        mask, mode="boundary", min_box=2, max_box=16, offsets="none", backend="numpy"
    )
    assert fit.counts.tolist() == [32, 16, 8, 4]


def test_field_threshold_defaults_to_rms(backend: str) -> None:
    u = np.zeros((64, 64))
    u[10, :] = 3.0
    u[40, 5] = 0.1  # below the RMS: not in the mask
    fit = fractal_dimension(u, backend=backend)
    assert fit.threshold == pytest.approx(float(np.sqrt(np.mean(u**2))))
    assert fit.dimension == pytest.approx(1.0, abs=1e-9)
    # an explicit threshold puts the small cell in (it only adds a box, D drops)
    assert fractal_dimension(u, threshold=0.05, backend=backend).dimension < 1.0


def test_partial_boxes_count_like_padding() -> None:
    mask = np.zeros((70, 70), dtype=bool)
    mask[69, 69] = True  # alone in the corner partial box at every size
    fit = fractal_dimension(mask, backend="numba")
    assert fit.counts.tolist() == [1, 1, 1, 1]
    assert fit.dimension == pytest.approx(0.0, abs=1e-12)
    assert fit.r2 == 1.0


def test_empty_mask_is_a_clear_error(backend: str) -> None:
    with pytest.raises(MetricError, match="no active cell"):
        fractal_dimension(np.zeros((64, 64), dtype=bool), backend=backend)
    with pytest.raises(MetricError, match="no active cell"):
        fractal_dimension(np.zeros((64, 64)), backend=backend)


def test_full_mask_has_no_boundary() -> None:
    with pytest.raises(MetricError, match="boundary"):
        fractal_dimension(np.ones((64, 64), dtype=bool), mode="boundary")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_field_is_rejected(bad: float) -> None:
    u = np.ones((64, 64))
    u[3, 4] = bad
    with pytest.raises(FieldError, match="NaN/inf"):
        fractal_dimension(u)


@pytest.mark.parametrize("shape", [(64,), (2, 64, 64), (0, 64)])
def test_wrong_rank_or_empty_is_rejected(shape: tuple[int, ...]) -> None:
    with pytest.raises(FieldError):
        fractal_dimension(np.ones(shape))


def test_too_small_grid_and_bad_sizes() -> None:
    with pytest.raises(MetricError, match="two box sizes"):
        fractal_dimension(np.ones((8, 8), dtype=bool))
    with pytest.raises(ConfigError, match="power of 2"):
        box_sizes((64, 64), min_box=3)
    with pytest.raises(ConfigError, match="mode"):
        fractal_dimension(np.ones((64, 64), dtype=bool), mode="corners")


def test_box_sizes_default_to_a_quarter_of_the_grid() -> None:
    assert box_sizes((256, 300)).tolist() == [2, 4, 8, 16, 32, 64]
    assert box_sizes((255, 300)).tolist() == [2, 4, 8, 16, 32]
    assert box_sizes((256, 256), min_box=1, max_box=8).tolist() == [1, 2, 4, 8]


def test_fit_recovers_a_power_law() -> None:
    sizes = np.array([2, 4, 8, 16])
    slope, r2 = fit_dimension(sizes, 1000.0 * sizes**-1.37)
    assert slope == pytest.approx(1.37)
    assert r2 == pytest.approx(1.0)


def test_fits_of_many_members_match_a_least_squares_line_each() -> None:
    """The analyzer fits every member at once: each row is its own least-squares line."""
    rng = np.random.default_rng(5)
    sizes = np.array([2, 4, 8, 16, 32])
    counts = np.exp(rng.uniform(0, 9, (6, 5)))
    counts[2] = 7.0  # equal counts: slope 0
    counts[3] = 1000.0 * sizes**-1.6 * np.array([1.0, 1.0, 1.0, 1.0, 3.0])  # no scaling range
    slopes, r2 = fit_dimensions(sizes, counts)
    x = -np.log(sizes)
    for k in range(6):
        line = np.polyfit(x, np.log(counts[k]), 1)
        resid = np.log(counts[k]) - np.polyval(line, x)
        spread = ((np.log(counts[k]) - np.log(counts[k]).mean()) ** 2).sum()
        assert slopes[k] == pytest.approx(line[0], abs=1e-12)
        if spread > 1e-20:
            assert r2[k] == pytest.approx(1 - (resid**2).sum() / spread)
        assert fit_dimension(sizes, counts[k]) == (slopes[k], r2[k])
    scaling = scaling_ranges(slopes, local_slopes(sizes, counts), 0.15)
    assert scaling[2] and not scaling[3]
    assert not scaling_ranges(slopes[:1], local_slopes(sizes[:2], counts[:1, :2]), 1.0)[0]


def test_the_shift_bias_that_readme_states() -> None:
    """README: with the blueprint's anchored grid a 243-cell carpet shifted by (30, 30) in
    a 300 x 300 grid reads 1.756, a carpet filling 600 x 600 reads 1.863 (against
    log 8 / log 3 = 1.893); the default (smallest count over shifted grids) is closer."""
    shifted = embed(sierpinski_carpet(243, 5), (300, 300), (30, 30))
    seed = fractal_dimension(shifted, offsets="none", backend="numpy").dimension
    assert seed == pytest.approx(1.756, abs=0.002)
    filling = embed(sierpinski_carpet(600, 5), (600, 600), (0, 0))
    seed = fractal_dimension(filling, offsets="none", backend="numpy").dimension
    assert seed == pytest.approx(1.863, abs=0.002)
    assert fractal_dimension(shifted, backend="numpy").dimension == pytest.approx(
        math.log(8) / math.log(3), abs=0.05
    )
