"""The claims registry: every claim of the paper that the suite tests, declared once.

Each family module of this package (``low_entropy``, ``ffn_bias``, ...) declares

* ``CLAIMS``: its :class:`Claim` entries (id, marker, the paper's sentence and figure, the
  name of the run set it reads, its calibration), each also bound to a name the tests
  import (``L1 = Claim(id="L1", ...)``: the id is written once, there);
* ``ORDER``: where its claims come in the report (the paper's section: 3.1 for L1-L3; the
  appendix and the suite's own checks after the paper's sections);
* ``RUN_SETS``: name -> builder, ``builder(profile) -> {key: RunSpec}``; every RunSpec is
  made by ``profile.run(model, ...)`` (:meth:`lowent.profiles.Profile.run`);
* the claim's family: a pure function of per-seed arrays returning its
  :class:`lowent.verdict.Verdict`, which does not name the claim: the test's mark does (the
  plugin's ``record_verdict`` labels it).

This module collects them (every module of the package that defines ``CLAIMS`` or
``RUN_SETS``) into :data:`CLAIMS` and :data:`RUN_SETS`. The pytest plugin registers one
marker per family marker from them, tags each test marked ``@pytest.mark.claim(id)`` with
its family marker and the keyword :func:`keyword` of its id (``-m``, ``-k``), and trains the
run sets of the selected claims; the report reads ids, markers and sentences from here.
"""
from __future__ import annotations

import importlib
import math
import pkgutil
from dataclasses import dataclass
from typing import Callable

from lowent.config import SpecError
from lowent.profiles import Profile

RunSetBuilder = Callable[[Profile], dict]  # profile -> {key: RunSpec}
# Markers the default run leaves out (the plugin deselects them when no -m is given): the
# claims of the paper's appendix and the sensitivity settings retrain whole run sets, F2's
# grid of 40 runs (29 no other claim reads) would take the default run past its 45 minutes,
# and so, on slower CPUs, did S3's four optimizers beside Adam (a third of its training).
NOT_DEFAULT = ("robustness", "sensitivity", "kl_loss", "optimizers")
# Left-out markers that the PyTorch-version check runs all the same (the -m expression of
# .github/workflows/torch-versions.yml and tox.ini), so the quick baseline covers them.
VERSION_CHECK = ("optimizers",)
TRIE = ("not compared", "calibrated", "differs")  # a claim's trie verdict against faithful's


@dataclass(frozen=True, kw_only=True)
class Claim:
    """One claim of the paper, as the suite tests it (SETTING 7; claims/README.md)."""

    id: str  # e.g. "L1"; a second test of a claim's figures is "<id> figures"
    marker: str  # the family marker, e.g. "low_entropy" (``pytest -m``)
    sentence: str  # the claim, in SETTING 7's words
    figure: str  # where the paper shows it, e.g. "Sec. 3.1, Fig. 2 left"
    runs: str  # the name of the run set its test reads (a key of RUN_SETS)
    # Its verdict on the trie layout against faithful training's (claims/CALIBRATION.md):
    # "calibrated" (the same outcome), "differs", or "not compared" (the report says the trie
    # is approximate for it).
    trie: str = "not compared"

    def __post_init__(self):
        if self.trie not in TRIE:
            raise SpecError(f"claim {self.id}: trie must be one of {', '.join(TRIE)}, not "
                            f"{self.trie!r}")

    @property
    def keyword(self) -> str:
        return keyword(self.id)


def keyword(claim_id: str) -> str:
    """The ``-k`` keyword of a claim id: spaces become underscores ("R1 figures" ->
    "R1_figures")."""
    return claim_id.replace(" ", "_")


def drops(model) -> bool:
    """Whether a model applies dropout in training: attention_only has no FFN, so none."""
    return model.dropout > 0 and not (model.kind == "transformer"
                                      and model.variant == "attention_only")


def _collect() -> tuple[dict[str, Claim], dict[str, RunSetBuilder]]:
    claims: dict[str, Claim] = {}
    run_sets: dict[str, RunSetBuilder] = {}
    modules = [importlib.import_module(f"{__name__}.{info.name}")
               for info in pkgutil.iter_modules(__path__)]
    for module in sorted(modules, key=lambda m: (getattr(m, "ORDER", math.inf), m.__name__)):
        for name, builder in getattr(module, "RUN_SETS", {}).items():
            if name in run_sets:
                raise SpecError(f"run set {name!r} is registered twice (again in {module.__name__})")
            run_sets[name] = builder
        for claim in getattr(module, "CLAIMS", ()):
            if claim.id in claims:
                raise SpecError(f"claim {claim.id!r} is declared twice (again in {module.__name__})")
            claims[claim.id] = claim
    validate(claims, run_sets)
    return claims, run_sets


def validate(claims: dict[str, Claim], run_sets: dict[str, RunSetBuilder]) -> None:
    """Raise SpecError (one line) when a claim reads a run set nobody registers."""
    for claim in claims.values():
        if claim.runs not in run_sets:
            raise SpecError(f"claim {claim.id} reads run set {claim.runs!r}, which no module of "
                            f"lowent.claims registers in RUN_SETS (registered: "
                            f"{', '.join(sorted(run_sets))})")


CLAIMS, RUN_SETS = _collect()


def get_claim(claim_id: str) -> Claim:
    """The registry entry of `claim_id`; a one-line error naming the known ids otherwise."""
    if claim_id not in CLAIMS:
        raise SpecError(f"unknown claim {claim_id!r}; the registry (lowent.claims) declares "
                        f"{', '.join(CLAIMS)}")
    return CLAIMS[claim_id]


def run_specs(claim_id: str, profile: Profile) -> dict:
    """{key: RunSpec} of the run set `claim_id` reads, under `profile`."""
    return RUN_SETS[get_claim(claim_id).runs](profile)


APPROXIMATE = "approximate dropout; not calibrated against faithful training"
DIFFERS = ("approximate dropout; its verdict differs from the paper profile's faithful one "
           "(claims/CALIBRATION.md)")


AA_CHECK = ("an A/A check of the comparison, not a claim of the paper: no calibration against "
            "faithful training applies")


def engine_note(claim_id: str, profile: Profile) -> str:
    """How the runs behind `claim_id`'s verdict were trained, for the report and the terminal:
    "faithful" (per-sample dropout masks, the paper's loop in distribution), the trie with a
    recorded calibration against faithful training, the trie whose verdict was found to differ
    from faithful training's, or the trie marked approximate; runs without dropout are exact on
    any layout, and say so. E1 compares the layouts themselves; A1 checks the comparison
    on whatever runs the profile trains."""
    claim = get_claim(claim_id)
    layouts = sorted({s.train.layout for s in run_specs(claim_id, profile).values()
                      if drops(s.model)})
    if claim.marker == "engine":
        return "compares the layouts " + ", ".join(layouts)
    if claim.marker == "calibration":  # A1: the two-sample comparison on the sweep's seeds
        return (f"{', '.join(layouts) or 'exact'} runs; {AA_CHECK}")
    if not layouts:
        return "no dropout: exact on any layout"
    if not set(layouts) & {"trie", "dedup"}:
        return "faithful"
    if claim.trie == "calibrated":
        return "trie; calibrated: same verdict as faithful training (claims/CALIBRATION.md)"
    if claim.trie == "differs":
        return f"trie: {DIFFERS}"
    return f"trie: {APPROXIMATE}"


def markers() -> dict[str, list[str]]:
    """Family marker -> the ids of its claims, in registry order."""
    out: dict[str, list[str]] = {}
    for claim in CLAIMS.values():
        out.setdefault(claim.marker, []).append(claim.id)
    return out


__all__ = ["CLAIMS", "RUN_SETS", "Claim", "engine_note", "get_claim", "keyword", "markers",
           "run_specs"]
