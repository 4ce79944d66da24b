"""F2 (marker ``kl_loss``): per variant, KL is linear in the training loss; equal loss does
not mean equal KL across variants (Sec. 3.2, Fig. 4 right). Tests and family:
claims/README.md."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from lowent.claims import Claim
from lowent.claims.common import VARIANTS, logged
from lowent.config import ModelSpec, RunSpec
from lowent.profiles import Profile
from lowent.stats import lines_differ, pearson
from lowent.verdict import Verdict, conjunction

STRONG = 0.8  # "strong Pearson r": rho > 0.8 (claims/README.md)
DEPTHS = (1, 2, 4)  # L of the configuration grid (SETTING 3)

ORDER = 3.3  # in the report: Sec. 3.2, after F1

F2 = Claim(
    id="F2", marker="kl_loss", runs="variant_grid", trie="calibrated",
    figure="Sec. 3.2, Fig. 4 right",
    sentence="For each variant, KL is linear in the training loss across configurations; "
             "equal loss does not imply equal KL across variants.")
CLAIMS = (F2,)


def variant_spec(profile: Profile, variant: str, d: int, layers: int) -> RunSpec:
    """The run of one variant configuration. Where another claim trains the same model, its
    spec (logged or not) is reused so nothing is trained twice: at L = 1 attention_main and
    ffn_main are the full Transformer (one block with attention and FFN), which is also the
    matched-depth Transformer of L1-L3; full at L = 4 is S1's logged run; at d = 64, L = 4
    the variants are F1's runs."""
    if layers == 1 and variant in ("attention_main", "ffn_main"):
        variant = "full"
    model = ModelSpec(variant=variant, d_model=d, layers=layers)
    if layers == 4 and (variant == "full" or (variant == "attention_only" and d == 64)):
        return logged(profile, model)
    return profile.run(model)


def variant_grid(profile: Profile) -> dict:
    """F2 runs: {(variant, d, L): RunSpec} over the profile's sizes and L in DEPTHS; at
    L = 1 attention_main and ffn_main map to the full run (the same model)."""
    return {(v, d, L): variant_spec(profile, v, d, L)
            for v in VARIANTS for d in profile.sizes for L in DEPTHS}


RUN_SETS = {"variant_grid": variant_grid}


def by_variant(points: Mapping[tuple[str, int, int], tuple[float, float, str]]
               ) -> dict[str, np.ndarray]:
    """{variant: [2, configurations] (training loss, KL)} of :func:`f2_family`'s points."""
    return {v: np.array([xy[:2] for (u, _, _), xy in points.items() if u == v]).T
            for v in VARIANTS}


def f2_family(points: Mapping[tuple[str, int, int], tuple[float, float, str]]) -> Verdict:
    """F2's verdict.

    Args:
        points: (variant, d, L) -> (seed-mean training loss, seed-mean KL, the variant of
            the run that trained it); configurations whose run is the same model (same
            trained variant, d, L) count once, as that variant, in the test of one common
            curve.
    Returns:
        The conjunction of one Pearson test per variant (rho > STRONG over its
        configurations) and the F-test that one common quadratic does not fit all variants.
    """
    per_variant = by_variant(points)
    distinct = {}  # (trained variant, d, L) -> (loss, KL, trained variant), first seen
    for (_, d, L), xy in points.items():
        distinct.setdefault((xy[2], d, L), xy)
    family = {f"{v}: Pearson rho(loss, KL) > {STRONG} over its configurations":
              pearson(*per_variant[v], null=STRONG) for v in VARIANTS}
    lines = lines_differ(*zip(*distinct.values()))
    family["one common quadratic does not fit all variants"] = lines
    r = {v: f.effect for v, f in zip(VARIANTS, family.values())}
    return conjunction(
        family,
        statement=f"per variant, Pearson rho between training loss and KL exceeds {STRONG} "
                  f"across (d, L); the variants' curves differ",
        paper="a clear linear relation per variant; identical loss, different KL (Fig. 4 "
              "right; no figure in the text)",
        ours="r " + ", ".join(f"{k}: {x:.3f}" for k, x in r.items())
             + f"; F = {lines.statistic:.3g}, largest KL gap at equal loss "
               f"{lines.effect:.4f} nats")
