"""Scale-out: parameter sweeps (and other independent tasks) on a process pool or Dask.

- :mod:`.executor`: the :class:`Executor` interface, :class:`LocalExecutor` (process
  pool, the default) and :class:`DaskExecutor` (LocalCluster or ``tcp://`` scheduler).
- :mod:`.params`: ``--param`` parsing and the cartesian grid.
- :mod:`.sweep`: :func:`plan_sweep`, the task :func:`run_one`, :func:`run_sweep`.
- :mod:`.results`: the client-side result stores (memory, JSON lines, AgentDB).
- :mod:`.report`: the result table and heatmaps.
- :mod:`.dask_swarm`: :func:`run_swarm_on_dask`, a swarm whose agents run on Dask workers
  and exchange signatures over NATS (needs the swarm layer and a NATS server).
"""

from resonance_engine.dist.executor import (
    EXECUTOR_CHOICES,
    DaskExecutor,
    Executor,
    LocalExecutor,
    TaskFailure,
    TaskOutcome,
    resolve_executor,
)
from resonance_engine.dist.params import (
    SweepParameter,
    apply_params,
    parameter_grid,
    parse_param,
)
from resonance_engine.dist.report import headline_quantities, save_sweep_heatmap, sweep_rows
from resonance_engine.dist.sweep import (
    RunOptions,
    RunResult,
    RunSpec,
    SweepFailure,
    SweepReport,
    plan_sweep,
    run_key,
    run_one,
    run_sweep,
)
from resonance_engine.dist.results import (
    AgentDBResults,
    JsonlResults,
    MemoryResults,
    ResultStore,
)

__all__ = [
    "Executor",
    "LocalExecutor",
    "DaskExecutor",
    "TaskFailure",
    "TaskOutcome",
    "resolve_executor",
    "EXECUTOR_CHOICES",
    "SweepParameter",
    "parse_param",
    "parameter_grid",
    "apply_params",
    "RunOptions",
    "RunSpec",
    "RunResult",
    "SweepFailure",
    "SweepReport",
    "plan_sweep",
    "run_key",
    "run_one",
    "run_sweep",
    "ResultStore",
    "MemoryResults",
    "JsonlResults",
    "AgentDBResults",
    "headline_quantities",
    "sweep_rows",
    "save_sweep_heatmap",
]
