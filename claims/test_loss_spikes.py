"""S2, S4 (marker ``loss_spikes``): dead neurons grow in jumps that coincide with loss spikes;
where spikes occur.

Section 4.2 and Appendix E of the paper; detectors in lowent/events.py, tests and families
fixed in claims/README.md.
"""
import numpy as np
import pytest

from claims import figures
from claims.conftest import ffn_neurons, run_events
from lowent import events
from lowent.stats import coincidence, conjunction, more_often, one_sample, trend, two_sample

pytestmark = pytest.mark.loss_spikes

FALSE_ALARMS = 0.05  # spike detector's false-alarm rate per run (bound tested in tests/test_events.py)


def spikes_per_run(run) -> np.ndarray:
    """[E] number of loss spikes of each seed."""
    return np.array([e["spikes"].size for e in run_events(run)], dtype=np.float64)


def _counts(x) -> str:
    return f"{np.mean(x):.2f} per run"


class TestSparsityGrowsInJumps:
    def test_dead_neurons_grow_in_jumps_that_coincide_with_loss_spikes(
            self, spike_runs, record_verdict, record_figure):
        """S2. "this dynamic sparsity enhances in a jump-like manner rather than
        continuously. Moreover, the enhancement timing closely coincides with the occurrence
        of loss spikes, where the loss rapidly increases and then returns to its previous
        level." (Sec. 4.2, Fig. 7: d = 64, Adam)"""
        run = spike_runs["transformer", 64]
        n = ffn_neurons(run.spec.model)
        ev = run_events(run)
        share = [events.jump_share(dead, n) for dead in run.per_step["dead_count"]]
        length = run.per_step["loss"].shape[1]
        record_figure(figures.event_trace(run, 0, ev[0], n, "d = 64, Adam, seed "
                                          f"{run.seeds[0]}: loss and dead neurons (Fig. 7)"))
        v = record_verdict(conjunction(
            [one_sample(share, 0.5, "greater"),
             coincidence([e["jumps"] for e in ev], [e["spikes"] for e in ev], length,
                         events.COINCIDE_BEFORE, events.COINCIDE_AFTER)],
            labels=["jumps make > 50% of the dead count's rise",
                    "jumps fall near loss spikes more than by chance"],
            claim="S2", statement="d = 64, L = 4, Adam: jumps make more than half of the dead "
                                  "count's rise, and they fall near loss spikes more than by "
                                  "chance",
            paper="the dead-neuron proportion rises in jumps at the loss spikes (Fig. 7)",
            ours=f"jumps per run {np.mean([e['jumps'].size for e in ev]):.2f}, spikes per run "
                 f"{np.mean([e['spikes'].size for e in ev]):.2f}, share of the rise in jumps "
                 f"{np.mean(share):.2f}"))
        assert v.passed, str(v)


class TestWhereSpikesOccur:
    def test_spikes_are_rarer_in_small_models_and_rnns_and_occur_without_ffn(
            self, spike_runs, profile, record_verdict, record_figure):
        """S4. "loss spikes occur less frequently in smaller models (see Figure 13) ... FFN
        modules are not the sole factor contributing to loss spikes -- such spikes also occur
        in Attention-only models (see Figure 12) ... as the model size increases,
        Transformers are more prone to loss spikes compared to RNNs (see Figure 10)."
        (Sec. 4.2)"""
        by_d = {d: spikes_per_run(spike_runs["transformer", d]) for d in profile.sizes}
        rnn = {k: spikes_per_run(spike_runs[k, 64]) for k in ("gru", "lstm")}
        att = spikes_per_run(spike_runs["attention_only", 64])
        record_figure(figures.by_size(
            {"Transformer L=4": by_d}, "Loss spikes per run against size (Fig. 13)",
            "loss spikes per 100-epoch run"))
        for key, label in ((("gru", 64), "GRU d = 64 (Fig. 10)"),
                           (("attention_only", 64), "attention_only d = 64, L = 4 (Fig. 12)")):
            r = spike_runs[key]
            record_figure(figures.event_trace(r, 0, run_events(r)[0], ffn_neurons(r.spec.model),
                                              f"{label}, seed {r.seeds[0]}: training loss"))
        v = record_verdict(conjunction(
            [trend(list(by_d.values()), "increasing"),
             two_sample(by_d[64], rnn["gru"], "greater"),
             two_sample(by_d[64], rnn["lstm"], "greater"),
             more_often(att > 0, FALSE_ALARMS)],
            labels=["spikes per run grow with d", "d = 64: Transformer spikes more than GRU",
                    "d = 64: Transformer spikes more than LSTM",
                    "attention_only spikes in more runs than false alarms"],
            claim="S4", statement="spikes per run grow with d (L = 4); at d = 64 the Transformer "
                                  "spikes more than GRU and LSTM; attention_only spikes in more "
                                  "runs than the detector's false-alarm rate",
            paper="fewer spikes in small models (Fig. 13) and RNNs (Fig. 10); spikes in "
                  "attention_only (Fig. 12)",
            ours="spikes " + ", ".join(f"d={d}: {_counts(x)}" for d, x in by_d.items())
                 + f"; GRU {_counts(rnn['gru'])}, LSTM {_counts(rnn['lstm'])}; attention_only "
                   f"{_counts(att)} ({np.mean(att > 0):.0%} of runs)"))
        assert v.passed, str(v)
