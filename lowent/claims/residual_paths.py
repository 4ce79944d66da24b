"""R1 (marker ``residual_paths``): larger Transformers prefer the residual path (Sec. 4.1,
Fig. 6 left, centre left). Tests and families: claims/README.md."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from lowent.claims import Claim
from lowent.claims.common import means
from lowent.config import ModelSpec
from lowent.profiles import Profile
from lowent.exact import trend
from lowent.stats import equivalence, one_sample
from lowent.verdict import Verdict, conjunction

NEAR = 0.05  # "about / nearly p": within 5 percentage points (claims/README.md)

ORDER = 4.1  # in the report: Sec. 4.1

R1 = Claim(
    id="R1", marker="residual_paths", runs="routed", trie="calibrated",
    figure="Sec. 4.1, Fig. 6 left, centre left",
    sentence="With routing, larger Transformers put more weight near 0 on paths and more "
             "residual weight near 1.")
R1_FIGURES = Claim(
    id="R1 figures", marker="residual_paths", runs="routed", trie="calibrated",
    figure="Sec. 4.1",
    sentence="With routing, at d = 64 more than half of all weights are near 0 and nearly 30% "
             "of residual weights near 1.")
CLAIMS = (R1, R1_FIGURES)


def routed(profile: Profile) -> dict:
    """Section 4.1 runs: {d: RunSpec} of the routed Transformer, L = 4."""
    return {d: profile.run(ModelSpec(variant="routed", d_model=d, layers=4))
            for d in profile.sizes}


RUN_SETS = {"routed": routed}


def route_fractions(probes: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """([E] fraction of all path weights near 0, [E] fraction of residual weights near 1):
    the lowest bin of the all-path histogram and the highest of the residual one."""
    return probes["route_all"][:, 0], probes["route_residual"][:, -1]


def r1_family(near0: Mapping[int, np.ndarray], near1: Mapping[int, np.ndarray]) -> Verdict:
    """R1's verdict (the trends).

    Args:
        near0: d -> [E] fraction of all path weights near 0, increasing d.
        near1: d -> [E] fraction of residual weights near 1, increasing d.
    """
    return conjunction(
        {"path weights near 0 grow with d": trend(list(near0.values()), "increasing"),
         "residual weights near 1 grow with d": trend(list(near1.values()), "increasing")},
        statement="routed, L = 4: the fraction of path weights near 0 and the "
                  "fraction of residual weights near 1 both grow with d",
        paper="both grow with d (Fig. 6)",
        ours=f"near 0: {means(near0, '.3f')}; residual near 1: {means(near1, '.3f')}")


def r1_figures_family(near0: np.ndarray, near1: np.ndarray) -> Verdict:
    """R1's figures at d = 64.

    Args:
        near0: [E] fraction of all path weights near 0.
        near1: [E] fraction of residual weights near 1.
    """
    return conjunction(
        {"d = 64: > 50% of path weights near 0": one_sample(near0, 0.5, "greater"),
         "d = 64: 30% +- 5% of residual weights near 1": equivalence(near1, 0.30, NEAR)},
        statement="d = 64: > 50% of path weights near 0; about 30% of "
                  "residual weights near 1",
        paper="> 50% near 0; nearly 30% of residual weights near 1",
        ours=f"{np.mean(near0):.1%} near 0; {np.mean(near1):.1%} of residual weights near 1")
