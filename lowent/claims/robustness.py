"""D1 (marker ``robustness``): L1, L2 and F1 still hold on the lower- and higher-entropy
targets (App. D). The tests are L1's, L2's and F1's own, with a ``target`` parameter
(claims/marks.py, ``cases``); their families are unchanged. Decisions:
claims/README.md, D1."""
from __future__ import annotations

from lowent.claims import Claim
from lowent.claims.ffn_bias import F1, variants
from lowent.claims.low_entropy import L1, L2, size_sweep
from lowent.profiles import Profile

ORDER = 10  # in the report: the appendix, after the paper's sections

RERUNS = (L1, L2, F1)  # the claims D1 reruns on each target, through their own tests
D1 = {t: Claim(id=f"D1 {t}", marker="robustness", runs=f"d1_{t}", figure=f"App. D.{i}",
               sentence=f"{', '.join(c.id for c in RERUNS[:-1])} and {RERUNS[-1].id} still "
                        f"hold on the {word}-entropy target ({probs}).")
      for i, (t, word, probs) in enumerate((("low", "lower", "0.9/0.1"),
                                            ("high", "higher", "0.6/0.3/0.1")), start=1)}
CLAIMS = tuple(D1.values())


def on_target(target: str):
    """The run set of D1 on `target`: the size sweep ({(kind, d): RunSpec}) and the four
    variants ({variant: RunSpec}) of L1, L2 and F1, trained on that target."""
    def runs(profile: Profile) -> dict:
        return {**size_sweep(profile, target), **variants(profile, target)}

    return runs


RUN_SETS = {f"d1_{t}": on_target(t) for t in D1}
