"""RunLoop and the tracker protocol: intervals, chunks, statuses, the final round."""

from __future__ import annotations

from typing import Any

import pytest

from resonance_engine.errors import ConfigError
from resonance_engine.loop import Callback, Realtime, Run, RunLoop, StopWhen, Tracker


class Counter:
    """A stand-in stepper: records the size of every compiled chunk."""

    def __init__(self) -> None:
        self.step_count = 0
        self.t = 0.0
        self.chunks: list[int] = []

    def step(self, n: int = 1) -> None:
        self.chunks.append(n)
        self.step_count += n
        self.t = 0.5 * self.step_count


class Log(Tracker):
    """Writes every call into a shared list, so the order of calls can be checked."""

    def __init__(self, name: str, log: list[Any], interval: Any = None, final: bool = False):
        super().__init__(interval, final=final)
        self.name = name
        self.log = log

    def start(self, run: Run) -> None:
        self.log.append((self.name, "start", run.done))

    def handle(self, state: Any, t: float) -> None:
        self.log.append((self.name, state.step_count, t))

    def finish(self, run: Run, status: str) -> None:
        self.log.append((self.name, "finish", status))


def test_steps_in_chunks_up_to_the_next_due_tracker_and_calls_in_order() -> None:
    log: list[Any] = []
    stepper = Counter()
    trackers = [Log("a", log, 4), Log("b", log, 6, final=True)]
    run = RunLoop(stepper, trackers, steps=14).run()
    assert run.status == "finished" and run.done == 14
    # one compiled call per stretch between due trackers: 4, 6, 8, 12, then the last 2
    assert stepper.chunks == [4, 2, 2, 4, 2]
    handles = [entry for entry in log if isinstance(entry[1], int)]
    assert handles == [
        ("a", 4, 2.0), ("b", 6, 3.0), ("a", 8, 4.0), ("a", 12, 6.0), ("b", 12, 6.0),
        ("b", 14, 7.0),  # final: b also sees the step where the run ended
    ]
    assert log[:2] == [("a", "start", 0), ("b", "start", 0)]
    assert log[-2:] == [("a", "finish", "finished"), ("b", "finish", "finished")]


def test_chunk_bounds_every_compiled_call() -> None:
    stepper = Counter()
    RunLoop(stepper, [], steps=10, chunk=3).run()
    assert stepper.chunks == [3, 3, 3, 1]


def test_steps_given_as_a_list_and_the_run_starting_midway() -> None:
    stepper = Counter()
    stepper.step_count = 100
    seen: list[int] = []
    RunLoop(stepper, [Callback(lambda s, t: seen.append(s.step_count), [1, 5, 9])], steps=9).run()
    assert seen == [101, 105, 109]


def test_a_stop_condition_stops_the_run_with_its_reason() -> None:
    log: list[Any] = []
    stepper = Counter()
    stop = StopWhen(lambda s, t: s.step_count >= 6, 2, "enough")
    run = RunLoop(stepper, [stop, Log("x", log, None)]).run()
    assert run.status == "stopped" and run.stop_reason == "enough" and run.done == 6
    assert log[-1] == ("x", "finish", "stopped")


def test_ctrl_c_ends_the_run_interrupted_with_a_final_round() -> None:
    log: list[Any] = []

    def interrupt(state: Any, t: float) -> None:
        if state.step_count == 5:
            raise KeyboardInterrupt

    run = RunLoop(
        Counter(), [Callback(interrupt, 1), Log("m", log, 3, final=True)], steps=100
    ).run()
    assert run.status == "interrupted" and run.done == 5
    assert ("m", 5, 2.5) in log and log[-1] == ("m", "finish", "interrupted")


def test_an_error_fails_the_run_finishes_every_tracker_and_is_raised() -> None:
    log: list[Any] = []

    def boom(state: Any, t: float) -> None:
        raise ZeroDivisionError("bad step")

    loop = RunLoop(Counter(), [Log("a", log, None, final=True), Callback(boom, 2)], steps=10)
    with pytest.raises(ZeroDivisionError):
        loop.run()
    assert log[-1] == ("a", "finish", "failed")
    assert not any(isinstance(entry[1], int) for entry in log)  # no final round after a failure


def test_a_failing_finish_does_not_keep_the_others_from_finishing() -> None:
    log: list[Any] = []

    class BadFinish(Tracker):
        def finish(self, run: Run, status: str) -> None:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        RunLoop(Counter(), [BadFinish(), Log("b", log)], steps=3).run()
    assert log[-1] == ("b", "finish", "finished")


def test_frame_trackers_follow_each_new_frame() -> None:
    seen: list[Any] = []

    class Measure(Tracker):
        def start(self, run: Run) -> None:
            self.run = run

        def handle(self, state: Any, t: float) -> None:
            self.run.add_frame({"step": state.step_count})

    class Store(Tracker):
        def start(self, run: Run) -> None:
            self.run = run

        def handle(self, state: Any, t: float) -> None:
            seen.append(self.run.frame["step"])

    run = RunLoop(Counter(), [Measure(5), Store("frame")], steps=12).run()
    assert seen == [5, 10] and run.frames == 2


def test_realtime_trackers_run_between_chunks() -> None:
    calls: list[int] = []
    RunLoop(Counter(), [Callback(lambda s, t: calls.append(s.step_count), Realtime(1e-9))],
            steps=6, chunk=2).run()
    assert calls == [2, 4, 6]


@pytest.mark.parametrize("interval", [0, -3, True, "often", [0, 2], 1.5])
def test_bad_intervals_are_refused(interval: Any) -> None:
    with pytest.raises(ConfigError):
        RunLoop(Counter(), [Tracker(interval)], steps=3)


def test_an_endless_run_without_a_schedule_is_refused() -> None:
    with pytest.raises(ConfigError, match="chunk"):
        RunLoop(Counter(), [Tracker(Realtime(1.0))])
    with pytest.raises(ConfigError):
        RunLoop(Counter(), [], steps=-1)
