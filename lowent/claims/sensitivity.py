"""Sensitivity (marker ``sensitivity``): each verdict under the readings of the paper that
its text leaves open. A setting changes one choice of ours and leaves every other one; the
claims' tests, families, seeds and profile are unchanged (claims/README.md, "Sensitivity").

Every (setting, claim) pair is one claim of the registry, ``X <setting>: <claim>`` (e.g.
``X dropout 0: L1``), whose run set is that claim's own with the setting's change applied to
every model; the claim's test checks it through a parameter named after the setting
(``claims/marks.py``, ``cases``). The report gathers them into one table: claim x setting ->
outcome, our reading first.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from lowent.claims import Claim, drops
from lowent.claims.common import depth4_specs
from lowent.claims.ffn_bias import F1, variants
from lowent.claims.ffn_sparsity import S1
from lowent.claims.loss_spikes import S2
from lowent.claims.low_entropy import L1, L2, L3, size_sweep
from lowent.claims.residual_paths import R1, routed
from lowent.config import ModelSpec
from lowent.profiles import Profile


@dataclass(frozen=True)
class Setting:
    name: str  # the parameter id of the tests, e.g. "dropout0"
    label: str  # the table's column and its claims' ids' middle, e.g. "dropout 0"
    ours: str  # our reading, which the setting replaces
    claims: tuple[str, ...]  # the claims it reruns (claims/README.md, "Sensitivity")
    change: Callable[[ModelSpec], ModelSpec]

    @property
    def prefix(self) -> str:  # of its claims' ids
        return f"X {self.label}"


def _transformer(change):
    return lambda m: change(m) if m.kind == "transformer" else m


def _rnn(change):
    return lambda m: change(m) if m.kind != "transformer" else m


def _dropout(change):  # models that apply dropout: every one but attention_only (no FFN)
    return lambda m: change(m) if drops(m) else m


def _s2_runs(profile: Profile) -> dict:
    """S2 reads the logged full Transformer at d = 64 alone (the spike set's other runs are
    S4's)."""
    return {("transformer", 64): depth4_specs(profile)[64]}


# The run set each claim's test reads (its own builder, or the part of it the test reads).
BUILDERS: dict[str, Callable[[Profile], dict]] = {
    L1.id: size_sweep, L2.id: size_sweep, L3.id: size_sweep, F1.id: variants, R1.id: routed,
    S1.id: depth4_specs, S2.id: _s2_runs}

def _ids(*claims: Claim) -> tuple[str, ...]:
    return tuple(c.id for c in claims)


READINGS = {s.name: s for s in (
    Setting("dropout0", "dropout 0", "dropout 0.1 in the FFNs and on the RNNs' output",
            _ids(L1, L2, L3, F1, S1, S2), _dropout(lambda m: replace(m, dropout=0.0))),
    Setting("rnn_nodrop", "RNNs without dropout", "dropout 0.1 on the RNNs' output (torch.nn's "
            "one-layer GRU/LSTM apply none)", _ids(L2, L3),
            _rnn(lambda m: replace(m, dropout=0.0))),
    Setting("preln", "pre-LN", "post-LN blocks", _ids(L1, L2, L3, F1, R1, S1),
            _transformer(lambda m: replace(m, norm="pre"))),
    Setting("matched_l4", "matched L = 4", "the matched Transformer at L = 1 (closest in "
            "parameters to the GRU and to the LSTM of hidden size d)", _ids(L2, L3),
            _transformer(lambda m: replace(m, layers=4) if m.layers == 1 else m)),
)}


def claim_id(setting: Setting, claim: str) -> str:
    """The registry id of `claim` under `setting`, e.g. "X dropout 0: L1"."""
    return f"{setting.prefix}: {claim}"


ORDER = 11  # in the report: after the paper's claims

CLAIMS = tuple(
    Claim(id=claim_id(s, c), marker="sensitivity", runs=f"x_{s.name}_{c}",
          figure="claims/README.md", sentence=f"{c} under {s.label} instead of {s.ours}.")
    for s in READINGS.values() for c in s.claims)


def changed_runs(setting: Setting, builder: Callable[[Profile], dict]) -> Callable[[Profile], dict]:
    """The run set `builder` builds, every model changed by `setting`."""
    def runs(profile: Profile) -> dict:
        return {key: spec.replace(model=setting.change(spec.model))
                for key, spec in builder(profile).items()}

    return runs


RUN_SETS = {f"x_{s.name}_{c}": changed_runs(s, BUILDERS[c])
            for s in READINGS.values() for c in s.claims}


def settings_of(claim: str) -> list[Setting]:
    """The settings built for `claim`, in READINGS' order."""
    return [s for s in READINGS.values() if claim in s.claims]
