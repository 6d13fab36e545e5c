"""AdaptiveThresholdController: per-agent thresholds that follow performance changes.

The blueprint's rule, per agent a::

    theta_a(t+1) = clamp(theta_a(t) + chi (P_a(t) - P_a(t-1)), low, high)

with learning rate chi and bounds [0.1, 0.9] by default: a threshold rises while the agent's
performance improves and falls while it degrades. In the swarm the performance of an agent
is its mean correlation with the other agents (its share of the CS score).
"""

from __future__ import annotations

import math

from resonance_engine.errors import ConfigError

__all__ = ["AdaptiveThresholdController"]


class AdaptiveThresholdController:
    """Per-agent adaptive thresholds.

    Parameters
    ----------
    learning_rate : float
        chi, >= 0.
    initial : float
        Threshold of an agent not seen before.
    low, high : float
        Clamp bounds, low < high.

    Examples
    --------
    >>> ctl = AdaptiveThresholdController(learning_rate=0.5)
    >>> ctl.update("a", 0.2)   # first performance value: nothing to compare with
    0.5
    >>> ctl.update("a", 0.6)   # improved by 0.4 -> +0.2
    0.7
    >>> ctl.update("a", 1.6)   # +0.5 would pass the upper bound
    0.9
    """

    def __init__(
        self, learning_rate: float = 0.1, initial: float = 0.5, low: float = 0.1, high: float = 0.9
    ) -> None:
        if not (math.isfinite(learning_rate) and learning_rate >= 0):
            raise ConfigError(f"learning_rate must be finite and >= 0, got {learning_rate!r}")
        if not low < high:
            raise ConfigError(f"threshold bounds need low < high, got [{low}, {high}]")
        if not low <= initial <= high:
            raise ConfigError(f"initial threshold {initial} lies outside [{low}, {high}]")
        self.learning_rate = float(learning_rate)
        self.initial = float(initial)
        self.low, self.high = float(low), float(high)
        self.thresholds: dict[str, float] = {}
        self._previous: dict[str, float] = {}

    def update(
        self, agent: str | int, performance: float, previous_performance: float | None = None
    ) -> float:
        """Apply one step of the rule for ``agent`` and return its new threshold.

        ``previous_performance`` defaults to the performance given at the last call for this
        agent (no change at the first call). A NaN performance leaves the threshold as is.
        """
        key = str(agent)
        theta = self.thresholds.get(key, self.initial)
        before = self._previous.get(key) if previous_performance is None else previous_performance
        if math.isfinite(performance):
            if before is not None and math.isfinite(before):
                theta += self.learning_rate * (performance - before)
                theta = min(self.high, max(self.low, theta))
            self._previous[key] = float(performance)
        self.thresholds[key] = theta
        return theta

    def threshold(self, agent: str | int) -> float:
        """The current threshold of ``agent`` (``initial`` if never updated)."""
        return self.thresholds.get(str(agent), self.initial)
