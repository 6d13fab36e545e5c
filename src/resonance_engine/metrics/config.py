"""Parameters of the complexity measures (:class:`MetricsConfig`, pydantic)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from resonance_engine.validation import ConfigModel

__all__ = ["MetricsConfig"]


class MetricsConfig(ConfigModel):
    """Every constant of D, G, C, tau and CI, with its default.

    Attributes
    ----------
    threshold : float or None
        Absolute amplitude threshold theta of the mask |u| > theta (units of u). None (the
        default) uses ``threshold_rms`` times the RMS of each frame.
    threshold_rms : float
        Relative threshold: theta = threshold_rms * sqrt(mean(u^2)) (default 1.0: the
        cells whose amplitude exceeds the frame's RMS).
    fractal_mode : "occupancy" or "boundary"
        Box counting: boxes with any active cell (the seed's method), or boxes that are
        active but not full (the mask's boundary).
    min_box, max_box : int
        Smallest and largest box size of the fit (powers of two, cells). ``max_box`` None
        means the largest power of two <= min(ny, nx) / 4.
    gain_window : int
        Odd side of the square window of the gain (cells, default 5).
    coherence_sigma : float
        Standard deviation of the Gaussian weights of the local moments (cells, default 2).
    coherence_truncate : float
        The Gaussian is cut at ``truncate * sigma`` cells (default 3).
    coherence_normalize : "frame" or "bounded"
        "frame": C = 1/(var + eps) rescaled to [0, 1] by the frame's min and max (the
        seed). "bounded": C = 1 / (1 + var / coherence_scale), frame-independent.
    coherence_eps : float
        eps of 1/(var + eps) (units of u^2, default 1e-6).
    coherence_scale : float
        Variance scale of the bounded form (units of u^2, default 1.0): C = 1/2 where the
        local variance equals it.
    dwell_history : int
        Past frames K kept in the ring buffer (default 16).
    dwell_lambda : float
        Decay of the lag weights exp(-k / lambda) (frames, default 4).
    dwell_scale : float
        Similarity scale relative to the frame's RMS: h = dwell_scale * RMS (default 1).
    dwell_storage : "int16" or "float"
        How past frames are stored: 16-bit codes scaled to each frame's max |u| (half the
        memory traffic; error <= max|u| / 65534 per cell) or the field's own dtype.
    alpha, beta, gamma : float
        CI = alpha * D^beta * G * C * (1 - exp(-tau / gamma)); gamma in frames of dwell.
    backend : "auto", "numpy", "numba" or "wgpu"
        "wgpu" runs every measure on the GPU (host frames are uploaded); with "auto" a
        solver on the wgpu backend is measured on the GPU too (``observe``).
    """

    threshold: float | None = Field(default=None, ge=0)
    threshold_rms: float = Field(default=1.0, ge=0)
    fractal_mode: Literal["occupancy", "boundary"] = "occupancy"
    min_box: int = Field(default=2, ge=1)
    max_box: int | None = Field(default=None, ge=2)
    gain_window: int = Field(default=5, ge=1)
    coherence_sigma: float = Field(default=2.0, gt=0)
    coherence_truncate: float = Field(default=3.0, gt=0)
    coherence_normalize: Literal["frame", "bounded"] = "frame"
    coherence_eps: float = Field(default=1e-6, gt=0)
    coherence_scale: float = Field(default=1.0, gt=0)
    dwell_history: int = Field(default=16, ge=1, le=1024)
    dwell_lambda: float = Field(default=4.0, gt=0)
    dwell_scale: float = Field(default=1.0, gt=0)
    dwell_storage: Literal["int16", "float"] = "int16"
    alpha: float = 1.0
    beta: float = 1.0
    gamma: float = Field(default=1.0, gt=0)
    backend: Literal["auto", "numpy", "numba", "wgpu"] = "auto"

    @field_validator("gain_window")
    @classmethod
    def _odd_window(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"gain_window must be odd (a centred window), got {value}")
        return value

    @field_validator("min_box", "max_box")
    @classmethod
    def _power_of_two(cls, value: int | None) -> int | None:
        if value is not None and value & (value - 1):
            raise ValueError(f"box sizes are powers of two, got {value}")
        return value
