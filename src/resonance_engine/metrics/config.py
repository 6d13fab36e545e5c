"""Parameters of the complexity measures (:class:`MetricsConfig`, pydantic)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from resonance_engine.validation import ConfigModel

__all__ = ["MetricsConfig"]


class MetricsConfig(ConfigModel):
    """Every constant of D, G, C, tau and CI, with its default.

    The defaults are the calibrated forms (each measure responds to the field rather than
    to its own settings); :meth:`blueprint` gives the seed's forms exactly. The fields
    whose meaning depends on the form are marked.

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
    fractal_offsets : "min" or "none"
        "min" (default): N(s) is the mean count over the tight shifted box grids, those
        that cover the mask's extent with the fewest rows and columns of boxes (shifts of
        s/2 for s = 4, 8, of s/4 for 16, of s/8 from 32: the fix of the bias of a grid
        that happens not to align with the set, without picking the luckiest grid; the
        mean over all the shifts in boundary mode);
        "none": boxes tile the grid from cell (0, 0) (seed).
    box_base : 2 or 3
        Box sizes are powers of ``box_base`` (cells); base 3 suits sets built on thirds.
    min_box, max_box : int
        Smallest and largest box size of the fit (powers of ``box_base``, cells).
        ``max_box`` None means the largest power <= min(ny, nx) / 4. ``min_box`` None
        means 2 for base 2 and 3 for base 3.
    scaling_band : float
        A power law holds over the fitted sizes when every local slope (between
        successive sizes) lies within D +- scaling_band and there are at least three
        sizes (default 0.15); otherwise the result says there is no scaling range.
    gain_window : int
        Odd side of the square window of the gain (cells, default 5).
    gain_scale : "none", "rms" or "fixed"
        G in units of u ("none", default and the seed's: CI follows the amplitude through
        G alone, linearly, since D, C and tau do not depend on it), divided by the frame's
        RMS ("rms": G and CI do not depend on the amplitude) or by ``gain_reference``
        ("fixed": G in units of the reference).
    gain_reference : float
        The reference amplitude of ``gain_scale="fixed"`` (units of u).
    coherence_sigma : float
        Standard deviation of the Gaussian weights of the local moments (cells, default 2).
    coherence_truncate : float
        The Gaussian is cut at ``truncate * sigma`` cells (default 3).
    coherence_normalize : "local", "relative", "bounded" or "frame"
        From the local moments m1 = E_w[x], m2 = E_w[x^2] (x = u - frame mean) and
        var = m2 - m1^2:
        "local" (default): C = m1^2 / m2 = 1 - var / m2, the share of the local mean
        square carried by the local mean (1 where the field is locally constant, about 0
        for white noise; low along the lines where the field crosses its mean); does not
        depend on the amplitude, C(a u) = C(u).
        "relative": C = 1 / (1 + var / (coherence_scale * frame variance)), also
        amplitude-independent.
        "bounded": C = 1 / (1 + var / coherence_scale), coherence_scale in units of u^2.
        "frame" (seed): C = 1/(var + eps) rescaled to [0, 1] by the frame's min and max.
    coherence_edge : "inward" or "renormalize"
        Near the grid's edge the moments use the full window moved inside the grid (the
        window of the nearest cell whose window fits: "inward", default), or the part of
        the centred window inside the grid with its weights renormalised (seed; a smaller
        window sees less variance, which favours the border band).
    coherence_eps : float
        eps of 1/(var + eps) (units of u^2, default 1e-6; "frame" only).
    coherence_scale : float
        Variance scale of "relative" (a fraction of the frame variance, default 0.1) and
        of "bounded" (units of u^2; the seed's value is 1.0).
    dwell_mode : "recursive" or "ring"
        "recursive" (default), in seconds: tau integrates dtau/dt = 1 - tau / lambda -
        tau |du/dt| / h exactly over each frame interval (|du/dt| from the difference to
        the previous frame; see :mod:`~resonance_engine.metrics.dwell`): it grows by the
        time a cell keeps its value and is cut down by its change, and does not depend
        on the measuring interval while the frames resolve the motion (below 4 frames
        per period of the dominant frequency the result carries an aliasing note).
        "ring" (seed), in frames: tau = sum_k exp(-k / dwell_lambda) s(u_t, u_{t-k})
        over the last ``dwell_history`` frames.
    dwell_history : int
        Past frames K kept in the ring buffer (default 16; "ring" only).
    dwell_lambda : float
        Memory of the dwell: seconds for "recursive" (default 0.1 s), frames for "ring"
        (the seed's 4).
    dwell_scale : float
        Similarity scale relative to the frame's RMS: h = dwell_scale * RMS (default 1).
    dwell_storage : "int16" or "float"
        How past frames are stored in the ring: 16-bit codes scaled to each frame's max
        |u| (half the memory traffic; error <= max|u| / 65534 per cell) or the field's own
        dtype. The recursive form keeps the previous frame in the field's dtype.
    frame_interval : float or None
        Seconds between frames when :meth:`ComplexityAnalyzer.update` gets no ``t``
        (default None: then the recursive tau counts frames, and says so in the note).
    alpha, beta, gamma : float
        CI = alpha * D^beta * G * C * (1 - exp(-tau / gamma)); gamma in the units of tau
        (seconds by default: 0.01 s; the seed's 1 frame).
    backend : "auto", "numpy", "numba" or "wgpu"
        "wgpu" runs every measure on the GPU (host frames are uploaded); with "auto" a
        solver on the wgpu backend is measured on the GPU too (``observe``).
    """

    threshold: float | None = Field(default=None, ge=0)
    threshold_rms: float = Field(default=1.0, ge=0)
    fractal_mode: Literal["occupancy", "boundary"] = "occupancy"
    fractal_offsets: Literal["min", "none"] = "min"
    box_base: Literal[2, 3] = 2
    min_box: int | None = Field(default=None, ge=1)
    max_box: int | None = Field(default=None, ge=2)
    scaling_band: float = Field(default=0.15, gt=0)
    gain_window: int = Field(default=5, ge=1)
    gain_scale: Literal["none", "rms", "fixed"] = "none"
    gain_reference: float = Field(default=1.0, gt=0)
    coherence_sigma: float = Field(default=2.0, gt=0)
    coherence_truncate: float = Field(default=3.0, gt=0)
    coherence_normalize: Literal["local", "relative", "bounded", "frame"] = "local"
    coherence_edge: Literal["inward", "renormalize"] = "inward"
    coherence_eps: float = Field(default=1e-6, gt=0)
    coherence_scale: float = Field(default=0.1, gt=0)
    dwell_mode: Literal["recursive", "ring"] = "recursive"
    dwell_history: int = Field(default=16, ge=1, le=1024)
    dwell_lambda: float = Field(default=0.1, gt=0)
    dwell_scale: float = Field(default=1.0, gt=0)
    dwell_storage: Literal["int16", "float"] = "int16"
    frame_interval: float | None = Field(default=None, gt=0)
    alpha: float = 1.0
    beta: float = 1.0
    gamma: float = Field(default=0.01, gt=0)
    backend: Literal["auto", "numpy", "numba", "wgpu"] = "auto"

    @classmethod
    def blueprint(cls, **overrides: Any) -> MetricsConfig:
        """The seed's forms exactly (today's numbers before calibration), with overrides.

        Box counting aligned at cell (0, 0), C rescaled per frame by its min and max
        with renormalised edge weights, tau over a ring of 16 frames in frames
        (lambda = 4 frames, gamma = 1 frame), G in units of u.

        Examples
        --------
        >>> MetricsConfig.blueprint().coherence_normalize
        'frame'
        >>> MetricsConfig.blueprint(dwell_history=8).dwell_history
        8
        """
        seed: dict[str, Any] = {
            "fractal_offsets": "none",
            "box_base": 2,
            "gain_scale": "none",
            "coherence_normalize": "frame",
            "coherence_edge": "renormalize",
            "coherence_scale": 1.0,
            "dwell_mode": "ring",
            "dwell_history": 16,
            "dwell_lambda": 4.0,
            "gamma": 1.0,
        }
        seed.update(overrides)
        return cls(**seed)

    @property
    def smallest_box(self) -> int:
        """``min_box``, or its default for the base (2, or 3 for base 3)."""
        return self.min_box if self.min_box is not None else self.box_base

    @field_validator("gain_window")
    @classmethod
    def _odd_window(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"gain_window must be odd (a centred window), got {value}")
        return value

    @model_validator(mode="after")
    def _box_powers(self) -> MetricsConfig:
        for name in ("min_box", "max_box"):
            value = getattr(self, name)
            if value is not None and not is_power(value, self.box_base):
                raise ValueError(
                    f"{name} must be a power of box_base={self.box_base}, got {value}"
                )
        return self


def is_power(value: int, base: int) -> bool:
    """True when ``value`` is base^k for some k >= 0."""
    while value > 1 and value % base == 0:
        value //= base
    return value == 1
