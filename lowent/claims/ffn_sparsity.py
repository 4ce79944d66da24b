"""S1 (marker ``ffn_sparsity``): larger Transformers have fewer active FFN neurons (Sec. 4.2,
Fig. 6 centre right, right). Tests and families: claims/README.md."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from lowent.claims import Claim
from lowent.claims.common import depth4_specs, means
from lowent.probes import COUNT_BINS
from lowent.exact import trend
from lowent.stats import equivalence, one_sample
from lowent.verdict import Verdict, conjunction

NEAR = 0.05  # "about / nearly p": within 5 percentage points (claims/README.md)
COUNT_EDGES = np.linspace(0, 15625, COUNT_BINS + 1)  # the activation-count bins (positions)

ORDER = 4.2  # in the report: Sec. 4.2

S1 = Claim(
    id="S1", marker="ffn_sparsity", runs="depth4", trie="calibrated",
    figure="Sec. 4.2, Fig. 6 centre right, right",
    sentence="Larger Transformers have fewer active neurons.")
S1_FIGURES = Claim(
    id="S1 figures", marker="ffn_sparsity", runs="depth4", trie="calibrated", figure="Sec. 4.2",
    sentence="At d = 64 about 15% of FFN neurons are active per input (more than 40% for small "
             "d), over 25% are in the lowest count bin, and nearly 10% are dead.")
CLAIMS = (S1, S1_FIGURES)

RUN_SETS = {"depth4": depth4_specs}


def sparsity(probes: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(activity [E], lowest-count-bin fraction [E], dead fraction [E]) of one run."""
    return probes["activity"], probes["count_hist"][:, 0], probes["dead"]


def s1_family(activity: Mapping[int, np.ndarray], lowest: Mapping[int, np.ndarray],
              dead: Mapping[int, np.ndarray]) -> Verdict:
    """S1's verdict (the trends).

    Args:
        activity, lowest, dead: d -> [E] per-input activity, fraction of neurons in the
            lowest count bin, dead fraction; increasing d.
    """
    return conjunction(
        {"per-input activity falls with d": trend(list(activity.values()), "decreasing"),
         "lowest count bin grows with d": trend(list(lowest.values()), "increasing"),
         "dead fraction grows with d": trend(list(dead.values()), "increasing")},
        statement="full, L = 4: per-input activity falls with d; the lowest "
                  "count bin and the dead fraction grow with d",
        paper="activity falls, lowest bin and dead neurons grow with d (Fig. 6)",
        ours=f"activity {means(activity, '.3f')}; lowest bin {means(lowest, '.3f')}; "
             f"dead {means(dead, '.3f')}")


def s1_figures_family(activity: Mapping[int, np.ndarray], lowest: Mapping[int, np.ndarray],
                      dead: Mapping[int, np.ndarray]) -> Verdict:
    """S1's figures at d = 64 and the smallest d (arguments as :func:`s1_family`)."""
    small = min(activity)
    return conjunction(
        {"d = 64: 15% +- 5% active per input": equivalence(activity[64], 0.15, NEAR),
         f"d = {small}: > 40% active per input": one_sample(activity[small], 0.40, "greater"),
         "d = 64: > 25% in the lowest count bin": one_sample(lowest[64], 0.25, "greater"),
         "d = 64: 10% +- 5% dead": equivalence(dead[64], 0.10, NEAR)},
        statement=f"d = 64: about 15% active per input, > 25% in the "
                  f"lowest count bin, about 10% dead; d = {small}: > 40% "
                  f"active per input",
        paper="d = 64: about 15% active, > 25% in the lowest bin, nearly 10% dead; "
              "smallest d: > 40% active",
        ours=f"d = 64: {np.mean(activity[64]):.1%} active, {np.mean(lowest[64]):.1%} in the "
             f"lowest bin, {np.mean(dead[64]):.1%} dead; d = {small}: "
             f"{np.mean(activity[small]):.1%} active")
