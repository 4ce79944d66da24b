"""Sensitivity (marker ``sensitivity``): each verdict under the readings of the paper that
its text leaves open. A setting changes one choice of ours and leaves every other one; the
claims' tests, families, seeds and profile are unchanged (claims/README.md, "Sensitivity").

Each :class:`Setting` is one claim of this registry, ``X <name>``, whose run set is the
claims' own run set with the setting's change applied to every model; a claim test checks it
through a parameter of its own (``claims/marks.py``, ``cases``), and its verdict is labelled
``X <name>: <claim>`` (e.g. ``X dropout 0: L1``). The report gathers them into one table:
claim x setting -> outcome, our reading first.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from lowent.claims import Claim
from lowent.claims.low_entropy import size_sweep
from lowent.config import ModelSpec
from lowent.profiles import Profile


@dataclass(frozen=True)
class Setting:
    name: str  # the parameter id of the tests, e.g. "dropout0"
    label: str  # the claim id's suffix and the table's column, e.g. "dropout 0"
    ours: str  # our reading, which the setting replaces
    claims: tuple[str, ...]  # the claim ids it is built for (claims/README.md lists the rest)
    change: Callable[[ModelSpec], ModelSpec]

    @property
    def claim_id(self) -> str:
        return f"X {self.label}"


def _transformer(change):
    return lambda m: change(m) if m.kind == "transformer" else m


def _rnn(change):
    return lambda m: change(m) if m.kind != "transformer" else m


SIZE_SWEEP = ("L1", "L2", "L3")
SETTINGS = {s.name: s for s in (
    Setting("dropout0", "dropout 0", "dropout 0.1 in the FFNs and on the RNNs' output",
            SIZE_SWEEP, lambda m: replace(m, dropout=0.0)),
    Setting("rnn_nodrop", "RNNs without dropout", "dropout 0.1 on the RNNs' output (torch.nn's "
            "one-layer GRU/LSTM apply none)", ("L2", "L3"), _rnn(lambda m: replace(m, dropout=0.0))),
    Setting("preln", "pre-LN", "post-LN blocks", SIZE_SWEEP,
            _transformer(lambda m: replace(m, norm="pre"))),
    Setting("matched_l4", "matched L = 4", "the matched Transformer at L = 1 (closest in "
            "parameters to the GRU and to the LSTM of hidden size d)", ("L2", "L3"),
            _transformer(lambda m: replace(m, layers=4) if m.layers == 1 else m)),
)}

CLAIMS = tuple(
    Claim(id=s.claim_id, marker="sensitivity", runs=f"x_{s.name}", figure="claims/README.md",
          sentence=f"{', '.join(s.claims)} under {s.label} instead of {s.ours}.")
    for s in SETTINGS.values())


def under(setting: Setting, builder: Callable[[Profile], dict]) -> Callable[[Profile], dict]:
    """The run set `builder` builds, every model changed by `setting`."""
    def runs(profile: Profile) -> dict:
        return {key: spec.replace(model=setting.change(spec.model))
                for key, spec in builder(profile).items()}

    return runs


RUN_SETS = {f"x_{s.name}": under(s, size_sweep) for s in SETTINGS.values()}


def settings_of(claim_id: str) -> list[Setting]:
    """The settings built for `claim_id`, in SETTINGS' order."""
    return [s for s in SETTINGS.values() if claim_id in s.claims]
