"""Controllers that set the agents' drive gains from signatures (``--controller``).

Each is a coupling mode (:mod:`resonance_engine.swarm.coupling`): the swarm calls its
``adapt`` after every tick with the swarm's aggregate signature, and it sets every local
agent's log drive gain theta. Only signatures (64 bytes per agent and tick, complexity
measures) are used; no field or drive state crosses between agents.

``adaptive`` (K = learning rate chi)
    The blueprint's adaptive threshold controller
    (:class:`~resonance_engine.control.AdaptiveThresholdController`) sets each agent's own
    coupling gain k_i in [0.1, 0.9]: performance P_i = 1 - |e_i| with the relative CI
    error e_i = (CI_swarm - CI_i) / |CI_swarm|, k_i += chi (P_i(t) - P_i(t-1)), and
    theta_i += ``step`` k_i e_i.
``mpc`` (K = weight of the tracking error against moving theta)
    Per agent, a Kalman filter estimates x_i = log CI_i from its signatures; one linear
    model x_i[k+1] = a x_i[k] + b theta_i[k+1] + c_i (a, b shared, c_i per agent) is
    fitted from the agents' own history (``warmup`` ticks of dithered drive, then refitted
    every ``refit`` ticks, :func:`~resonance_engine.control.fit_linear_model` on the
    per-agent de-meaned series); a batched
    :class:`~resonance_engine.control.LinearMPC` (one QP for every local agent) steers each
    x_i toward log CI_swarm over ``horizon`` ticks with cost K (x - r)^2 + (theta -
    theta_now)^2 and theta inside the gain bounds. A refit whose b is not positive (more
    drive must mean more CI) is ignored and the previous model kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from resonance_engine.control import (
    AdaptiveThresholdController,
    KalmanFilter,
    LinearMPC,
    fit_linear_model,
)
from resonance_engine.errors import ConfigError, ControlError
from resonance_engine.swarm.coupling import Coupling, register_coupling

__all__ = ["AdaptiveController", "MPCController", "CONTROLLERS"]

#: Names accepted by ``--controller``.
CONTROLLERS = ("adaptive", "mpc")


def _relative_errors(swarm: Any, ci_swarm: float) -> list[tuple[Any, float]]:
    scale = abs(ci_swarm)
    out = []
    for agent in swarm.agents:
        ci = agent.last.ci if agent.last is not None else math.nan
        if math.isfinite(ci) and math.isfinite(ci_swarm) and scale > 1e-300:
            out.append((agent, (ci_swarm - ci) / scale))
    return out


class _Stateful:
    """Mutable controller state beside a frozen coupling description (rebuilt on copies)."""

    def _fresh(self) -> Any:
        raise NotImplementedError

    @property
    def live(self) -> Any:
        state = self.__dict__.get("_live")
        if state is None:
            state = self._fresh()
            object.__setattr__(self, "_live", state)
        return state

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_live"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)

    def bind(self, swarm: Any) -> None:
        object.__setattr__(self, "_live", self._fresh())


@register_coupling
@dataclass(frozen=True, eq=False)
class AdaptiveController(_Stateful, Coupling):
    """``adaptive``: the gain rule with per-agent adaptive gains (module docstring)."""

    step: float = 0.1
    low: float = 0.1
    high: float = 0.9

    mode: ClassVar[str] = "adaptive"
    unit: ClassVar[str] = "1 (learning rate chi of the per-agent gains)"
    default_strength: ClassVar[float] = 0.5
    carries: ClassVar[str] = "complexity measures (D, C, G, tau, CI) of each agent"

    def _fresh(self) -> AdaptiveThresholdController:
        return AdaptiveThresholdController(
            learning_rate=self.strength, initial=0.5 * (self.low + self.high),
            low=self.low, high=self.high)

    def adapt(self, swarm: Any, aggregate: Any, t: float, dt: float) -> None:
        super().adapt(swarm, aggregate, t, dt)
        if aggregate is None:
            return
        thresholds = self.live
        for agent, error in _relative_errors(swarm, aggregate.ci):
            gain = thresholds.update(agent.agent_id, 1.0 - abs(error))
            agent.theta = self.clamp(agent.theta + self.step * gain * error)


class _MPCState:
    """What the mpc controller learns while it runs."""

    def __init__(self, seed: int) -> None:
        self.x_history: list[np.ndarray] = []  # log CI per local agent and tick
        self.u_history: list[np.ndarray] = []  # theta applied during that tick
        self.kalman: KalmanFilter | None = None  # one filter per agent, as a batch
        self.mpc: LinearMPC | None = None
        self.model: Any = None  # the model in use
        self.fits: list[Any] = []  # every fit, the ignored ones included
        self.offsets = np.zeros(0)
        self.ticks = 0
        self.rng = np.random.default_rng([seed, 77])


@register_coupling
@dataclass(frozen=True, eq=False)
class MPCController(_Stateful, Coupling):
    """``mpc``: Kalman estimate, fitted linear model and batched MPC (module docstring)."""

    horizon: int = 8
    warmup: int = 24
    refit: int = 32
    dither: float = 0.1
    measurement_noise: float = 0.05
    seed: int = 0

    mode: ClassVar[str] = "mpc"
    unit: ClassVar[str] = "1 (tracking weight per unit input change)"
    default_strength: ClassVar[float] = 4.0
    carries: ClassVar[str] = "complexity measures (D, C, G, tau, CI) of each agent"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.horizon < 1 or self.warmup < 8 or self.refit < 1:
            raise ConfigError("mpc controller needs horizon >= 1, warmup >= 8, refit >= 1")

    def _fresh(self) -> _MPCState:
        return _MPCState(self.seed)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        model = self.live.model
        if model is not None:
            out["model"] = {"a": float(model.A[0, 0]), "b": float(model.B[0, 0]),
                            "heldout_rmse": float(model.heldout_rmse[0]),
                            "persistence_rmse": float(model.heldout_baseline_rmse[0])}
        return out

    def _fit(self, st: _MPCState, n_agents: int) -> None:
        X = np.array(st.x_history[-4 * self.refit - self.warmup:])  # (T, agents)
        U = np.array(st.u_history[-4 * self.refit - self.warmup:])
        ok = np.all(np.isfinite(X), axis=0)
        if ok.sum() == 0 or len(X) < 8:
            return
        xm, um = X.mean(axis=0), U.mean(axis=0)
        xs = [(X[:, i] - xm[i])[:, None] for i in range(n_agents) if ok[i]]
        us = [(U[1:, i] - um[i])[:, None] for i in range(n_agents) if ok[i]]
        model = fit_linear_model(xs, us, ridge=1e-6, affine=False)
        st.fits.append(model)
        a = float(np.clip(model.A[0, 0], 0.0, 0.999))
        b = float(model.B[0, 0])
        if not b > 1e-9:  # more drive means more CI; a fit that says otherwise is ignored
            return
        st.model = model
        offsets = xm * (1 - a) - b * um  # c_i that makes the agent's mean a fixed point
        st.offsets = np.where(ok, offsets, np.nanmean(offsets[ok]))
        q = max(float(model.residual_cov[0, 0]), 1e-8)
        if st.kalman is None:
            start = np.where(np.isfinite(X[-1]), X[-1], np.nanmean(X[-1]))[:, None]
            st.kalman = KalmanFilter([[a]], [[1.0]], [[q]], [[self.measurement_noise**2]],
                                     B=[[b]], x0=start, P0=[[1.0]], batch=n_agents)
        else:
            st.kalman.A, st.kalman.B, st.kalman.Q = (np.array([[a]]), np.array([[b]]),
                                                     np.array([[q]]))
        lo, hi = self.theta_bounds
        st.mpc = LinearMPC([[a]], [[b]], [[self.strength]], [[1.0]], self.horizon,
                           u_min=lo, u_max=hi, terminal="lqr", batch=n_agents)
        st.mpc.set_offset(st.offsets[:, None])

    def adapt(self, swarm: Any, aggregate: Any, t: float, dt: float) -> None:
        super().adapt(swarm, aggregate, t, dt)
        st = self.live
        agents = swarm.agents
        theta = np.array([a.theta for a in agents])
        ci = np.array([a.last.ci if a.last is not None else math.nan for a in agents])
        x = np.where(ci > 0, np.log(np.where(ci > 0, ci, 1.0)), math.nan)
        st.x_history.append(x)
        st.u_history.append(theta)
        st.ticks += 1
        if aggregate is None or self.strength == 0 or not aggregate.ci > 0:
            return
        if st.ticks <= self.warmup:  # identification: dither around the start
            for agent in agents:
                agent.theta = self.clamp(agent.theta0 + self.dither
                                         * float(st.rng.standard_normal()))
            return
        if st.mpc is None or (st.ticks - self.warmup) % self.refit == 0:
            self._fit(st, len(agents))
            if st.mpc is None:
                return
        # Kalman estimate of each agent's log CI from its latest signature
        kalman = st.kalman
        assert kalman is not None
        kalman.predict(theta[:, None])
        kalman.x = kalman.x + st.offsets[:, None]
        estimate = kalman.update(x[:, None])
        st.mpc.set_reference(np.full((len(agents), 1), math.log(aggregate.ci)), theta[:, None])
        try:
            u = st.mpc.solve(estimate)
        except ControlError:
            return  # keep the drives; the next tick tries again
        for agent, value in zip(agents, u[:, 0], strict=True):
            agent.theta = self.clamp(float(value))
