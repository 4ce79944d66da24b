"""S3 (marker ``optimizers``): second-order information drives spikes and sparsity (Sec. 4.2,
Fig. 8). Detectors: lowent/events.py; tests and family: claims/README.md."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from lowent.claims import Claim
from lowent.claims.common import logged
from lowent.config import ModelSpec
from lowent.profiles import Profile
from lowent.exact import more_often
from lowent.stats import equivalence_two, two_sample
from lowent.verdict import Verdict, conjunction

NO_EVENTS = 0.05  # events per 1,000 steps below which an optimizer "shows none" ...
SPIKE_MARGIN = 2.0  # spikes per run within which AdamW "behaves like" Adam
DEAD_MARGIN = 0.02  # dead fraction within which AdamW "behaves like" Adam
OPTIMIZER_NAMES = ("adam", "sgd_momentum", "rmsprop", "adam_2nd", "adamw")

ORDER = 4.4  # in the report: Sec. 4.2, after S2 and S4

S3 = Claim(
    id="S3", marker="optimizers", runs="optimizers", trie="calibrated", figure="Sec. 4.2, Fig. 8",
    sentence="SGD+momentum shows neither loss spikes nor dead-neuron jumps; RMSprop and "
             "adam_2nd show more instability and sparsity; AdamW behaves like Adam.")
CLAIMS = (S3,)


def optimizers(profile: Profile) -> dict:
    """Section 4.2 runs: {optimizer: RunSpec} of the full Transformer at d = 64, L = 4,
    logged."""
    return {o: logged(profile, ModelSpec(d_model=64, layers=4), optimizer=o)
            for o in OPTIMIZER_NAMES}


RUN_SETS = {"optimizers": optimizers}


def no_events_share(kilosteps: float) -> float:
    """... read on runs: the share of runs with at least one event that a rate of NO_EVENTS
    gives a run of `kilosteps` thousand steps, 1 - exp(-rate x kilosteps) (0.473 for
    12,800 steps). Runs are the unit: valid whatever each run's own rate (claims/README.md,
    "Statistics, second pass")."""
    return 1.0 - float(np.exp(-NO_EVENTS * kilosteps))


def s3_family(spikes: Mapping[str, np.ndarray], jumps: Mapping[str, np.ndarray],
              dead: Mapping[str, np.ndarray], kilosteps: float) -> Verdict:
    """S3's verdict.

    Args:
        spikes, jumps: optimizer -> [E] loss spikes and dead-neuron jumps per run.
        dead: optimizer -> [E] final dead fraction.
        kilosteps: thousands of training steps per run.
    """
    spikes = {o: np.asarray(x) for o, x in spikes.items()}
    jumps = {o: np.asarray(x) for o, x in jumps.items()}
    calm = no_events_share(kilosteps)
    return conjunction(
        {"sgd_momentum: fewer runs spike than 0.05 per 1,000 steps gives": more_often(
            spikes["sgd_momentum"] > 0, calm, alternative="less"),
         "sgd_momentum: fewer runs have a dead-neuron jump than that": more_often(
            jumps["sgd_momentum"] > 0, calm, alternative="less"),
         "rmsprop spikes more than adam": two_sample(spikes["rmsprop"], spikes["adam"],
                                                     "greater"),
         "adam_2nd spikes more than adam": two_sample(spikes["adam_2nd"], spikes["adam"],
                                                      "greater"),
         "rmsprop ends sparser than adam": two_sample(dead["rmsprop"], dead["adam"], "greater"),
         "adam_2nd ends sparser than adam": two_sample(dead["adam_2nd"], dead["adam"],
                                                       "greater"),
         "adamw: spikes within 2 of adam": equivalence_two(spikes["adamw"], spikes["adam"],
                                                           SPIKE_MARGIN),
         "adamw: dead fraction within 0.02 of adam": equivalence_two(dead["adamw"], dead["adam"],
                                                                     DEAD_MARGIN)},
        statement="d = 64, L = 4: sgd_momentum has (almost) no spikes or jumps; "
                  "rmsprop and adam_2nd spike more and end sparser than adam; "
                  "adamw is within 2 spikes and 0.02 dead fraction of adam",
        paper="SGD+momentum: no spikes, no sparsity; RMSprop, Adam_2nd: more of both; "
              "AdamW like Adam (Fig. 8)",
        ours="; ".join(f"{o}: {spikes[o].mean():.1f} spikes, {jumps[o].mean():.1f} jumps, "
                       f"{dead[o].mean():.1%} dead" for o in spikes))
