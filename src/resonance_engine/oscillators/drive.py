"""Oscillators that drive a wave field's point sources and listen to the field.

:class:`OscillatorDrive` is a tracker of the run loop (:mod:`resonance_engine.loop`;
it implements the tracker protocol without importing the loop). Every ``interval``
field steps, at field time t, with Delta = interval x dt:

1. Feedback: the field u is read at the cell of every phase-driven source (its centre);
   oscillator i gets the extra rate ``feedback * u_i * cos(theta_i)`` (rad/s) during the
   next Delta. For a field u ~ U sin(phi) at its site this averages to
   (feedback U / 2) sin(phi - theta_i): the oscillator is pulled towards the phase of the
   field it sits in (a phase response cos(theta), the one of a source emitting
   sin(theta)).
2. The network is stepped from t to t + Delta (it runs one interval ahead of the field).
3. Phase drive: source ``sources[i]`` of the solver gets the frequency and phase that
   make its argument 2 pi f t + phase run linearly from theta_i(t) to theta_i(t + Delta)
   over the interval, so the source emits amplitude x sin(theta_i) with a continuous
   phase (exact at the interval ends, linear in between).
4. Multi-scale: each ``(oscillator, source, depth)`` of ``modulation`` sets that
   source's amplitude to base x (1 + depth cos(theta_oscillator(t))) for the interval
   (a slow oscillator modulating a fast source; keep Delta well below the slow period).

The network's time step must divide Delta (network.dt x k = interval x solver.dt). A
batched network drives a batched solver member by member (the batch sizes must agree).
A second run on the same solver continues the first (see :meth:`OscillatorDrive.start`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from resonance_engine.errors import ConfigError
from resonance_engine.field.sources import PointSource
from resonance_engine.oscillators.kuramoto import KuramotoNetwork

__all__ = ["OscillatorDrive"]


class OscillatorDrive:
    """Drive a :class:`~resonance_engine.field.WaveSolver2D`'s sources from a network.

    Parameters
    ----------
    network : KuramotoNetwork
        Its time must equal the solver's when the first run starts.
    solver : WaveSolver2D
        The field whose sources are driven (the run loop's state).
    sources : sequence of int, optional
        ``sources[i]`` is the index (in ``solver.sources``) of the point source whose
        phase oscillator i drives; -1 leaves oscillator i without a source (e.g. a slow
        modulator). Default: oscillator i drives source i, for every oscillator.
    interval : int
        Field steps between two updates of the drive.
    feedback : float
        Strength of the field's action on the phases (rad/s per unit of u); 0: none.
    modulation : sequence of (int, int, float), optional
        (oscillator, source, depth): the source's amplitude is modulated by
        1 + depth cos(theta_oscillator), 0 <= depth <= 1.

    Examples
    --------
    >>> import numpy as np
    >>> from resonance_engine import KuramotoNetwork, PointSource, WaveSolver2D
    >>> from resonance_engine.loop import RunLoop
    >>> solver = WaveSolver2D(48, 48, dx=0.02, wave_speed=1.0,
    ...                       sources=[PointSource(0.3, 0.4, 50.0, 5.0)])
    >>> net = KuramotoNetwork([2 * np.pi * 5.0], 0.0, dt=solver.dt * 10, phases=[0.0])
    >>> drive = OscillatorDrive(net, solver, interval=10)
    >>> run = RunLoop(solver, [drive], steps=200).run()
    >>> round(net.t, 9) == round(solver.t + 10 * solver.dt, 9)  # one interval ahead
    True
    """

    final = False

    def __init__(
        self,
        network: KuramotoNetwork,
        solver: Any,
        sources: Sequence[int] | None = None,
        interval: int = 1,
        *,
        feedback: float = 0.0,
        modulation: Sequence[tuple[int, int, float]] = (),
    ) -> None:
        if not isinstance(interval, int | np.integer) or interval < 1:
            raise ConfigError(f"interval must be an integer >= 1 (field steps), got {interval!r}")
        if network.batch != solver.batch:
            raise ConfigError(
                f"the network's batch ({network.batch}) and the solver's ({solver.batch}) "
                "must agree"
            )
        self.network = network
        self.solver = solver
        self.interval = int(interval)
        span = self.interval * solver.dt
        self.substeps = round(span / network.dt)
        if self.substeps < 1 or not math.isclose(self.substeps * network.dt, span, rel_tol=1e-9):
            raise ConfigError(
                f"network.dt = {network.dt:g} s must divide interval x solver.dt = {span:g} s; "
                f"use dt={span:g} / k for an integer k"
            )
        n_src = len(solver.sources)
        mapping = list(range(network.size)) if sources is None else [int(s) for s in sources]
        if len(mapping) != network.size or any(not -1 <= s < n_src for s in mapping):
            raise ConfigError(
                f"sources must give one source index in [-1, {n_src - 1}] per oscillator "
                f"({network.size}), got {sources!r}"
            )
        self.driven = np.array([i for i, s in enumerate(mapping) if s >= 0], dtype=np.int64)
        self.targets = np.array([mapping[i] for i in self.driven], dtype=np.int64)
        for s in self.targets:
            if not isinstance(solver.sources[s], PointSource):
                raise ConfigError(
                    f"source {s} is not a PointSource; only point sources have a site"
                )
        self.sites = np.array(
            [
                (round(solver.sources[s].y / solver.dy), round(solver.sources[s].x / solver.dx))
                for s in self.targets
            ],
            dtype=np.int64,
        ).reshape(-1, 2)
        self.feedback = float(feedback)
        if not math.isfinite(self.feedback):
            raise ConfigError(f"feedback must be finite (rad/s per unit of u), got {feedback!r}")
        self.modulation = [(int(o), int(s), float(d)) for o, s, d in modulation]
        for o, s, d in self.modulation:
            if not (0 <= o < network.size and 0 <= s < n_src and 0 <= d <= 1):
                raise ConfigError(
                    f"modulation ({o}, {s}, {d}) needs an oscillator in [0, {network.size - 1}], "
                    f"a source in [0, {n_src - 1}] and a depth in [0, 1]"
                )
        self.base_amplitude = solver.drive_amplitude.copy()
        self._primed = False

    # ------------------------------------------------------------------ tracker protocol
    def start(self, run: Any) -> None:
        """Check the clocks; on the first run, set the drive of the first interval.

        A later run (another ``RunLoop`` on the same solver) continues from where the
        last one stopped: the network is then up to one interval ahead of the field and
        the drive set at the last update holds until the next one.
        """
        lead = self.network.t - self.solver.t
        span = self.interval * self.solver.dt
        tol = 1e-9 * max(1.0, abs(self.solver.t))
        if not self._primed and abs(lead) <= tol:
            self.handle(self.solver, self.solver.t)
        elif not (self._primed and -tol <= lead <= span + tol):
            raise ConfigError(
                f"the network's time ({self.network.t:g} s) does not match the field's "
                f"({self.solver.t:g} s); start both at the same time"
            )

    def handle(self, state: Any, t: float) -> None:
        """Feed the field back, step the network to t + interval x dt, set the next drive."""
        net, solver = self.network, self.solver
        theta = np.atleast_2d(net.phases)  # (batch, n), at t (later only after a resume)
        forcing = None
        if self.feedback and self.driven.size:
            u = np.asarray(solver.u).reshape(-1, solver.ny, solver.nx)
            at_sites = u[:, self.sites[:, 0], self.sites[:, 1]].astype(np.float64)
            extra = np.zeros_like(theta)
            extra[:, self.driven] = self.feedback * at_sites * np.cos(theta[:, self.driven])
            forcing = extra if net.batch is not None else extra[0]
        span = self.interval * solver.dt
        net.step(max(0, round((t + span - net.t) / net.dt)), forcing=forcing)
        after = np.atleast_2d(net.phases)
        if self.driven.size:
            if self._primed:  # continue each source's argument 2 pi f t + phase
                frequency = solver.drive_frequency[:, self.targets]
                start = 2 * np.pi * frequency * t + solver.drive_phase[:, self.targets]
            else:
                start = theta[:, self.driven]
            freq = (after[:, self.driven] - start) / (2 * np.pi * span)
            solver.drive_frequency[:, self.targets] = freq
            solver.drive_phase[:, self.targets] = start - 2 * np.pi * freq * t
        self._primed = True
        for osc, src, depth in self.modulation:
            solver.drive_amplitude[:, src] = self.base_amplitude[:, src] * (
                1.0 + depth * np.cos(theta[:, osc])
            )

    def finish(self, run: Any, status: str) -> None:
        """Nothing to release."""
