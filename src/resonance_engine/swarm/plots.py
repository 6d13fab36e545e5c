"""Pictures of swarm runs and of the synchronization experiment (matplotlib, off-screen)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from resonance_engine.viz import figure

__all__ = ["plot_swarm_run", "plot_ci_pair", "plot_cs_vs_strength", "plot_basin", "plot_traffic"]


def plot_swarm_run(
    ci: np.ndarray, cs: np.ndarray, path: str | Path, title: str = "", cs_min: float = 0.7
) -> Path:
    """Agents' CI per tick (top) and the windowed CS per tick (bottom).

    Parameters
    ----------
    ci : ndarray, shape (ticks, agents)
    cs : ndarray, shape (ticks,)
    """
    fig = figure(figsize=(8, 6), dpi=110)
    top, bottom = fig.subplots(2, 1, sharex=True)
    ticks = np.arange(ci.shape[0])
    for i in range(ci.shape[1]):
        top.plot(ticks, ci[:, i], lw=0.8)
    top.set_ylabel("CI")
    top.set_title(title or f"{ci.shape[1]} agents")
    bottom.plot(np.arange(len(cs)), cs, color="k", lw=1.2, label="CS (windowed Pearson)")
    bottom.axhline(cs_min, color="tab:red", ls="--", lw=1, label=f"alert threshold {cs_min}")
    bottom.axhline(0.95, color="tab:green", ls=":", lw=1, label="claim: 0.95")
    bottom.set_ylim(-1.05, 1.05)
    bottom.set_xlabel("tick")
    bottom.set_ylabel("CS")
    bottom.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    return path


def plot_ci_pair(
    series: Mapping[str, np.ndarray], path: str | Path, title: str = ""
) -> Path:
    """CI of the agents side by side for several conditions (e.g. K = 0 and K > 0)."""
    fig = figure(figsize=(3.6 * len(series), 3.4), dpi=110)
    axes = fig.subplots(1, len(series), squeeze=False)
    for ax, (label, ci) in zip(axes[0], series.items(), strict=True):
        for i in range(ci.shape[1]):
            ax.plot(ci[:, i], lw=0.7)
        ax.set_title(label)
        ax.set_xlabel("tick (after warm-up)")
    axes[0][0].set_ylabel("CI")
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    return path


def plot_cs_vs_strength(
    rows: Sequence[Mapping[str, Any]], path: str | Path, claim: float = 0.95
) -> Path:
    """Pearson CS (mean and spread over seeds) against K, one panel per mechanism."""
    modes = list(dict.fromkeys(r["mechanism"] for r in rows))
    fig = figure(figsize=(3.2 * len(modes), 3.4), dpi=110)
    axes = fig.subplots(1, len(modes), sharey=True, squeeze=False)
    for ax, mode in zip(axes[0], modes, strict=True):
        mine = sorted((r for r in rows if r["mechanism"] == mode), key=lambda r: r["strength"])
        xs = np.arange(len(mine))
        ax.errorbar(xs, [r["cs_mean"] for r in mine], yerr=[r["cs_sd"] for r in mine],
                    marker="o", capsize=3, label="Pearson CS")
        ax.plot(xs, [r["mdea_cs_mean"] for r in mine], "s--", ms=4, label="MDEA-CS")
        ax.axhline(claim, color="tab:green", ls=":", lw=1)
        ax.set_xticks(xs)
        ax.set_xticklabels([f"{r['strength']:g}" for r in mine])
        ax.set_xlabel("K")
        ax.set_title(mode, fontsize=10)
        ax.set_ylim(-1.05, 1.05)
    axes[0][0].set_ylabel("CS (mean +- sd over seeds)")
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    return path


def plot_basin(final_cs: Sequence[float], threshold: float, path: str | Path,
               baseline: float | None = None) -> Path:
    """Histogram of the CS reached by perturbed runs, with the success threshold."""
    fig = figure(figsize=(6, 3.6), dpi=110)
    ax = fig.subplots()
    ax.hist(np.asarray(final_cs), bins=np.linspace(-1, 1, 41).tolist(), color="tab:blue")
    ax.axvline(threshold, color="tab:red", ls="--", label=f"threshold {threshold}")
    if baseline is not None and np.isfinite(baseline):
        ax.axvline(baseline, color="k", ls=":", label=f"unperturbed {baseline:.2f}")
    ax.set_xlabel("CS at the horizon")
    ax.set_ylabel("perturbed runs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    return path


def plot_traffic(bytes_per_tick: Mapping[str, float], path: str | Path) -> Path:
    """Bytes per tick on the bus for each kind of exchange (log scale)."""
    fig = figure(figsize=(6, 3.6), dpi=110)
    ax = fig.subplots()
    labels = list(bytes_per_tick)
    values = [bytes_per_tick[k] for k in labels]
    colors = ["tab:gray" if "state" in k else "tab:green" for k in labels]
    bars = ax.bar(labels, [max(v, 1e-9) for v in values], color=colors)
    ax.set_yscale("log")
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax.set_ylabel("bytes per tick (measured on the bus)")
    for bar, v in zip(bars, values, strict=True):
        ax.text(bar.get_x() + bar.get_width() / 2, v, f"{v:,.0f}", ha="center", va="bottom")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    return path
