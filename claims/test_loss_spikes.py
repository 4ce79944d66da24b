"""S2, S4 (marker ``loss_spikes``): dead neurons grow in jumps that coincide with loss spikes;
where spikes occur.

Section 4.2 and Appendix E of the paper; detectors in lowent/events.py, tests and families
fixed in claims/README.md and written in lowent/claims/loss_spikes.py.
"""
import numpy as np
import pytest

from claims import figures
from claims.marks import cases, claim
from lowent import events
from lowent.claims.common import ffn_neurons, run_events, spikes_per_run
from lowent.claims.loss_spikes import S2, S4, s2_family, s4_family


# The registered outcome of a claim that does not hold, and why (claims/CALIBRATION.md has
# the figures behind it). A run's XFAIL line and report give that run's own figures.
S2_EXPECTED = (
    "jumps make significantly less than half of the dead count's growth")

# Sensitivity: the registered outcome without dropout (first run, claims/CALIBRATION.md).
S2_X = {"dropout0": ("contradicted", "without dropout too, jumps make less than half of the "
                     "dead count's growth")}


class TestSparsityGrowsInJumps:
    @pytest.mark.parametrize("target", cases(S2, "contradicted", S2_EXPECTED, x=S2_X))
    def test_dead_neurons_grow_in_jumps_that_coincide_with_loss_spikes(
            self, target, runs, record_verdict, record_figure):
        """S2. "this dynamic sparsity enhances in a jump-like manner rather than
        continuously. Moreover, the enhancement timing closely coincides with the occurrence
        of loss spikes, where the loss rapidly increases and then returns to its previous
        level." (Sec. 4.2, Fig. 7: d = 64, Adam)"""
        run = runs["transformer", 64]
        n = ffn_neurons(run.spec.model)
        ev = run_events(run)
        share = [events.jump_share(dead, n) for dead in run.per_step["dead_count"]]
        record_figure(figures.event_trace(run, 0, ev[0], n, "d = 64, Adam, seed "
                                          f"{run.seeds[0]}: loss and dead neurons (Fig. 7)"))
        v = record_verdict(s2_family(share, [e["jumps"] for e in ev], [e["spikes"] for e in ev],
                                     np.asarray(run.per_step["step"])[1:]))
        assert v.passed, v.outcome


class TestWhereSpikesOccur:
    @claim(S4)
    def test_spikes_are_rarer_in_small_models_and_rnns_and_occur_without_ffn(
            self, runs, profile, record_verdict, record_figure):
        """S4. "loss spikes occur less frequently in smaller models (see Figure 13) ... FFN
        modules are not the sole factor contributing to loss spikes -- such spikes also occur
        in Attention-only models (see Figure 12) ... as the model size increases,
        Transformers are more prone to loss spikes compared to RNNs (see Figure 10)."
        (Sec. 4.2)"""
        by_d = {d: spikes_per_run(runs["transformer", d]) for d in profile.sizes}
        record_figure(figures.by_size(
            {"Transformer L=4": by_d}, "Loss spikes per run against size (Fig. 13)",
            "loss spikes per 100-epoch run"))
        for key, label in ((("gru", 64), "GRU d = 64 (Fig. 10)"),
                           (("attention_only", 64), "attention_only d = 64, L = 4 (Fig. 12)")):
            r = runs[key]
            record_figure(figures.event_trace(r, 0, run_events(r)[0], ffn_neurons(r.spec.model),
                                              f"{label}, seed {r.seeds[0]}: training loss"))
        v = record_verdict(s4_family(by_d, {k: spikes_per_run(runs[k, 64]) for k in ("gru", "lstm")},
                                     spikes_per_run(runs["attention_only", 64])))
        assert v.passed, v.outcome
