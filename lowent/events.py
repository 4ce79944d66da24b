"""Loss spikes and dead-neuron jumps in training logs (SETTING 6; claims S2-S4).

Both detectors read one seed's log at a time and return event steps. Their thresholds are
fixed here, before any claim run was looked at, and stated in the README:

* **Loss spike** (per-step training loss, a minibatch mean): at step t, the baseline is the
  median of the previous ``SPIKE_BASELINE`` steps and its noise 1.4826 x their MAD (a robust
  SD). A spike starts at t when the loss exceeds the baseline by more than ``SPIKE_SDS``
  robust SDs *and* by more than ``SPIKE_RISE`` of the baseline (relative) for
  ``SPIKE_MIN_STEPS`` consecutive steps (one bad minibatch is not an instability), and counts only
  if the loss then returns below the halfway mark between baseline and threshold within
  ``SPIKE_RETURN`` steps ("a sudden rise, then return"; a rise that stays is a level shift,
  not a spike). One excursion is one spike; scanning resumes after its return.
* **Dead-neuron jump** (dead-neuron count every k steps): at probe j, a jump is a rise of at
  least ``max(JUMP_MIN, JUMP_FRACTION x neurons)`` over one probe interval that holds, i.e.
  the median of the next ``JUMP_HOLD`` probes stays at least that far above probe j - 1.
  Consecutive jump probes are one jump, at its first probe.
* **Coincidence**: a jump coincides with a spike when it is seen between ``COINCIDE_BEFORE``
  steps before and ``COINCIDE_AFTER`` steps after a spike's start ("closely coincides": the
  paper does not say which comes first, so the window is symmetric, half an epoch each way).
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

SPIKE_BASELINE = 128  # steps of trailing window for the baseline (one epoch of 128 steps)
SPIKE_SDS = 6.0  # rise above the baseline median, in robust SDs of the window
SPIKE_RISE = 0.05  # and relative to the baseline: at least 5 % above it
SPIKE_MIN_STEPS = 3  # consecutive steps above the threshold
SPIKE_RETURN = 256  # steps within which the loss must come back (two epochs)

JUMP_FRACTION = 0.005  # a jump adds at least 0.5 % of the FFN neurons ...
JUMP_MIN = 2  # ... and at least 2 neurons, within one probe interval
JUMP_HOLD = 4  # probes over which the new level must hold (median)

COINCIDE_BEFORE = 64  # steps a jump may be seen before a spike's start
COINCIDE_AFTER = 64  # steps a jump may be seen after a spike's start


def loss_spikes(loss: np.ndarray) -> np.ndarray:
    """Start steps of the loss spikes of one run.

    Args:
        loss: [S] training loss of every step (nats per token).
    Returns:
        int64 array of spike start steps, increasing.
    """
    x = np.asarray(loss, dtype=np.float64)
    W = SPIKE_BASELINE
    if x.ndim != 1:
        raise ValueError(f"one series at a time, got shape {x.shape}")
    if x.size <= W:
        return np.zeros(0, dtype=np.int64)
    win = sliding_window_view(x[:-1], W)  # win[i] = x[i : i + W], the baseline of step i + W
    # The threshold exceeds (1 + SPIKE_RISE) x the window's median, hence its minimum, so only
    # steps above that (for SPIKE_MIN_STEPS in a row) need the median at all.
    above = x[W:] > (1 + SPIKE_RISE) * win.min(axis=1)
    run = above.copy()
    for lag in range(1, SPIKE_MIN_STEPS):
        run[:-lag] &= above[lag:]
        run[-lag:] = False
    cand = np.nonzero(run)[0]
    med = np.median(win[cand], axis=1)
    sds = 1.4826 * np.median(np.abs(win[cand] - med[:, None]), axis=1)
    events = []
    t_next = W
    for i, base, sd in zip(cand, med, sds):
        t = W + int(i)
        if t < t_next:
            continue
        thr = base + max(SPIKE_SDS * sd, SPIKE_RISE * abs(base))
        if not np.all(x[t: t + SPIKE_MIN_STEPS] > thr):
            continue
        back = 0.5 * (base + thr)
        after = np.nonzero(x[t + SPIKE_MIN_STEPS: t + 1 + SPIKE_RETURN] < back)[0]
        if after.size:  # returned: a spike; look for the next one after its return
            events.append(t)
            t_next = t + SPIKE_MIN_STEPS + int(after[0]) + 1
        else:  # stayed up: a level shift, not a spike
            t_next = t + SPIKE_RETURN
    return np.asarray(events, dtype=np.int64)


def jump_threshold(neurons: int) -> int:
    """Smallest rise of the dead-neuron count that is a jump, for a model with `neurons`."""
    return max(JUMP_MIN, math.ceil(JUMP_FRACTION * neurons))


def _jump_probes(dead: np.ndarray, neurons: int) -> np.ndarray:
    """[P] bool: probe j (>= 1) rises by a jump over probe j - 1, and the rise holds."""
    m = jump_threshold(neurons)
    out = np.zeros(dead.size, dtype=bool)
    for j in range(1, dead.size):
        hold = np.median(dead[j: j + JUMP_HOLD])
        out[j] = dead[j] - dead[j - 1] >= m and hold >= dead[j - 1] + m
    return out


def _check(dead, steps):
    dead, steps = np.asarray(dead, dtype=np.float64), np.asarray(steps)
    if dead.shape != steps.shape or dead.ndim != 1:
        raise ValueError(f"dead {dead.shape} and steps {steps.shape} must be equal 1-d shapes")
    return dead, steps


def dead_jumps(dead: np.ndarray, steps: np.ndarray, neurons: int) -> np.ndarray:
    """Steps at which the dead-neuron count of one run jumps.

    Args:
        dead: [P] dead-neuron count at each probe.
        steps: [P] the training step of each probe.
        neurons: FFN neurons of the model (4 d x FFN layers).
    Returns:
        int64 array of the steps of the probes at which jumps are seen (the first probe of
        consecutive jump probes), increasing.
    """
    dead, steps = _check(dead, steps)
    jump = _jump_probes(dead, neurons)
    onset = jump & ~np.concatenate([[False], jump[:-1]])
    return steps[onset].astype(np.int64)


def jump_share(dead: np.ndarray, neurons: int) -> float:
    """Share of the dead count's growth made in jumps: the rises of the probe intervals at
    jump probes over the rises of all probe intervals (each counted when positive). In
    [0, 1]; 0 when the count never rises."""
    dead = np.asarray(dead, dtype=np.float64)
    rises = np.maximum(np.diff(dead, prepend=dead[0]), 0.0)
    total = rises.sum()
    if total <= 0:
        return 0.0
    return float(rises[_jump_probes(dead, neurons)].sum() / total)


def coincide(jumps: np.ndarray, spikes: np.ndarray, before: int = COINCIDE_BEFORE,
             after: int = COINCIDE_AFTER) -> np.ndarray:  # the window of stats.coincidence
    """[len(jumps)] bool: the jump is seen within [start - before, start + after] of a spike."""
    jumps, spikes = np.asarray(jumps), np.asarray(spikes)
    if jumps.size == 0 or spikes.size == 0:
        return np.zeros(jumps.size, dtype=bool)
    lag = jumps[:, None] - spikes[None, :]  # [J, K]
    return ((lag >= -before) & (lag <= after)).any(axis=1)


def per_seed(run_per_step: dict, neurons: int | None) -> list[dict]:
    """Events of every seed of a logged run: [{"spikes": steps, "jumps": steps}] per seed.
    `neurons` None (a model without FFN) gives no jumps."""
    loss = np.asarray(run_per_step["loss"])  # [E, S]
    out = []
    for e in range(loss.shape[0]):
        jumps = (np.zeros(0, dtype=np.int64) if neurons is None else
                 dead_jumps(run_per_step["dead_count"][e], run_per_step["step"], neurons))
        out.append({"spikes": loss_spikes(loss[e]), "jumps": jumps})
    return out
