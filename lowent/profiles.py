"""Named profiles: how much training the claims get.

``paper`` is the paper's full setting (10 seeds, 100 epochs, dropout 0.1, last-15-epoch
means), trained faithfully: every sample draws its own dropout masks, as in the paper's loop.
``quick`` is the default and what CI runs: the first five of paper's seeds on the trie
layout (one dropout mask per context node). It may only differ from ``paper`` in ways
calibrated to give the same verdicts (claims/CALIBRATION.md); a claim not calibrated
against faithful training says so in the report.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from lowent.config import ModelSpec, RunSpec, SpecError, TargetSpec, TrainSpec

SIZES = (8, 16, 32, 64)  # d of the size sweeps (SETTING 3)


@dataclass(frozen=True, kw_only=True)
class Profile:
    """How every claim's runs are trained and summarised."""

    name: str
    seeds: tuple[int, ...]  # seeds per configuration
    epochs: int  # training epochs per run
    window: int  # epochs averaged at the end of a run (paper: the last 15)
    log_every: int = 8  # steps between dead-neuron probes of the dynamics runs (SETTING 6: k)
    sizes: tuple[int, ...] = SIZES  # d of size sweeps
    # training layout of the claims' runs (lowent.contexts); on the trie, each claim's entry
    # says whether its verdict was shown equal to faithful training's (``Claim.trie``)
    layout: str = "faithful"

    def run(self, model: ModelSpec, target: str = "base", seeds: tuple[int, ...] | None = None,
            **train) -> RunSpec:
        """The RunSpec of `model` under this profile (`train` may override its epochs)."""
        return RunSpec(target=TargetSpec.named(target), model=model,
                       train=TrainSpec(**{"epochs": self.epochs, "layout": self.layout, **train}),
                       seeds=self.seeds if seeds is None else seeds)

    def replace(self, **kw) -> "Profile":
        return replace(self, **kw)


PROFILES: dict[str, Profile] = {
    "paper": Profile(name="paper", seeds=tuple(range(10)), epochs=100, window=15, log_every=8,
                     layout="faithful"),
    # Half the seeds, a dead-neuron probe every 32 steps instead of 8, and the trie layout,
    # so that every claim trains within CI time on 2 CPU cores; calibrated against paper in
    # claims/CALIBRATION.md.
    "quick": Profile(name="quick", seeds=tuple(range(5)), epochs=100, window=15, log_every=32,
                     layout="trie"),
}
DEFAULT_PROFILE = "quick"


def get_profile(name: str) -> Profile:
    """The profile called `name`; a clear error for any other name."""
    if name not in PROFILES:
        raise SpecError(f"unknown profile {name!r}; choose from {', '.join(PROFILES)}")
    return PROFILES[name]
