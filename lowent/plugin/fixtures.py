"""The fixtures a claim test reads: its profile, the runs of its claim (trained through the
cache before the tests), and the recorders of its verdict and figures. Tests never train
directly; ``train_run`` trains a one-off spec through the same cache."""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import pytest

from lowent.cache import Cache, machines_of
from lowent.claims import run_specs
from lowent.config import RunSpec
from lowent.engine import Run
from lowent.plugin.markers import claim_of, expected_outcome
from lowent.plugin.scheduling import claim_specs, train_with_lines
from lowent.plugin.session import ClaimsSession, session_of
from lowent.profiles import Profile
from lowent.records import reason, verdict_record
from lowent.stability import CHANGED, UNSTABLE, describe, judge, stability


@pytest.fixture(scope="session")
def claims_session(pytestconfig) -> ClaimsSession:
    """The session's settings, read once (lowent.plugin.session)."""
    return session_of(pytestconfig)


@pytest.fixture(scope="session")
def profile(claims_session) -> Profile:
    """The claims' training profile (with the seeds setting, if given)."""
    return claims_session.profile


@pytest.fixture(scope="session")
def run_cache(claims_session) -> Cache:
    """The run cache (``--lowent-cache``, ``$LOWENT_CACHE``, else .lowent-cache/ in the
    rootdir)."""
    return claims_session.cache


@pytest.fixture(scope="session")
def run_device(claims_session) -> str:
    """The device the claims' runs train on (``--lowent-device``)."""
    return claims_session.device


@pytest.fixture(scope="session")
def train_run(run_cache: Cache, run_device: str) -> Callable[[RunSpec], Run]:
    """A function RunSpec -> Run that trains through the cache on the session's device."""
    return lambda spec: run_cache.get(spec)


@pytest.fixture
def runs(request, profile, claim_runs) -> dict:
    """{key: Run}: the run set of the test's claim (its registry entry names it)."""
    claim = claim_of(request.node)
    if claim is None:
        pytest.fail(f"{request.node.nodeid} asks for `runs` but names no claim: mark it "
                    "@pytest.mark.claim(id)", pytrace=False)
    runs = {k: claim_runs[spec] for k, spec in run_specs(claim.id, profile).items()}
    machines, stacks = [], []
    for run in runs.values():
        machines += [m for m in machines_of(run) if m not in machines]
        config = run.spec.replace(seeds=(0,)).key()  # the run's configuration, seeds aside
        stacks += [[config, list(st)] for st in
                   run.meta.get("stacks") or [run.meta.get("stack", list(run.seeds))]]
    request.node.user_properties.append(("lowent_machines", machines))
    request.node.user_properties.append(("lowent_stacks", stacks))
    return runs


@pytest.fixture
def record_figure(record_property):
    """Attach figure data (a dict, see lowent.report) to the test's report; returns it."""
    def record(figure: dict) -> dict:
        record_property("lowent_figure", figure)
        return figure

    return record


class NoVerdict(Exception):
    """A claim's family could not decide: a part's p-value is not a number (NaN data or a
    degenerate sample). The test errors; it is never read as a finding."""


class DesignError(Exception):
    """A claim's test cannot reach alpha with the observations its profile gives (its
    smallest reachable p-value is at least alpha): whatever the data, it could not hold."""


class OutcomeChanged(Exception):
    """A claim came out with another outcome than its expected one, and the measurements
    support the change: the predictive draws of its seeds reach the expected outcome in
    fewer than alpha of them (the stability rule, claims/README.md). Fails the run."""


@pytest.fixture
def record_verdict(request, record_property, profile):
    """Attach a Verdict to the test's report (read by the claims report) and return it.

    Raises NoVerdict for a verdict resting on a non-finite p-value and DesignError when the
    claim's smallest reachable p is not below alpha. Then applies the stability rule
    (lowent.stability; claims/README.md, "Expected outcomes on any machine") to the
    outcome against the test's expected one: as expected, it returns the verdict (the test
    asserts it, a strict xfail when it is not holds); another outcome that the draws reach
    the expected one from in at least alpha of them ends the test as an xfail, "outcome
    unstable"; any other raises OutcomeChanged."""
    def record(verdict):
        bad = [label for label, r in verdict.parts.items() if not math.isfinite(r.pvalue)]
        if bad:
            raise NoVerdict(f"{verdict.claim}: no verdict, the p-value of {'; '.join(bad)} is "
                            "not a number (NaN or degenerate data)")
        if verdict.min_pvalue >= verdict.alpha:
            raise DesignError(f"{verdict.claim}: cannot hold with these observations: its "
                              f"smallest reachable p is {verdict.min_pvalue:.3g} >= alpha "
                              f"{verdict.alpha:g}")
        claim = claim_of(request.node)
        if claim is not None:  # the family names no claim: the test's mark does
            base = request.node.get_closest_marker("claim").kwargs.get("base")
            verdict = dataclasses.replace(verdict, claim=f"{claim.id}: {base}" if base
                                          else claim.id)
        expected = expected_outcome(request.node)
        stab = stability(verdict, len(profile.seeds))
        status = judge(verdict.outcome, expected, stab, verdict.alpha)
        record_property("lowent_verdict", verdict_record(verdict) | {
            "expected": expected, "stability": stab.to_dict(), "status": status})
        line = describe(verdict.outcome, expected, stab)
        if status == CHANGED:
            raise OutcomeChanged(f"{verdict.claim}: {line}: the measurements support the "
                                 f"change ({reason(verdict)})")
        if status == UNSTABLE:
            pytest.xfail(f"{UNSTABLE}: {line}")
        return verdict

    return record


@pytest.fixture(scope="session")
def train_runs(pytestconfig) -> Callable[[list[RunSpec]], list[Run]]:
    """Train what the given runs still need on the session's executor, device and training
    slots, with progress lines (``lowent.plugin.scheduling.train_with_lines``), and return
    them."""
    return lambda specs: train_with_lines(pytestconfig, specs)


@pytest.fixture(scope="session")
def claim_runs(request, profile, train_runs) -> dict[RunSpec, Run]:
    """All runs of the selected claims, trained cooperatively across workers."""
    specs = claim_specs(request.session.items, profile)
    return dict(zip(specs, train_runs(specs)))
