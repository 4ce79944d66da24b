"""S2, S4 (marker ``loss_spikes``): dead neurons grow in jumps that coincide with loss
spikes; where spikes occur (Sec. 4.2, App. E). Detectors: lowent/events.py; tests and
families: claims/README.md."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from lowent import events
from lowent.claims import Claim
from lowent.claims.common import depth4_specs, logged
from lowent.config import ModelSpec
from lowent.profiles import Profile
from lowent.exact import jitter_coincidence, more_often, trend
from lowent.stats import one_sample, two_sample
from lowent.verdict import Verdict, conjunction

FALSE_ALARMS = 0.05  # spike detector's false-alarm rate per run (bound tested in tests/test_events.py)

ORDER = 4.3  # in the report: Sec. 4.2, after S1

S2 = Claim(
    id="S2", marker="loss_spikes", runs="spikes", trie="calibrated", figure="Sec. 4.2, Fig. 7",
    sentence="Sparsity grows in jumps: the dead-neuron count rises in steps, and the steps "
             "coincide with loss spikes (d=64, Adam).")
S4 = Claim(
    id="S4", marker="loss_spikes", runs="spikes", trie="calibrated",
    figure="Sec. 4.2, Fig. 10, 12, 13",
    sentence="Spikes are rarer in smaller models, rarer in RNNs than Transformers, and also "
             "occur in attention_only models.")
CLAIMS = (S2, S4)


def spikes(profile: Profile) -> dict:
    """Runs of the spike claims, logged: {(kind, d): RunSpec} for the L = 4 Transformer at
    every d, attention_only at d = 64 (L = 4), and GRU and LSTM at d = 64."""
    specs = {("transformer", d): spec for d, spec in depth4_specs(profile).items()}
    specs["attention_only", 64] = logged(profile, ModelSpec(variant="attention_only",
                                                            d_model=64, layers=4))
    for kind in ("gru", "lstm"):
        specs[kind, 64] = logged(profile, ModelSpec(kind=kind, d_model=64, layers=1))
    return specs


RUN_SETS = {"spikes": spikes}


def s2_family(share: np.ndarray, jumps: Sequence[np.ndarray],
              spike_steps: Sequence[np.ndarray], probe_steps: np.ndarray) -> Verdict:
    """S2's verdict.

    Args:
        share: [E] per seed, the share of the dead count's growth made in detected jumps.
        jumps, spike_steps: per seed, the steps of the dead-neuron jumps and loss spikes.
        probe_steps: the steps at which a jump can be seen (the dead-neuron probes after
            the first).
    """
    return conjunction(
        {"jumps make > 50% of the dead count's growth": one_sample(share, 0.5, "greater"),
         "jumps fall near their run's loss spikes more than jittered jumps": jitter_coincidence(
             jumps, spike_steps, probe_steps, events.COINCIDE_BEFORE, events.COINCIDE_AFTER)},
        statement="d = 64, L = 4, Adam: jumps make more than half of the dead "
                  "count's growth, and they fall near their run's loss spikes "
                  "more often than jumps moved at random within 512-step bins",
        paper="the dead-neuron proportion rises in jumps at the loss spikes (Fig. 7)",
        ours=f"jumps per run {np.mean([j.size for j in jumps]):.2f}, spikes per run "
             f"{np.mean([s.size for s in spike_steps]):.2f}, share of the growth in jumps "
             f"{np.mean(share):.2f}")


def _counts(x) -> str:
    return f"{np.mean(x):.2f} per run"


def s4_family(by_d: Mapping[int, np.ndarray], rnn: Mapping[str, np.ndarray],
              attention_only: np.ndarray) -> Verdict:
    """S4's verdict.

    Args:
        by_d: d -> [E] spikes per run of the L = 4 Transformer, increasing d (64 among them).
        rnn: "gru", "lstm" -> [E] spikes per run at d = 64.
        attention_only: [E] spikes per run of attention_only at d = 64, L = 4.
    """
    return conjunction(
        {"spikes per run grow with d": trend(list(by_d.values()), "increasing"),
         "d = 64: Transformer spikes more than GRU": two_sample(by_d[64], rnn["gru"], "greater"),
         "d = 64: Transformer spikes more than LSTM": two_sample(by_d[64], rnn["lstm"],
                                                                 "greater"),
         "attention_only spikes in more runs than false alarms": more_often(attention_only > 0,
                                                                           FALSE_ALARMS)},
        statement="spikes per run grow with d (L = 4); at d = 64 the Transformer "
                  "spikes more than GRU and LSTM; attention_only spikes in more "
                  "runs than the detector's false-alarm rate",
        paper="fewer spikes in small models (Fig. 13) and RNNs (Fig. 10); spikes in "
              "attention_only (Fig. 12)",
        ours="spikes " + ", ".join(f"d={d}: {_counts(x)}" for d, x in by_d.items())
             + f"; GRU {_counts(rnn['gru'])}, LSTM {_counts(rnn['lstm'])}; attention_only "
               f"{_counts(attention_only)} ({np.mean(attention_only > 0):.0%} of runs)")
