"""S3 (marker ``optimizers``): second-order information drives spikes and sparsity.

Section 4.2 of the paper; detectors in lowent/events.py, tests fixed in claims/README.md.
"""
import numpy as np
import pytest

from claims import figures
from claims.conftest import ffn_neurons, run_events, summary
from lowent.stats import conjunction, equivalence_two, rate_below, two_sample

pytestmark = pytest.mark.optimizers

NO_EVENTS = 0.05  # events per 1,000 steps below which an optimizer "shows none"
SPIKE_MARGIN = 2.0  # spikes per run within which AdamW "behaves like" Adam
DEAD_MARGIN = 0.02  # dead fraction within which AdamW "behaves like" Adam

# Measured with the paper profile (10 seeds, 100 epochs, L = 4, dropout 0.1, torch 2.13.0 CPU).
S3_FIGURES = (
    "does not reproduce: rmsprop spikes less than adam (0.1 vs 4.5 spikes per run), though "
    "its dead count rises in many small jumps (81 per run), and does not end sparser (7.5% "
    "vs 7.2% dead); adam_2nd spikes like adam (4.6) and ends less sparse (2.2% dead; its dead "
    "fraction leaps during spikes, to 35% in seed 0, and recovers); "
    "sgd_momentum shows no spikes (Holm p = 0.013) and 1 jump in 10 runs (p = 0.074 for "
    "'none'); adamw spikes like adam (4.1 per run, within 2) but its dead fraction (8.3%) is "
    "not shown within 0.02 of adam's")


class TestSecondOrderInformationDrivesSparsity:
    @pytest.mark.xfail(strict=True, reason=S3_FIGURES)
    def test_sgd_is_calm_rmsprop_and_adam_2nd_are_not_and_adamw_is_like_adam(
            self, optimizer_runs, profile, record_verdict, record_figure):
        """S3. "SGD + Momentum does not exhibit loss spikes or dynamic sparsity. In contrast,
        optimizers dominated by second-order information (RMSprop and Adam_2nd) exacerbate
        training instability and induce sparse patterns. ... AdamW exhibits a behavior similar
        to Adam." (Sec. 4.2, Fig. 8)"""
        ev = {o: run_events(r) for o, r in optimizer_runs.items()}
        spikes = {o: np.array([e["spikes"].size for e in x], float) for o, x in ev.items()}
        jumps = {o: np.array([e["jumps"].size for e in x], float) for o, x in ev.items()}
        dead = {o: summary(r, "dead_fraction", profile.window) for o, r in optimizer_runs.items()}
        for o, r in optimizer_runs.items():
            record_figure(figures.event_trace(r, 0, ev[o][0], ffn_neurons(r.spec.model),
                                              f"{o}, d = 64, seed {r.seeds[0]} (Fig. 8)"))
        kilosteps = optimizer_runs["adam"].per_step["loss"].shape[1] / 1000
        v = record_verdict(conjunction(
            [rate_below(spikes["sgd_momentum"], kilosteps, NO_EVENTS),
             rate_below(jumps["sgd_momentum"], kilosteps, NO_EVENTS),
             two_sample(spikes["rmsprop"], spikes["adam"], "greater"),
             two_sample(spikes["adam_2nd"], spikes["adam"], "greater"),
             two_sample(dead["rmsprop"], dead["adam"], "greater"),
             two_sample(dead["adam_2nd"], dead["adam"], "greater"),
             equivalence_two(spikes["adamw"], spikes["adam"], SPIKE_MARGIN),
             equivalence_two(dead["adamw"], dead["adam"], DEAD_MARGIN)],
            labels=["sgd_momentum: no spikes", "sgd_momentum: no dead-neuron jumps",
                    "rmsprop spikes more than adam", "adam_2nd spikes more than adam",
                    "rmsprop ends sparser than adam", "adam_2nd ends sparser than adam",
                    "adamw: spikes within 2 of adam", "adamw: dead fraction within 0.02 of adam"],
            claim="S3", statement="d = 64, L = 4: sgd_momentum has (almost) no spikes or jumps; "
                                  "rmsprop and adam_2nd spike more and end sparser than adam; "
                                  "adamw is within 2 spikes and 0.02 dead fraction of adam",
            paper="SGD+momentum: no spikes, no sparsity; RMSprop, Adam_2nd: more of both; "
                  "AdamW like Adam (Fig. 8)",
            ours="; ".join(f"{o}: {spikes[o].mean():.1f} spikes, {jumps[o].mean():.1f} jumps, "
                           f"{dead[o].mean():.1%} dead" for o in optimizer_runs)))
        assert v.passed, str(v)
