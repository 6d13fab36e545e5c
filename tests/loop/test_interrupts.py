"""Ctrl-C with the CLI's handler ends a run between rounds: no frame is counted but not stored."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import pytest

from resonance_engine import AgentDB, ComplexityAnalyzer, RunRecorder, default_pond
from resonance_engine.loop import EVERY_FRAME, RunLoop, Tracker
from resonance_engine.loop.interrupts import interrupt_between_steps, shielded
from resonance_engine.metrics import MeasureTracker
from resonance_engine.store import RecordTracker


class SigintOnFrame(Tracker):
    """Sends SIGINT to this process while the ``n``-th frame is being handled, that is
    after it was counted and before the recorder (the next frame tracker) stores it."""

    def __init__(self, n: int) -> None:
        super().__init__(EVERY_FRAME)
        self.n = n
        self.seen = 0

    def handle(self, state: Any, t: float) -> None:
        self.seen += 1
        if self.seen == self.n:
            signal.raise_signal(signal.SIGINT)


@pytest.fixture
def cli_handler() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, interrupt_between_steps)
    yield
    signal.signal(signal.SIGINT, previous)


def test_an_interrupt_in_the_middle_of_a_frame_waits_for_the_frame_to_be_stored(
    cli_handler: None,
) -> None:
    db = AgentDB(":memory:")
    recorder = RunRecorder.start(db, {"steps": 1000}, seed=0, name="run")
    measure = MeasureTracker(ComplexityAnalyzer(), 10)
    trackers = [measure, SigintOnFrame(2), RecordTracker(recorder)]
    run = RunLoop(default_pond(32).build(), trackers, steps=1000).run()
    # raised after the next chunk (steps 20 -> 30); the final round measures step 30 whole
    assert run.status == "interrupted" and run.done == 30
    assert run.frames == len(measure.history) == db.count(recorder.series["ci"]) == 3
    assert measure.history[-1].ci_field is not None  # the last frame keeps its fields
    assert db.run(recorder.run_id).status == "interrupted"


def test_a_second_signal_while_one_is_pending_raises_at_once(cli_handler: None) -> None:
    reached = []
    with pytest.raises(KeyboardInterrupt):
        with shielded():
            signal.raise_signal(signal.SIGINT)  # deferred
            reached.append(1)
            signal.raise_signal(signal.SIGINT)  # the user insists: now
            reached.append(2)
    assert reached == [1]
    with shielded():  # nothing is left pending after it
        reached.append(3)
    assert reached == [1, 3]


def test_a_block_that_fails_drops_the_pending_interrupt(cli_handler: None) -> None:
    with pytest.raises(ValueError):
        with shielded():
            signal.raise_signal(signal.SIGINT)
            raise ValueError("the run fails anyway")
    with shielded():
        pass  # no KeyboardInterrupt left over from the failed block
