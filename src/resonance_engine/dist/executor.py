"""One executor interface for every place where independent tasks run in parallel.

Sweeps, basin stability, MFPT runs and experiments hand a top-level function and a list
of argument tuples to an :class:`Executor` and get the outcomes back as they finish:

- :class:`LocalExecutor`: a process pool on this machine (the embedded default);
  ``max_workers=0`` runs the tasks one after the other in the calling process.
- :class:`DaskExecutor`: Dask distributed, either a LocalCluster on 127.0.0.1 (no
  address) or an existing cluster (``"tcp://host:8786"``).

A task that raises does not stop the others: its outcome carries a :class:`TaskFailure`
(exception type, message and traceback as text, so it pickles whatever the exception
class). A worker process that dies is replaced and its tasks run again (Dask does this
itself; the local pool is rebuilt), up to ``max_attempts`` times per task. Closing the
iterator (or Ctrl-C while consuming it) cancels the tasks that have not finished.

The function must be importable by name on the workers (a module-level function, not a
lambda or closure) and its results must be picklable.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from resonance_engine.errors import ConfigError, ExecutorError

__all__ = [
    "Executor",
    "LocalExecutor",
    "DaskExecutor",
    "TaskFailure",
    "TaskOutcome",
    "resolve_executor",
    "EXECUTOR_CHOICES",
]

#: What ``--executor`` accepts besides a ``tcp://host:port`` scheduler address.
EXECUTOR_CHOICES = ("local", "serial", "dask")


@dataclass(frozen=True)
class TaskFailure:
    """Why a task failed, in plain strings (picklable whatever the exception was).

    Attributes
    ----------
    error_type : str
        Class name of the exception (e.g. ``"CFLViolation"``), or ``"WorkerLost"``.
    message : str
        ``str(exception)``.
    traceback : str
        The formatted traceback from the worker ("" when there is none).
    where : str
        ``host:pid`` of the process that ran the task ("" when unknown).
    """

    error_type: str
    message: str
    traceback: str = ""
    where: str = ""

    def __str__(self) -> str:
        return f"{self.error_type}: {self.message}"


@dataclass(frozen=True)
class TaskOutcome:
    """The result of one task.

    Attributes
    ----------
    index : int
        Position of the task's arguments in the list given to the executor.
    value : Any
        The function's return value (None when it failed).
    failure : TaskFailure or None
        Why it failed, or None when it succeeded.
    """

    index: int
    value: Any = None
    failure: TaskFailure | None = None

    @property
    def ok(self) -> bool:
        """True when the task returned a value."""
        return self.failure is None


def _where() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def guarded_call(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any] | None = None
) -> tuple[bool, Any]:
    """Run ``fn(*args, **kwargs)`` on a worker: ``(True, value)`` or ``(False, TaskFailure)``.

    Exceptions are turned into :class:`TaskFailure` on the worker, because exception
    classes with their own ``__init__`` signature (e.g. ``CFLViolation``) cannot be
    unpickled on the client. KeyboardInterrupt and SystemExit still propagate.
    """
    try:
        return True, fn(*args, **(kwargs or {}))
    except Exception as exc:  # noqa: BLE001 - reported to the client, not swallowed
        return False, TaskFailure(
            type(exc).__name__, str(exc), traceback.format_exc(), _where()
        )


class Executor(cf.Executor, ABC):
    """Runs ``fn(*args)`` for many argument tuples, yielding outcomes as they finish.

    Also a ``concurrent.futures.Executor`` (``submit``, ``map``, ``shutdown``), so it can
    be passed wherever one is expected, e.g.
    ``resonance_engine.swarm.basin_stability(executor=...)``. Use as a context manager
    (or call :meth:`close`) to release the workers.
    """

    #: Short name shown in summaries ("local", "serial", "dask").
    name: str = "executor"

    @property
    @abstractmethod
    def workers(self) -> int:
        """Number of worker processes (or threads) that run tasks now."""

    @abstractmethod
    def imap_unordered(
        self, fn: Callable[..., Any], items: Sequence[tuple[Any, ...]]
    ) -> Iterator[TaskOutcome]:
        """Submit ``fn(*item)`` for every item; yield a :class:`TaskOutcome` per task.

        Outcomes come in completion order (use ``outcome.index``). Closing the iterator
        before the end (``break``, an exception, Ctrl-C in the consumer) cancels the tasks
        that have not finished; those already finished were yielded.
        """

    def starmap(self, fn: Callable[..., Any], items: Sequence[tuple[Any, ...]]) -> list[Any]:
        """``[fn(*item) for item in items]`` in parallel, in order.

        Raises
        ------
        ExecutorError
            If any task failed (the message names the first failed item and why); the
            remaining tasks are cancelled.
        """
        results: list[Any] = [None] * len(items)
        stream = self.imap_unordered(fn, items)
        try:
            for outcome in stream:
                if outcome.failure is not None:
                    raise ExecutorError(
                        f"task {outcome.index} ({fn.__name__}{tuple(items[outcome.index])!r}) "
                        f"failed: {outcome.failure}"
                    )
                results[outcome.index] = outcome.value
        finally:
            stream.close()  # type: ignore[attr-defined]
        return results

    @abstractmethod
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        """Start ``fn(*args, **kwargs)``; a ``concurrent.futures.Future`` of its value.

        A failed task's future raises :class:`ExecutorError` with the task's exception
        type and message.
        """

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """``concurrent.futures.Executor.shutdown``: the same as :meth:`close`."""
        self.close()

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release the workers (idempotent)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> str:
        """One line for summaries: name and worker count."""
        return f"{self.name} ({self.workers} workers)"


def _settle(future: cf.Future[Any], ok: bool, value: Any) -> None:
    if future.set_running_or_notify_cancel():
        if ok:
            future.set_result(value)
        else:
            future.set_exception(ExecutorError(f"task failed: {value}"))


#: Seconds between two looks of a pool worker's watcher at the client process.
PARENT_CHECK_S = 0.5


def _alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie, dead but not reaped, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (macOS): ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _watch(worker: int, client: int) -> None:
    """The watcher process of one worker: SIGKILL the worker once the client is gone."""
    os.closerange(3, 1 << 16)  # hold none of the pool's pipes (the client sees deaths)
    while True:
        if os.getppid() != worker:  # the worker ended: so does its watcher
            os._exit(0)
        if not _alive(client):  # the client died (kill -9): nobody wants the results
            try:
                os.kill(worker, signal.SIGKILL)
            finally:
                os._exit(0)
        time.sleep(PARENT_CHECK_S)


def _init_worker(client: int) -> None:
    """Initializer of every pool worker (``client``: the pid of the pool's process).

    Ctrl-C reaches the whole process group: the client cancels, workers must not die with
    a traceback of their own in the middle of a task. Where ``os.fork`` exists, a small
    watcher process (forked before any task, so without threads) kills the worker when
    the client dies, also by ``kill -9``, which leaves the pool no chance to stop its
    workers. A thread could not do it: a compiled step holds the GIL for seconds.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not hasattr(os, "fork"):  # pragma: no cover - Windows
        return
    worker = os.getpid()
    if os.fork() == 0:
        try:
            _watch(worker, client)
        finally:
            os._exit(0)


def _worker_lost(attempts: int) -> TaskFailure:
    return TaskFailure(
        "WorkerLost",
        f"the worker process died {attempts} times while running this task (killed, out "
        "of memory or crashed)",
    )


class LocalExecutor(Executor):
    """A pool of worker processes on this machine (``concurrent.futures``).

    Parameters
    ----------
    max_workers : int, optional
        Number of processes; default ``os.cpu_count()``. ``0`` runs every task in the
        calling process, one after the other (no pickling; for debugging).
    mp_context : {"spawn", "forkserver", "fork"}
        How worker processes start. ``spawn`` (default) is safe with numba's threads.
    max_attempts : int
        How often a task is started when its worker process dies (e.g. killed by the
        OOM killer) before it is reported as failed with ``WorkerLost``.

    Notes
    -----
    The pool starts on the first task and is kept until :meth:`close`, so a second
    sweep on the same executor pays no start-up cost.
    """

    name = "local"

    def __init__(
        self, max_workers: int | None = None, mp_context: str = "spawn", max_attempts: int = 3
    ) -> None:
        if max_workers is not None and (not isinstance(max_workers, int) or max_workers < 0):
            raise ConfigError(
                f"max_workers must be None or an integer >= 0, got {max_workers!r}"
            )
        if mp_context not in ("spawn", "forkserver", "fork"):
            raise ConfigError(
                f"mp_context must be 'spawn', 'forkserver' or 'fork', got {mp_context!r}"
            )
        if not isinstance(max_attempts, int) or max_attempts < 1:
            raise ConfigError(f"max_attempts must be an integer >= 1, got {max_attempts!r}")
        self.max_workers = (os.cpu_count() or 1) if max_workers is None else max_workers
        self.mp_context = mp_context
        self.max_attempts = max_attempts
        self._pool: cf.ProcessPoolExecutor | None = None
        self._pool_lock = threading.RLock()
        if self.max_workers == 0:
            self.name = "serial"

    @property
    def workers(self) -> int:
        return max(1, self.max_workers)

    def _get_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(
                self.max_workers,
                mp_context=multiprocessing.get_context(self.mp_context),
                initializer=_init_worker,
                initargs=(os.getpid(),),
            )
        return self._pool

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        """Start ``fn(*args, **kwargs)`` on the pool; a future of its value.

        A task whose worker process died is started again on a rebuilt pool (up to
        ``max_attempts`` times, then its future raises :class:`ExecutorError` with
        ``WorkerLost``), as every other task the dead pool lost.
        """
        outer: cf.Future[Any] = cf.Future()
        if self.max_workers == 0:
            _settle(outer, *guarded_call(fn, args, kwargs))
            return outer
        self._submit_attempt(outer, fn, args, kwargs, 1)
        return outer

    def _submit_attempt(
        self,
        outer: cf.Future[Any],
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        attempt: int,
    ) -> None:
        while True:
            with self._pool_lock:  # never held while calling into a pool (its callbacks)
                pool = self._get_pool()
            try:
                inner = pool.submit(guarded_call, fn, args, kwargs)
                break
            except BrokenProcessPool:  # broke before its callbacks dropped it
                self._drop_broken(pool)

        def relay(done: cf.Future[tuple[bool, Any]]) -> None:
            try:
                ok, value = done.result()
            except BrokenProcessPool:
                self._drop_broken(pool)
                if attempt >= self.max_attempts:
                    _settle(outer, False, _worker_lost(attempt))
                elif not outer.cancelled():
                    try:
                        self._submit_attempt(outer, fn, args, kwargs, attempt + 1)
                    except BaseException as exc:  # noqa: BLE001 - e.g. the executor closed
                        if outer.set_running_or_notify_cancel():
                            outer.set_exception(exc)
                return
            except BaseException as exc:  # noqa: BLE001 - e.g. cancelled by close()
                if outer.set_running_or_notify_cancel():
                    outer.set_exception(exc)
                return
            _settle(outer, ok, value)

        inner.add_done_callback(relay)

    def _drop_broken(self, pool: cf.ProcessPoolExecutor) -> None:
        """Forget a broken pool (the next task builds a new one); called from the pool's
        own management thread, so it is shut down without waiting for that thread."""
        with self._pool_lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False)

    def worker_pids(self) -> list[int]:
        """Process ids of the pool's workers (empty before the first task)."""
        if self._pool is None:
            return []
        processes = getattr(self._pool, "_processes", None) or {}
        return sorted(int(pid) for pid in processes)

    def imap_unordered(
        self, fn: Callable[..., Any], items: Sequence[tuple[Any, ...]]
    ) -> Iterator[TaskOutcome]:
        items = [tuple(item) for item in items]
        if self.max_workers == 0:
            yield from self._serial(fn, items)
            return
        yield from self._pooled(fn, items)

    @staticmethod
    def _serial(fn: Callable[..., Any], items: list[tuple[Any, ...]]) -> Iterator[TaskOutcome]:
        for index, item in enumerate(items):
            ok, value = guarded_call(fn, item)
            yield TaskOutcome(index, value, None) if ok else TaskOutcome(index, None, value)

    def _pooled(
        self, fn: Callable[..., Any], items: list[tuple[Any, ...]]
    ) -> Iterator[TaskOutcome]:
        attempts = [0] * len(items)
        pending: dict[cf.Future[tuple[bool, Any]], int] = {}

        def submit(index: int) -> None:
            attempts[index] += 1
            pending[self._get_pool().submit(guarded_call, fn, items[index])] = index

        try:
            for index in range(len(items)):
                submit(index)
            while pending:
                done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
                lost: list[int] = []
                for future in done:
                    index = pending.pop(future)
                    try:
                        ok, value = future.result()
                    except BrokenProcessPool:
                        lost.append(index)
                        continue
                    yield TaskOutcome(index, value, None) if ok else TaskOutcome(
                        index, None, value
                    )
                if lost:
                    # a worker died: every unfinished task of the pool is lost with it
                    lost.extend(pending.values())
                    pending.clear()
                    self._discard_pool()
                    for index in sorted(lost):
                        if attempts[index] >= self.max_attempts:
                            yield TaskOutcome(index, None, _worker_lost(attempts[index]))
                        else:
                            submit(index)
        finally:
            if pending:
                # running tasks cannot be cancelled in a process pool: stop its workers
                self._discard_pool()

    def _discard_pool(self) -> None:
        """Terminate the workers and drop the pool; its unfinished futures break.

        The futures are not cancelled first: on Python 3.11 the pool's manager thread
        then fails with InvalidStateError when it marks them broken.
        """
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            if process.is_alive():
                process.terminate()
        pool.shutdown(wait=True)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __repr__(self) -> str:
        return f"LocalExecutor(max_workers={self.max_workers}, mp_context={self.mp_context!r})"


class DaskExecutor(Executor):
    """Tasks on a Dask distributed cluster.

    Parameters
    ----------
    address : str, optional
        Scheduler address of an existing cluster (``"tcp://host:8786"``). ``None``
        starts a LocalCluster bound to 127.0.0.1 (worker processes on this machine).
    n_workers : int, optional
        Workers of the LocalCluster (default: one per CPU). Ignored with ``address``.
    threads_per_worker : int
        Threads per LocalCluster worker (default 1: a run uses one core; numba's own
        threads are set per task by the task). Ignored with ``address``.
    max_attempts : int
        How many worker deaths a task may suffer before it is reported as failed
        (Dask's ``distributed.scheduler.allowed-failures`` is ``max_attempts - 1``;
        only takes effect for a LocalCluster started here).
    client : distributed.Client, optional
        Use this client instead (not closed by :meth:`close`).
    **cluster_kwargs
        Passed to ``distributed.LocalCluster`` (e.g. ``memory_limit="2GiB"``). Its
        workers log only critical messages unless you pass e.g.
        ``silence_logs=logging.WARNING``.

    Raises
    ------
    ExecutorError
        When Dask is not installed (``pip install 'resonance-engine[dask]'``) or the
        scheduler cannot be reached.
    """

    name = "dask"

    def __init__(
        self,
        address: str | None = None,
        *,
        n_workers: int | None = None,
        threads_per_worker: int = 1,
        max_attempts: int = 3,
        client: Any = None,
        timeout: float = 30.0,
        **cluster_kwargs: Any,
    ) -> None:
        try:
            import dask
            import distributed
        except ImportError:
            raise ExecutorError(
                "the Dask executor needs dask[distributed]; install it with "
                "pip install 'resonance-engine[dask]'"
            ) from None
        if not isinstance(max_attempts, int) or max_attempts < 1:
            raise ConfigError(f"max_attempts must be an integer >= 1, got {max_attempts!r}")
        self.address = address
        self._owns_client = client is None
        self._cluster: Any = None
        if client is not None:
            self.client = client
            return
        try:
            if address is not None:
                if not isinstance(address, str) or "://" not in address:
                    raise ConfigError(
                        f"a Dask scheduler address looks like 'tcp://host:8786', got {address!r}"
                    )
                self.client = distributed.Client(address, timeout=timeout)
            else:
                with dask.config.set({"distributed.scheduler.allowed-failures": max_attempts - 1}):
                    self._cluster = distributed.LocalCluster(
                        n_workers=n_workers if n_workers is not None else os.cpu_count() or 1,
                        threads_per_worker=threads_per_worker,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address=cluster_kwargs.pop("dashboard_address", ":0"),
                        silence_logs=cluster_kwargs.pop("silence_logs", logging.CRITICAL),
                        **cluster_kwargs,
                    )
                    self.client = distributed.Client(self._cluster, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            self.close()
            where = address or "a LocalCluster on 127.0.0.1"
            raise ExecutorError(
                f"cannot connect to the Dask scheduler at {where}: {exc}; start it with "
                "'dask scheduler' and check the address and firewall"
            ) from None

    @property
    def workers(self) -> int:
        info = self.client.scheduler_info()
        return sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values())

    @property
    def dashboard_link(self) -> str | None:
        """URL of the Dask dashboard, if the cluster serves one."""
        try:
            return str(self.client.dashboard_link)
        except Exception:  # noqa: BLE001 - no dashboard
            return None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        outer: cf.Future[Any] = cf.Future()
        inner = self.client.submit(guarded_call, fn, tuple(args), kwargs, pure=False)

        def relay(done: Any) -> None:
            try:
                ok, value = done.result()
            except BaseException as exc:  # noqa: BLE001 - e.g. KilledWorker, cancelled
                if outer.set_running_or_notify_cancel():
                    outer.set_exception(exc)
                return
            _settle(outer, ok, value)

        inner.add_done_callback(relay)
        outer.add_done_callback(lambda _: inner.release())
        return outer

    def worker_pids(self) -> dict[str, int]:
        """Worker address -> process id (for fault tests and diagnostics)."""
        return dict(self.client.run(os.getpid))

    def imap_unordered(
        self, fn: Callable[..., Any], items: Sequence[tuple[Any, ...]]
    ) -> Iterator[TaskOutcome]:
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        futures = [
            self.client.submit(guarded_call, fn, tuple(item), pure=False) for item in items
        ]
        index_of = {future.key: i for i, future in enumerate(futures)}
        remaining = set(index_of)
        try:
            for future in as_completed(futures):
                index = index_of[future.key]
                remaining.discard(future.key)
                try:
                    ok, value = future.result()
                except KilledWorker as exc:
                    yield TaskOutcome(
                        index,
                        None,
                        TaskFailure(
                            "WorkerLost",
                            f"the Dask workers running this task died too often ({exc})",
                        ),
                    )
                    continue
                except Exception as exc:  # noqa: BLE001 - e.g. a task that could not unpickle
                    yield TaskOutcome(
                        index, None, TaskFailure(type(exc).__name__, str(exc))
                    )
                    continue
                finally:
                    future.release()
                yield TaskOutcome(index, value, None) if ok else TaskOutcome(index, None, value)
        finally:
            left = [f for f in futures if f.key in remaining]
            if left:
                self.client.cancel(left)

    def close(self) -> None:
        # the scheduler of a LocalCluster lives in this process: keep its shutdown
        # chatter (INFO lines of every client, nanny and the scheduler) off the terminal
        logger = logging.getLogger("distributed")
        level = logger.level
        if self._cluster is not None:
            logger.setLevel(max(level, logging.WARNING))
        try:
            client = getattr(self, "client", None)
            if client is not None and self._owns_client:
                client.close()
            if self._cluster is not None:
                self._cluster.close()
                self._cluster = None
        finally:
            logger.setLevel(level)

    def __repr__(self) -> str:
        where = self.address or "LocalCluster(127.0.0.1)"
        return f"DaskExecutor({where!r})"


def resolve_executor(spec: str | Executor | None, workers: int | None = None) -> Executor:
    """The executor named by ``--executor``.

    Parameters
    ----------
    spec : str, Executor or None
        ``None`` or ``"local"``: :class:`LocalExecutor`; ``"serial"``: in this process;
        ``"dask"``: a Dask LocalCluster on 127.0.0.1; ``"tcp://host:port"`` (or
        ``tls://...``): the Dask scheduler at that address. An :class:`Executor` is
        returned as it is.
    workers : int, optional
        Worker processes for ``local`` and ``dask`` (default: one per CPU).
    """
    if isinstance(spec, Executor):
        return spec
    if spec is None or spec == "local":
        return LocalExecutor(workers)
    if spec == "serial":
        return LocalExecutor(0)
    if spec == "dask":
        return DaskExecutor(n_workers=workers)
    if isinstance(spec, str) and "://" in spec:
        return DaskExecutor(spec)
    raise ConfigError(
        f"unknown executor {spec!r}; use one of {', '.join(EXECUTOR_CHOICES)} or a Dask "
        "scheduler address like tcp://host:8786"
    )
