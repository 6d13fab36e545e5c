"""A 128-number complexity fingerprint of a field, for similarity search.

Layout (:data:`FINGERPRINT_LAYOUT`), each block first scaled to unit length, weighted,
then the whole vector scaled to unit length (so cosine distance = 1 - dot product):

``box`` [0, 32)
    Multi-scale occupancy: for 4 thresholds (0.5, 1, 1.5, 2 x the RMS of the field) and
    8 box sizes (1, 2, 4, ..., 128 cells, capped at half the grid), the fraction of boxes
    holding a cell with ``|u|`` above the threshold. This is the box-counting curve N(eps)
    behind the fractal dimension D, normalised by the number of boxes.
``spectrum`` [32, 64)
    Radially averaged power spectrum of ``u - mean(u)``: power in 32 equal rings of
    spatial frequency from 0 to the Nyquist frequency (0.5 cycles per cell), as a
    distribution (sum 1), square-rooted (so that cosine similarity of two blocks is the
    Bhattacharyya coefficient of the two spectra).
``amplitude`` [64, 80)
    Histogram of ``u / rms(u)`` in 16 bins over [-4, 4] (outliers in the edge bins), as a
    square-rooted distribution.
``regions`` [80, 96)
    Where the energy is: the share of ``sum(u^2)`` in each cell of a 4 x 4 partition of
    the grid (row-major), square-rooted. It separates damping (energy near the sources)
    and boundaries (reflections spread it) that leave the spectrum unchanged.
``metrics`` [96, 128)
    Histograms (8 bins each over [0, 4) of the field divided by its mean absolute value,
    square-rooted distributions) of the metric fields ``gain_field``,
    ``coherence_field``, ``dwell_field`` and ``ci_field`` of the metrics object, when it
    has them; zeros for fields that are absent or None.

The weights (:data:`BLOCK_WEIGHTS`) favour the stable blocks: a single frame's spectrum
and amplitude histogram fluctuate with the source phases, the region shares and box
counts much less. The fingerprint does not depend on the overall amplitude or sign of the
field: it describes spatial scales, structure across thresholds, amplitude statistics
and where the energy sits. Fingerprints are comparable between
fields of the same grid size computed the same way (with or without metric fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from resonance_engine.errors import FieldError
from resonance_engine.store.schema import VECTOR_DIM

__all__ = ["fingerprint", "FINGERPRINT_LAYOUT", "BLOCK_WEIGHTS"]

#: Block name -> (start, stop) index in the fingerprint.
FINGERPRINT_LAYOUT: dict[str, tuple[int, int]] = {
    "box": (0, 32),
    "spectrum": (32, 64),
    "amplitude": (64, 80),
    "regions": (80, 96),
    "metrics": (96, 128),
}

#: Weight of each (unit-length) block before the final normalisation.
BLOCK_WEIGHTS: dict[str, float] = {
    "box": 1.0, "spectrum": 0.5, "amplitude": 0.5, "regions": 2.0, "metrics": 1.0,
}

_THRESHOLDS = (0.5, 1.0, 1.5, 2.0)
_BOX_LEVELS = 8
_SPECTRUM_BINS = 32
_REGIONS = 4
_AMPLITUDE_BINS = 16
_METRIC_FIELDS = ("gain_field", "coherence_field", "dwell_field", "ci_field")
_METRIC_BINS = 8


def _unit(block: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(block))
    return block / norm if norm > 0 else block


def _sqrt_distribution(counts: np.ndarray) -> np.ndarray:
    total = float(counts.sum())
    return np.sqrt(counts / total) if total > 0 else np.zeros_like(counts, dtype=np.float64)


def _box_block(magnitude: np.ndarray, rms: float) -> np.ndarray:
    out = np.zeros((len(_THRESHOLDS), _BOX_LEVELS))
    if rms == 0:
        return out.ravel()
    thresholds = np.array(_THRESHOLDS) * rms
    pooled = magnitude
    max_size = max(1, min(magnitude.shape) // 2)
    for level in range(_BOX_LEVELS):
        if level > 0 and 2 ** level <= max_size:
            ny, nx = (pooled.shape[0] // 2) * 2, (pooled.shape[1] // 2) * 2
            pooled = pooled[:ny, :nx].reshape(ny // 2, 2, nx // 2, 2).max(axis=(1, 3))
        boxes = pooled.ravel()
        out[:, level] = (boxes[None, :] > thresholds[:, None]).mean(axis=1)
    return out.ravel()


def _spectrum_block(u: np.ndarray) -> np.ndarray:
    power = np.abs(np.fft.rfft2(u - u.mean())) ** 2
    ky = np.fft.fftfreq(u.shape[0])[:, None]
    kx = np.fft.rfftfreq(u.shape[1])[None, :]
    radius = np.sqrt(kx**2 + ky**2) / 0.5  # 1 = Nyquist
    # columns 1..n/2-1 of the half spectrum stand for two columns of the full one
    weight = np.full(kx.shape, 2.0)
    weight[:, 0] = 1.0
    if u.shape[1] % 2 == 0:
        weight[:, -1] = 1.0
    index = np.minimum((radius * _SPECTRUM_BINS).astype(np.int64), _SPECTRUM_BINS)
    sums = np.bincount(index.ravel(), weights=(power * weight).ravel(),
                       minlength=_SPECTRUM_BINS + 1)
    return _sqrt_distribution(sums[:_SPECTRUM_BINS])


def _amplitude_block(u: np.ndarray, rms: float) -> np.ndarray:
    z = u / rms if rms > 0 else np.zeros_like(u)
    z = np.clip(z, -3.999, 3.999)
    counts, _ = np.histogram(z, bins=_AMPLITUDE_BINS, range=(-4.0, 4.0))
    return _sqrt_distribution(counts.astype(np.float64))


def _regions_block(u: np.ndarray) -> np.ndarray:
    rows = np.array_split(u * u, _REGIONS, axis=0)
    energy = [part.sum() for row in rows for part in np.array_split(row, _REGIONS, axis=1)]
    return _sqrt_distribution(np.array(energy, dtype=np.float64))


def _metric_field(metrics: Any, name: str) -> Any:
    if metrics is None:
        return None
    if isinstance(metrics, Mapping):
        return metrics.get(name)
    return getattr(metrics, name, None)


def _metrics_block(metrics: Any) -> np.ndarray:
    blocks = []
    for name in _METRIC_FIELDS:
        values = _metric_field(metrics, name)
        counts = np.zeros(_METRIC_BINS)
        if values is not None:
            arr = np.asarray(values, dtype=np.float64)
            arr = arr[np.isfinite(arr)]
            scale = float(np.mean(np.abs(arr))) if arr.size else 0.0
            if scale > 0:
                z = np.clip(np.abs(arr) / scale, 0.0, 3.999)
                counts, _ = np.histogram(z, bins=_METRIC_BINS, range=(0.0, 4.0))
        blocks.append(_sqrt_distribution(np.asarray(counts, dtype=np.float64)))
    return np.concatenate(blocks)


def fingerprint(field: Any, metrics: Any = None) -> np.ndarray:
    """The complexity fingerprint of one frame.

    Parameters
    ----------
    field : array-like, shape (ny, nx)
        The wave field u (any units), finite; at least 4 x 4 cells.
    metrics : object or mapping, optional
        Complexity metrics of the frame (e.g. ``ComplexityMetrics``); its optional
        ``gain_field``, ``coherence_field``, ``dwell_field`` and ``ci_field`` arrays
        fill the ``metrics`` block (see the module docstring). Missing or None fields
        leave zeros.

    Returns
    -------
    ndarray, float32, shape (128,)
        Unit L2 norm. A field that is zero everywhere gets a fixed vector (all its
        amplitude mass at 0).

    Raises
    ------
    FieldError
        Wrong shape or non-finite values.
    """
    u = np.asarray(field, dtype=np.float64)
    if u.ndim != 2 or min(u.shape) < 4:
        raise FieldError(f"fingerprint needs a 2D field of at least 4x4 cells, got shape {u.shape}")
    if not np.all(np.isfinite(u)):
        raise FieldError(
            f"fingerprint: the field holds {int(np.count_nonzero(~np.isfinite(u)))} "
            "non-finite values (did the simulation diverge?)"
        )
    rms = float(np.sqrt(np.mean(u * u)))
    blocks = {
        "box": _box_block(np.abs(u), rms),
        "spectrum": _spectrum_block(u),
        "amplitude": _amplitude_block(u, rms),
        "regions": _regions_block(u),
        "metrics": _metrics_block(metrics),
    }
    vector = np.zeros(VECTOR_DIM)
    for name, (start, stop) in FINGERPRINT_LAYOUT.items():
        vector[start:stop] = BLOCK_WEIGHTS[name] * _unit(blocks[name])
    return _unit(vector).astype(np.float32)
