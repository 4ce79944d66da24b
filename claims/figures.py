"""Figure data for the claims report, built from runs (drawn by lowent.report).

Each function returns a plain dict (see lowent.report); claim tests pass it to
``record_figure``. Curves are means over seeds with a +-1 SD band; entropy and KL curves are
smoothed with the paper's moving average of 3 (lowent.curves).
"""
from __future__ import annotations

import numpy as np

from lowent.curves import smooth
from lowent.engine import Run

UNITS = {"entropy": "H(p_theta) (nats)", "kl": "KL(p_tgt || p_theta) (nats)",
         "loss": "training loss (nats/token)", "mass_sparse": "p_theta(sparse part)",
         "entropy_nonsparse": "non-sparse-part entropy (nats)",
         "dead_fraction": "dead FFN neurons (fraction)"}


def _band(x: np.ndarray) -> dict:
    m, s = x.mean(axis=0), x.std(axis=0)
    return {"y": m.tolist(), "lo": (m - s).tolist(), "hi": (m + s).tolist()}


def epoch_curves(runs: dict[str, Run], metric: str, title: str,
                 target: float | None = None) -> dict:
    """Per-epoch curves of `metric` for each labelled run (Fig. 2 left, Fig. 4 left)."""
    series = []
    for label, run in runs.items():
        x = run.per_epoch[metric]
        x = smooth(x) if metric in ("entropy", "kl") else x
        series.append({"label": label, "x": list(range(1, x.shape[1] + 1)), **_band(x)})
    late = np.concatenate([np.ravel(np.asarray(s["y"])[len(s["y"]) // 10:]) for s in series])
    fig = {"kind": "lines", "title": title + " (y range fitted after the first tenth)" if late.size
           else title, "xlabel": "epoch", "ylabel": UNITS[metric], "series": series}
    if late.size:  # the first epochs' fall would hide the end of training, which the claims read
        lo, hi = float(late.min()), float(late.max())
        if target is not None:
            lo, hi = min(lo, target), max(hi, target)
        fig["ylim"] = [lo, hi]
    if target is not None:
        fig["hlines"] = [{"y": target, "label": "H(p_tgt)"}]
    return fig


def scatter(points: dict[str, tuple], title: str, xlabel: str, ylabel: str,
            hline: tuple[float, str] | None = None) -> dict:
    """Per-seed points {label: (x [E], y [E])} (Fig. 2 right, Fig. 5)."""
    fig = {"kind": "scatter", "title": title, "xlabel": xlabel, "ylabel": ylabel,
           "series": [{"label": k, "x": np.ravel(x).tolist(), "y": np.ravel(y).tolist()}
                      for k, (x, y) in points.items()]}
    if hline is not None:
        fig["hlines"] = [{"y": hline[0], "label": hline[1]}]
    return fig


def by_size(values: dict[str, dict[int, np.ndarray]], title: str, ylabel: str,
            hline: tuple[float, str] | None = None) -> dict:
    """Mean +- SD over seeds against d, one line per label (Fig. 3, Fig. 6 summaries)."""
    series = []
    for label, by_d in values.items():
        ds = sorted(by_d)
        x = np.stack([np.asarray(by_d[d], dtype=np.float64) for d in ds], axis=1)
        series.append({"label": label, "x": ds, **_band(x)})
    fig = {"kind": "lines", "title": title, "xlabel": "d (model width)", "ylabel": ylabel,
           "series": series, "logx": True}
    if hline is not None:
        fig["hlines"] = [{"y": hline[0], "label": hline[1]}]
    return fig


def histograms(hists: dict[str, np.ndarray], edges: np.ndarray, title: str, xlabel: str) -> dict:
    """Seed-mean histograms {label: [E, bins]} on common `edges` (Fig. 6)."""
    return {"kind": "hist", "title": title, "xlabel": xlabel,
            "ylabel": "fraction", "edges": np.asarray(edges, dtype=np.float64).tolist(),
            "series": [{"label": k, "y": np.asarray(h).mean(axis=0).tolist()}
                       for k, h in hists.items()]}


def event_trace(run: Run, seed_index: int, found: dict, neurons: int | None, title: str) -> dict:
    """One seed's per-step loss (left axis) and dead-neuron fraction (right axis) with the
    detected spikes and jumps marked (Fig. 7, 8)."""
    loss = np.round(run.per_step["loss"][seed_index], 5)
    late = loss[min(loss.size - 1, 128):]  # the first epoch's fall would flatten the spikes
    fig = {"kind": "events", "title": title, "xlabel": "training step",
           "ylabel": UNITS["loss"], "ylim": [float(late.min()), float(late.max())],
           "series": [{"label": "loss", "x": list(range(loss.size)), "y": loss.tolist()}],
           "marks": [{"x": found["spikes"].tolist(), "label": "loss spike"},
                     {"x": found["jumps"].tolist(), "label": "dead-neuron jump"}]}
    if neurons:
        fig["ylabel2"] = UNITS["dead_fraction"]
        fig["series2"] = [{"label": "dead fraction", "x": run.per_step["step"].tolist(),
                           "y": np.round(run.per_step["dead_count"][seed_index] / neurons,
                                         5).tolist()}]
    return fig
