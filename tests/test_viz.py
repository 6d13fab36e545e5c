"""Pictures are drawn on matplotlib Figures with the Agg canvas: the global backend (a
notebook's, a GUI's) is never switched, and pyplot is never imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
import numpy as np
import matplotlib
from resonance_engine import ComplexityAnalyzer
from resonance_engine.dist import MemoryResults, LocalExecutor, parse_param, plan_sweep, run_sweep
from resonance_engine.dist.report import save_sweep_heatmap
from resonance_engine.metrics.plots import save_metrics_png
from resonance_engine.swarm.plots import plot_swarm_run
from resonance_engine.viz import save_field_png

out = sys.argv[1]
u = np.random.default_rng(0).normal(size=(32, 32)).astype(np.float32)
save_field_png(u, out + "/field.png", "field")
frame = ComplexityAnalyzer(keep_fields=True).update(u, step=0, t=0.0)
save_metrics_png(u, [frame], out + "/metrics.png")
plot_swarm_run(np.ones((5, 2)), np.zeros(5), out + "/swarm.png")
plan = plan_sweep(None, [parse_param("damping=0.1,0.2")], size=16, steps=4)
save_sweep_heatmap(run_sweep(plan, LocalExecutor(0), MemoryResults()), out + "/sweep.png")
print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
"""


def test_pictures_leave_the_matplotlib_backend_alone(tmp_path: Path) -> None:
    env = {**os.environ, "MPLBACKEND": "svg"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["svg", "False"]
    for name in ("field", "metrics", "swarm", "sweep"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
