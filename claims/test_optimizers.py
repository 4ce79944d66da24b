"""S3 (marker ``optimizers``): second-order information drives spikes and sparsity.

Section 4.2 of the paper; detectors in lowent/events.py, tests fixed in claims/README.md and
written in lowent/claims/optimizers.py.
"""
import numpy as np

from claims import figures
from claims.marks import claim
from lowent.claims.common import ffn_neurons, run_events, summary
from lowent.claims.optimizers import S3, s3_family

# The registered outcome of a claim that does not hold, and why (claims/CALIBRATION.md has
# the figures behind it). A run's XFAIL line and report give that run's own figures.
S3_EXPECTED = (
    "RMSprop spikes less than Adam, and adam_2nd does not end "
    "sparser")


class TestSecondOrderInformationDrivesSparsity:
    @claim(S3, expect="contradicted", why=S3_EXPECTED)
    def test_sgd_is_calm_rmsprop_and_adam_2nd_are_not_and_adamw_is_like_adam(
            self, runs, profile, record_verdict, record_figure):
        """S3. "SGD + Momentum does not exhibit loss spikes or dynamic sparsity. In contrast,
        optimizers dominated by second-order information (RMSprop and Adam_2nd) exacerbate
        training instability and induce sparse patterns. ... AdamW exhibits a behavior similar
        to Adam." (Sec. 4.2, Fig. 8)"""
        ev = {o: run_events(r) for o, r in runs.items()}
        spikes = {o: np.array([e["spikes"].size for e in x], float) for o, x in ev.items()}
        jumps = {o: np.array([e["jumps"].size for e in x], float) for o, x in ev.items()}
        dead = {o: summary(r, "dead_fraction", profile.window) for o, r in runs.items()}
        for o, r in runs.items():
            record_figure(figures.event_trace(r, 0, ev[o][0], ffn_neurons(r.spec.model),
                                              f"{o}, d = 64, seed {r.seeds[0]} (Fig. 8)"))
        kilosteps = runs["adam"].per_step["loss"].shape[1] / 1000
        v = record_verdict(s3_family(spikes, jumps, dead, kilosteps))
        assert v.passed, v.outcome
