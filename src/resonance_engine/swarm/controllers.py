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
    drive must mean more CI; b <= ``min_b``) is ignored and the previous model kept.
``lmpc`` (K = weight of the squared log-CI error against the squared gain deviation)
    The same identification and Kalman estimate as ``mpc`` (the model is fitted once,
    after the warm-up, and kept: the safe sets hold states of that model). Then each agent
    solves an iterative task with :class:`~resonance_engine.control.LMPC` (Rosolia and
    Borrelli): bring its error z_i = log CI_i - log CI_swarm to 0 with the deviation
    v_i = theta_i - theta*_i of its log gain from the gain theta*_i that makes the target
    a fixed point of its model (z+ = a z + b v, cost K z^2 + v^2). An *episode* runs from
    the first controlled tick, or from the tick an agent is pushed off the goal, until
    |z_i| <= ``goal_tol``; the episode's error states (Kalman estimates) with the inputs
    that move the model along them are then added to the agent's sampled safe set with
    their cost-to-go, and the next episode's terminal constraint is the convex hull of
    the stored states (local safe set: ``local`` = (last episodes, nearest points)). An
    episode longer than ``max_episode`` ticks is abandoned. With ``db`` (an AgentDB
    file) the safe sets live in its trajectory table, so a later run or another process
    starts from what was learnt: that is how it improves episode by episode. Every
    agent's LMPC is solved in one QP per tick (:class:`~resonance_engine.control.LMPCBatch`).
    Exchanges the 64-byte signatures (complexity measures only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from resonance_engine.control import (
    AdaptiveThresholdController,
    Convergence,
    KalmanFilter,
    LinearMPC,
    fit_linear_model,
)
from resonance_engine.errors import ConfigError, ControlError
from resonance_engine.swarm.coupling import Coupling, register_coupling

__all__ = ["AdaptiveController", "MPCController", "LMPCController", "CONTROLLERS"]

#: Names accepted by ``--controller``.
CONTROLLERS = ("adaptive", "mpc", "lmpc")


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

    def state(self) -> Any:
        """The live state (what a snapshot carries; see the state classes' pickling)."""
        return self.__dict__.get("_live")

    def set_state(self, state: Any) -> None:
        if state is not None:
            object.__setattr__(self, "_live", state)


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
    sweep: ClassVar[tuple[float, ...]] = (0.5, 2.0)
    controller: ClassVar[bool] = True
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
        self.mpc: Any = None  # LinearMPC (mpc) or one LMPC per agent (lmpc)
        self.a = self.b = math.nan  # the model in use: x+ = a x + b theta + c_i
        self.model: Any = None  # the model in use
        self.fits: list[Any] = []  # every fit, the ignored ones included
        self.offsets = np.zeros(0)
        self.ticks = 0
        self.rng = np.random.default_rng([seed, 77])

    def __getstate__(self) -> dict[str, Any]:
        # pickled into swarm snapshots: the MPC's QP is rebuilt from the model on restore
        return {**self.__dict__, "mpc": None}


@register_coupling
@dataclass(frozen=True, eq=False)
class MPCController(_Stateful, Coupling):
    """``mpc``: Kalman estimate, fitted linear model and batched MPC (module docstring)."""

    horizon: int = 8
    warmup: int = 24
    refit: int = 32
    dither: float = 0.1
    dither_hold: int = 4
    measurement_noise: float = 0.05
    min_b: float = 1e-9
    seed: int = 0

    mode: ClassVar[str] = "mpc"
    unit: ClassVar[str] = "1 (tracking weight per unit input change)"
    default_strength: ClassVar[float] = 4.0
    sweep: ClassVar[tuple[float, ...]] = (4.0, 20.0)
    controller: ClassVar[bool] = True
    carries: ClassVar[str] = "complexity measures (D, C, G, tau, CI) of each agent"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.horizon < 1 or self.warmup < 8 or self.refit < 1:
            raise ConfigError("mpc controller needs horizon >= 1, warmup >= 8, refit >= 1")

    def _fresh(self) -> _MPCState:
        return _MPCState(self.seed)

    def set_state(self, state: Any) -> None:
        super().set_state(state)
        st = self.live
        if st.model is not None and st.mpc is None:
            self._build_controller(st, len(st.offsets))

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
        if not b > self.min_b:  # more drive means more CI; a fit that says otherwise is ignored
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
        st.a, st.b = a, b
        self._build_controller(st, n_agents)

    def _build_controller(self, st: _MPCState, n_agents: int) -> None:
        """The solver for the model just fitted (``st.a``, ``st.b``, ``st.offsets``)."""
        lo, hi = self.theta_bounds
        st.mpc = LinearMPC([[st.a]], [[st.b]], [[self.strength]], [[1.0]], self.horizon,
                           u_min=lo, u_max=hi, terminal="lqr", batch=n_agents)
        st.mpc.set_offset(st.offsets[:, None])

    def _refit_due(self, st: _MPCState) -> bool:
        return st.mpc is None or (st.ticks - self.warmup) % self.refit == 0

    def _control(self, st: _MPCState, agents: list[Any], x: np.ndarray, estimate: np.ndarray,
                 theta: np.ndarray, target: float) -> np.ndarray | None:
        """Next log gains (agents,) from the measured log CI x (agents,), its Kalman
        estimates (agents, 1) and the target log CI_swarm, or None to keep the drives."""
        assert st.mpc is not None
        st.mpc.set_reference(np.full((len(agents), 1), target), theta[:, None])
        try:
            return st.mpc.solve(estimate)[:, 0]
        except ControlError:
            return None  # keep the drives; the next tick tries again

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
            if (st.ticks - 1) % self.dither_hold == 0:  # each level held dither_hold ticks
                for agent in agents:
                    agent.theta = self.clamp(agent.theta0 + self.dither
                                             * float(st.rng.standard_normal()))
            return
        if self._refit_due(st):
            self._fit(st, len(agents))
        if st.mpc is None:
            return  # no model accepted yet
        # Kalman estimate of each agent's log CI from its latest signature
        kalman = st.kalman
        assert kalman is not None
        kalman.predict(theta[:, None])
        kalman.x = kalman.x + st.offsets[:, None]
        estimate = kalman.update(x[:, None])
        u = self._control(st, agents, x, estimate, theta, math.log(aggregate.ci))
        if u is None:
            return
        for agent, value in zip(agents, u, strict=True):
            agent.theta = self.clamp(float(value))


class _Episode:
    """One agent's current episode: error states z_k and whether it is still running."""

    def __init__(self) -> None:
        self.z: list[float] = []
        self.active = True


class _LMPCState(_MPCState):
    """What the lmpc controller learns: the mpc state plus episodes and safe sets."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.db: Any = None
        self.episodes: list[_Episode] = []
        self.batch: Any = None  # LMPCBatch over the agents' LMPCs (one QP per tick)
        self.costs: list[list[float]] = []  # per agent, cost of every completed episode
        self.completed = 0
        self.abandoned = 0
        self.previous: np.ndarray | None = None  # last measured log CI

    def __getstate__(self) -> dict[str, Any]:
        # the LMPCs (safe sets) travel without their QP and database connection
        return {**self.__dict__, "db": None}


@register_coupling
@dataclass(frozen=True, eq=False)
class LMPCController(MPCController):
    """``lmpc``: the mpc identification, then Learning MPC per agent (module docstring).

    Attributes
    ----------
    min_b : float
        Smallest accepted b (default 0.05, not the mpc's 1e-9): the equilibrium gain
        ((1 - a) r - c_i) / b of a barely positive b lies far outside the gain bounds.
    goal_tol : float
        An episode has reached the goal when |log CI_i - log CI_swarm| <= goal_tol.
    max_episode : int
        Ticks after which an episode that did not reach the goal is abandoned (not stored).
    local : (int, int)
        (last episodes, nearest points per episode) of the local safe set.
    db : str, optional
        AgentDB file of the safe sets (``safe_set`` + ``:agent<id>``); learning then carries
        over between runs and processes. None: in memory, for this run only.
    safe_set : str
        Name prefix of the safe sets in ``db``.
    offset_rate : float
        In (0, 1]: how fast each agent's offset c_i follows its observed moves (offset-free
        control: c_i <- c_i + rate (x+ - a x - b theta - c_i) every tick).
    batch : bool
        Solve every agent's LMPC in one QP per tick (:class:`~resonance_engine.control.LMPCBatch`;
        the same plans to solver tolerance, without cvxpy's overhead per agent); False: one
        QP per agent. A tick whose batch fails is solved agent by agent (an agent whose own
        problem fails keeps its drive).
    """

    goal_tol: float = 0.05
    min_b: float = 0.05  # theta* = ((1 - a) r - c) / b: a tiny b puts it far off the bounds
    max_episode: int = 64
    local: tuple[int, int] = (4, 12)
    db: str | None = None
    safe_set: str = "swarm-lmpc"
    offset_rate: float = 0.5
    batch: bool = True

    mode: ClassVar[str] = "lmpc"
    unit: ClassVar[str] = "1 (weight of the squared log-CI error per squared log-gain deviation)"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (self.goal_tol > 0 and self.max_episode >= 2 and 0 < self.offset_rate <= 1):
            raise ConfigError("lmpc controller needs goal_tol > 0, max_episode >= 2 and "
                              "0 < offset_rate <= 1")

    def _fresh(self) -> _LMPCState:
        st = _LMPCState(self.seed)
        if self.db is not None:
            from resonance_engine.store import AgentDB

            st.db = AgentDB(self.db)
        return st

    def set_state(self, state: Any) -> None:
        super().set_state(state)
        st = self.live
        if self.db is not None:
            from resonance_engine.store import AgentDB

            st.db = AgentDB(self.db)
        for lmpc in st.mpc or ():
            lmpc.db = st.db

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        st = self.live
        firsts = [c[0] for c in st.costs if c]
        lasts = [c[-1] for c in st.costs if c]
        out["episodes"] = {
            "completed": st.completed, "abandoned": st.abandoned,
            "stored": sum(m.n_episodes for m in st.mpc) if st.mpc else 0,
            "first_cost_mean": float(np.mean(firsts)) if firsts else math.nan,
            "last_cost_mean": float(np.mean(lasts)) if lasts else math.nan,
        }
        return out

    def episodes_needed(self, start: float = 3.0, tolerance: float = 0.005,
                        max_episodes: int = 10) -> Convergence | None:
        """Episodes this controller's LMPC needs on a fixed task: a like-for-like count.

        The agents' own episodes start from whatever error they have, so their costs do
        not compare. This runs the LMPC the agents use (the model in use, the weights,
        horizon, bounds and local safe set; the goal alone as the first safe set, as for
        an agent) on one fixed task, episode after episode from the log-CI error
        ``start`` to the goal (|z| <= 1e-6), and counts the episodes until one costs
        within ``tolerance`` of the constrained optimum of that task
        (:func:`~resonance_engine.control.lmpc_convergence`). None without an accepted
        model, or when the start cannot reach the goal within the horizon.
        """
        from resonance_engine.control import lmpc_convergence

        st = self.live
        if st.model is None:
            return None
        lmpc = self._new_lmpc(st, None, "episodes-needed", 1e-6)
        try:
            return lmpc_convergence(lmpc, [start], tolerance=tolerance,
                                    max_episodes=max_episodes)
        except ControlError:
            return None

    def _refit_due(self, st: _MPCState) -> bool:
        # the safe sets hold the model's states: keep the first model that is accepted
        return st.mpc is None and (st.ticks - self.warmup - 1) % self.refit == 0

    def _new_lmpc(self, st: _MPCState, db: Any, safe_set: str, goal_tol: float) -> Any:
        """An LMPC on the model in use (z+ = a z + b v, cost K z^2 + v^2), its safe set
        holding at least the goal (safe itself: the first episode's terminal set)."""
        from resonance_engine.control import LMPC

        lo, hi = self.theta_bounds
        width = 2 * (hi - lo)  # any gain in the bounds is a deviation inside +-width
        lmpc = LMPC([[st.a]], [[st.b]], [[self.strength]], [[1.0]], self.horizon,
                    u_min=-width, u_max=width, db=db, local=self.local, safe_set=safe_set,
                    goal_tol=goal_tol)
        if lmpc.n_episodes == 0:
            lmpc.add_trajectory(np.zeros((1, 1)), np.zeros((0, 1)))
        return lmpc

    def _build_controller(self, st: _MPCState, n_agents: int) -> None:
        from resonance_engine.control import LMPCBatch

        assert isinstance(st, _LMPCState)
        st.mpc = [self._new_lmpc(st, st.db, f"{self.safe_set}:agent{agent_id}", self.goal_tol)
                  for agent_id in range(n_agents)]
        st.batch = LMPCBatch(st.mpc)
        st.episodes = [_Episode() for _ in range(n_agents)]
        st.costs = [[] for _ in range(n_agents)]

    def _end_episode(self, st: _LMPCState, i: int, z: float) -> None:
        """Store agent i's episode (ended at error z within the goal) in its safe set.

        The stored states are the Kalman estimates of the error; the inputs are those that
        move the model x+ = a x + b v along them, plus one last step to the goal itself, so
        the safe set is consistent with the model the LMPC plans with.
        """
        ep = st.episodes[i]
        x = np.array([*ep.z, z, 0.0])[:, None]
        u = (x[1:] - st.a * x[:-1]) / st.b
        try:
            cost = st.mpc[i].add_trajectory(x, u)
        except ControlError:
            st.abandoned += 1  # a measured move the model needs an out-of-bounds input for
        else:
            st.costs[i].append(cost)
            st.completed += 1
        ep.z, ep.active = [], False

    def _control(self, st: _MPCState, agents: list[Any], x: np.ndarray, estimate: np.ndarray,
                 theta: np.ndarray, target: float) -> np.ndarray | None:
        assert isinstance(st, _LMPCState)
        # offset-free: c_i follows what the last measured move says (a disturbance
        # observer), so a drifting agent still has the right equilibrium gain
        if st.previous is not None:
            seen = x - st.a * st.previous - st.b * theta
            ok = np.isfinite(seen)
            st.offsets[ok] += self.offset_rate * (seen[ok] - st.offsets[ok])
        st.previous = x.copy()
        # deviations from each agent's equilibrium gain theta*_i (x = target a fixed point)
        theta_eq = ((1 - st.a) * target - st.offsets) / st.b
        z = estimate[:, 0] - target
        known = [i for i in range(len(z)) if math.isfinite(z[i])]
        for i in known:
            ep = st.episodes[i]
            if ep.active and ep.z and abs(z[i]) <= self.goal_tol:
                self._end_episode(st, i, float(z[i]))
            elif not ep.active and abs(z[i]) > self.goal_tol:
                ep.active = True  # pushed off the goal: a new episode starts here
            elif ep.active and len(ep.z) >= self.max_episode:
                st.abandoned += 1
                ep.z = []
            if ep.active:
                ep.z.append(float(z[i]))
        out = theta.copy()
        if self.batch and known:
            try:  # every agent's QP in one solve
                out[known] = theta_eq[known] + st.batch.solve(z[known, None], which=known)[:, 0]
                return out
            except ControlError:
                pass  # one agent's problem failed: solve them one by one to skip only it
        for i in known:
            try:
                v = float(st.mpc[i].solve([z[i]])[0])
            except ControlError:
                continue  # keep this agent's drive; the next tick tries again
            out[i] = theta_eq[i] + v
        return out
