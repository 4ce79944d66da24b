"""How steady a claim's outcome is: its family rerun on fresh runs drawn from its own data.

A run on another machine rounds float32 differently, and 100 epochs turn that into another
trajectory from the same seed: for the statistics, a fresh draw of the seeds. The
stability rule (claims/README.md, "Expected outcomes on any machine") judges a claim test's
outcome against its expected one with :func:`stability`: the claim's family rerun on
predictive draws, each a fresh run's per-seed numbers drawn from the posterior predictive
distribution given this run's (:func:`draw_like`), so that the outcomes spread as those of a
run on another machine would, given this one. :func:`judge` applies the rule.

``lowent power`` reruns the same families on bootstrap draws of the seeds
(:func:`outcome_shares` with :func:`bootstrap_draws`): the outcome rates of a fresh run if
the measured effects were the truth.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from lowent import exact, stats
from lowent.verdict import Verdict, conjunction

DRAWS = 200  # predictive draws per verdict (Monte Carlo error of a share of 0.05: 0.015)
DRAW_SEED = 0  # the draws' generator: the same data give the same draws, hence the same decision

AS_EXPECTED, UNSTABLE, CHANGED = "as expected", "outcome unstable", "outcome changed"


# How a part's per-seed numbers are drawn again, by the procedure that reads them: event
# counts per run (a Poisson rate), whether a run had an event (a Bernoulli rate), or values.
COUNTS, EVENTS, VALUES = "counts", "events", "values"
_KINDS = {"rate_below": COUNTS, "more_often": EVENTS}


def draw_like(x: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """A fresh run's per-seed numbers (as many as `x`) from the posterior predictive
    distribution given `x`, under a noninformative prior.

    values: normal with unknown mean and variance: sigma^2 = (n - 1) s^2 / chi^2_{n-1},
    mu ~ N(mean, sigma^2 / n), then n values ~ N(mu, sigma^2) (no spread stays no spread);
    counts: a per-run Poisson rate ~ Gamma(total + 1/2, n) (Jeffreys), then n counts;
    events: a rate ~ Beta(hits + 1/2, misses + 1/2) (Jeffreys), then n events.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    if kind == COUNTS:
        return rng.poisson(rng.gamma(x.sum() + 0.5, 1.0 / n), n).astype(np.float64)
    if kind == EVENTS:
        hits = float(np.sum(x > 0))
        return (rng.random(n) < rng.beta(hits + 0.5, n - hits + 0.5)).astype(np.float64)
    s2 = float(x.var(ddof=1)) if n > 1 else 0.0
    sigma2 = (n - 1) * s2 / rng.chisquare(n - 1) if s2 > 0 else 0.0
    mu = x.mean() + math.sqrt(sigma2 / n) * rng.standard_normal()
    return mu + math.sqrt(sigma2) * rng.standard_normal(n)


def bootstrap_draws(n_seeds: int, n: int, draws: int, seed: int = DRAW_SEED) -> np.ndarray:
    """[draws, n] seed indices drawn once with replacement from range(n_seeds) (the
    bootstrap of ``lowent power``: one draw per simulated run, in the generator's order)."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(n_seeds, size=n) for _ in range(draws)]) if draws else \
        np.zeros((0, n), dtype=np.int64)


def per_seed(result: stats.Result, n_seeds: int) -> bool:
    """Whether a part can be rerun on drawn seeds: it says how (``call``) and every array of
    its data has one number per seed. Parts over other observations (F2's configurations,
    S2's pooled event counts) cannot, and keep their measured result."""
    arrays = list((result.data or {}).values())
    return bool(result.call) and bool(arrays) and all(
        np.ndim(a) == 1 and len(a) == n_seeds for a in arrays)


def rerun(result: stats.Result, idx: np.ndarray) -> stats.Result:
    """The part's procedure (``Result.call``) on its per-seed arrays taken at seed indices
    `idx`."""
    return rerun_on(result, [np.asarray(a, dtype=np.float64)[idx] for a in result.data.values()])


def rerun_on(result: stats.Result, arrays: list) -> stats.Result:
    """The part's procedure (``Result.call``) on other per-seed arrays, in the order of its
    data."""
    call = result.call
    fn = getattr(stats, call["fn"], None) or getattr(exact, call["fn"])
    if call.get("groups"):
        return fn(arrays, **call["kw"])
    return fn(*arrays, **call["kw"])


@dataclass(frozen=True)
class Stability:
    """The outcomes of a verdict's family over draws of its seeds."""

    shares: dict  # outcome -> share of the draws (outcomes no draw reached are absent)
    draws: int  # how many draws
    fixed: tuple = field(default_factory=tuple)  # labels of parts kept at their measured result

    def share(self, outcome: str) -> float:
        return float(self.shares.get(outcome, 0.0))

    def to_dict(self) -> dict:
        return {"shares": dict(self.shares), "draws": self.draws, "fixed": list(self.fixed)}

    @classmethod
    def from_dict(cls, d: dict) -> "Stability":
        return cls(shares=dict(d["shares"]), draws=int(d["draws"]), fixed=tuple(d.get("fixed", ())))


def _shares(verdict: Verdict, n_seeds: int, draws) -> Stability:
    """The verdict's family rerun on each draw (a function part -> its arrays for that
    draw); a draw whose data a procedure cannot take gives that part no evidence (p = 1
    both ways)."""
    parts = dict(verdict.parts)
    drawn = [label for label, r in parts.items() if per_seed(r, n_seeds)]
    fixed = tuple(label for label in parts if label not in drawn)
    counts: dict[str, int] = {}
    total = 0
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy on near-constant draws
        for arrays_of in draws:
            family = dict(parts)
            for label in drawn:
                try:
                    family[label] = rerun_on(parts[label], arrays_of(parts[label]))
                except ValueError:
                    family[label] = parts[label].replace(pvalue=1.0, pvalue_opposite=(
                        None if parts[label].pvalue_opposite is None else 1.0))
            v = conjunction(family, claim=verdict.claim, statement=verdict.statement,
                                  alpha=verdict.alpha)
            counts[v.outcome] = counts.get(v.outcome, 0) + 1
            total += 1
    return Stability(shares={o: c / max(1, total) for o, c in sorted(counts.items())},
                     draws=total, fixed=fixed)


def outcome_shares(verdict: Verdict, n_seeds: int, idx: np.ndarray) -> Stability:
    """The verdict's family rerun on each row of seed indices `idx` ([draws, n]), the same
    rows for every part (the bootstrap of ``lowent power``)."""
    def rows():
        for row in idx:
            yield lambda r, row=row: [np.asarray(a, dtype=np.float64)[row]
                                      for a in r.data.values()]
    return _shares(verdict, n_seeds, rows())


def _modelled_shares(verdict: Verdict, n_seeds: int, draws: int, draw) -> Stability:
    """The verdict's family rerun on `draws` fresh runs, each per-seed array drawn by
    ``draw(array, kind)`` (kind: by what the part's procedure reads). An array that several
    parts read is drawn once per run, so they stay consistent."""
    def one_draw():
        memo: dict = {}

        def arrays_of(r: stats.Result) -> list:
            kind = _KINDS.get(r.call["fn"], VALUES)
            out = []
            for a in r.data.values():
                a = np.asarray(a, dtype=np.float64)
                key = (kind, a.tobytes())
                if key not in memo:
                    memo[key] = draw(a, kind)
                out.append(memo[key])
            return out
        return arrays_of

    return _shares(verdict, n_seeds, (one_draw() for _ in range(draws)))


def predictive_shares(verdict: Verdict, n_seeds: int, draws: int = DRAWS,
                      seed: int = DRAW_SEED) -> Stability:
    """The verdict's family rerun on `draws` fresh runs drawn from the posterior predictive
    of its per-seed arrays (:func:`draw_like`)."""
    rng = np.random.default_rng(seed)
    return _modelled_shares(verdict, n_seeds, draws, lambda a, kind: draw_like(a, kind, rng))


def _at_measured(a: np.ndarray, kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """n per-seed numbers from the parametric model of `a` at its measured values: Poisson
    at its mean (counts), Bernoulli at its share (events), normal with its mean and SD."""
    if kind == COUNTS:
        return rng.poisson(a.mean(), n).astype(np.float64)
    if kind == EVENTS:
        return (rng.random(n) < np.mean(a > 0)).astype(np.float64)
    return rng.normal(a.mean(), a.std(ddof=1), n)


def parametric_shares(verdict: Verdict, n_seeds: int, n: int, draws: int,
                      seed: int = DRAW_SEED) -> Stability:
    """The verdict's family rerun on `draws` runs of `n` seeds drawn from the parametric model
    of each per-seed array at its measured values (:func:`_at_measured`). The parametric
    power at the measured effects (observed power, like the bootstrap, but with the model's
    tails rather than the measured seeds')."""
    rng = np.random.default_rng(seed)
    return _modelled_shares(verdict, n_seeds, draws, lambda a, kind: _at_measured(a, kind, n, rng))


def stability(verdict: Verdict, n_seeds: int, draws: int = DRAWS,
              seed: int = DRAW_SEED) -> Stability:
    """The outcomes of `verdict`'s family over `draws` predictive draws of its `n_seeds`
    seeds' numbers (claims/README.md, "Expected outcomes on any machine")."""
    return predictive_shares(verdict, n_seeds, draws, seed)


def judge(outcome: str, expected: str, stab: Stability, alpha: float = stats.ALPHA) -> str:
    """The stability rule: AS_EXPECTED when `outcome` is `expected`; UNSTABLE when it is not
    but the draws reach `expected` in at least `alpha` of them (the run's seeds cannot tell
    the two apart); CHANGED when they reach it in fewer (the measurements support the
    change)."""
    if outcome == expected:
        return AS_EXPECTED
    return UNSTABLE if stab.share(expected) >= alpha else CHANGED


def describe(outcome: str, expected: str, stab: Stability) -> str:
    """One line: this run's outcome, the expected one and the draws' share of it."""
    share = f"{stab.share(expected):.0%} of {stab.draws} predictive draws"
    if outcome == expected:
        return f"{outcome}, as expected ({share})"
    return f"{outcome} in this run, expected {expected} (reached in {share})"
