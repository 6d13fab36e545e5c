"""Swarm controllers by name: what ``resonance swarm --controller SPEC`` plugs in.

A *swarm controller* acts on the agents of a running :class:`~resonance_engine.swarm.batched.Swarm`
after every tick (after the swarm's own coupling), through the drive the coupling moves
(each agent's log gain ``theta``, ``frequency`` and ``phase``). It is a tracker of the run
loop (:mod:`resonance_engine.loop`) that ``Swarm.run(ticks, trackers=[...])`` calls:

- ``interval``: 1 (every tick), ``start(run)`` and ``finish(run, status)`` as any tracker;
- ``handle(swarm, t)``: after every tick, with the swarm and its simulated time (s);
- ``summary()``: a dict added to the command's summary (may be empty).

A controller is built from a spec ``NAME`` or ``NAME:ARGUMENT`` by the factory registered
under NAME: ``factory(argument, swarm) -> controller``, with ``argument`` the text after
the first colon ("" when none). Factories of the layers above the swarm (control, rl)
are registered by dotted path and imported only when used, so this module imports none
of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from resonance_engine.errors import ConfigError

if TYPE_CHECKING:
    from resonance_engine.swarm.batched import Swarm

__all__ = ["SwarmController", "CONTROLLERS", "register_controller", "build_controller"]


class SwarmController(Protocol):
    """What a swarm controller offers (see the module docstring)."""

    interval: Any

    def start(self, run: Any) -> None: ...

    def finish(self, run: Any, status: str) -> None: ...

    def handle(self, swarm: Swarm, t: float) -> None: ...

    def summary(self) -> dict[str, Any]: ...


ControllerFactory = Callable[[str, "Swarm"], SwarmController]

#: name -> (factory or "package.module:function", one-line help)
CONTROLLERS: dict[str, tuple[ControllerFactory | str, str]] = {
    "rl": (
        "resonance_engine.rl.policy:swarm_controller",
        "rl:DIR/policy.zip - a policy trained by 'resonance train --env swarm'",
    ),
}


def register_controller(name: str, factory: ControllerFactory | str, help_text: str) -> None:
    """Register ``factory`` (a callable or its "module:function" path) under ``name``."""
    if not name.isidentifier():
        raise ConfigError(f"a controller name must be an identifier, got {name!r}")
    CONTROLLERS[name] = (factory, help_text)


def _resolve(factory: ControllerFactory | str) -> ControllerFactory:
    if callable(factory):
        return factory
    module_name, _, attr = factory.partition(":")
    return getattr(importlib.import_module(module_name), attr)  # type: ignore[no-any-return]


def build_controller(spec: str, swarm: Swarm) -> SwarmController:
    """The controller of ``spec`` ("NAME" or "NAME:ARGUMENT") for ``swarm``.

    Raises
    ------
    ConfigError
        Unknown name, or a factory that refuses its argument (the message says why).
    """
    name, _, argument = spec.partition(":")
    if name not in CONTROLLERS:
        raise ConfigError(
            f"unknown controller {name!r} in --controller {spec!r}; choose one of "
            f"{', '.join(sorted(CONTROLLERS))}"
        )
    try:
        factory = _resolve(CONTROLLERS[name][0])
    except ImportError as exc:
        raise ConfigError(
            f"controller {name!r} needs a package that is not installed ({exc}); "
            "see README for its extra"
        ) from None
    return factory(argument, swarm)
