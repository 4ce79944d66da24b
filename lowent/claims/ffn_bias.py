"""F1 (marker ``ffn_bias``): the FFN module drives the low-entropy bias (Sec. 3.2, Fig. 4).
Tests and family: claims/README.md."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from lowent.claims import Claim
from lowent.claims.common import VARIANTS, logged
from lowent.config import ModelSpec
from lowent.profiles import Profile
from lowent.stats import equivalence, one_sample
from lowent.verdict import Verdict, conjunction

MARGIN = 0.05  # nats, the margin of "near H(p_tgt)" (claims/README.md)

ORDER = 3.2  # in the report: Sec. 3.2

F1 = Claim(
    id="F1", marker="ffn_bias", runs="variants", trie="calibrated", figure="Sec. 3.2, Fig. 4",
    sentence="The FFN drives the bias: attention_only H > H(p_tgt); attention_main near "
             "H(p_tgt); ffn_main and full below it.")
CLAIMS = (F1,)


def variants(profile: Profile, target: str = "base") -> dict:
    """Section 3.2 runs: {variant: RunSpec} at d = 64, L = 4. On the base target, full and
    attention_only are the logged runs the spike claims also read; on another (D1) no run
    is logged."""
    specs = {}
    for v in VARIANTS:
        model = ModelSpec(variant=v, d_model=64, layers=4)
        if target == "base" and v in ("full", "attention_only"):
            specs[v] = logged(profile, model)
        else:
            specs[v] = profile.run(model, target)
    return specs


RUN_SETS = {"variants": variants}


def f1_family(H: Mapping[str, np.ndarray], h_tgt: float) -> Verdict:
    """F1's verdict.

    Args:
        H: variant -> [E] per-seed final entropy, for each of VARIANTS.
        h_tgt: H(p_tgt), nats.
    """
    return conjunction(
        {"attention_only: H > H(p_tgt)": one_sample(H["attention_only"], h_tgt, "greater"),
         "attention_main: H within 0.05 of H(p_tgt)": equivalence(H["attention_main"], h_tgt,
                                                                  MARGIN),
         "ffn_main: H < H(p_tgt)": one_sample(H["ffn_main"], h_tgt, "less"),
         "full: H < H(p_tgt)": one_sample(H["full"], h_tgt, "less")},
        statement="d = 64, L = 4: attention_only H > H(p_tgt); attention_main "
                  "within 0.05 nats; ffn_main and full H < H(p_tgt)",
        paper=f"attention_only above H(p_tgt) = {h_tgt:.4f}, attention_main around "
              "it, ffn_main and full below (Fig. 4)",
        ours="H (nats) " + ", ".join(f"{k}: {np.mean(h):.4f}" for k, h in H.items()))
