"""``python -m lowent power results.json``: how often each claim's test would give each
outcome if its seeds were drawn again, by simulating the exact procedure.

For every claim test with a verdict, each simulation draws n seeds with replacement from the
run's seeds (one draw of seed indices shared by every part of the claim, so parts that read
the same seeds stay paired), reruns every part's procedure on the resampled per-seed arrays
(``Result.call``: the same function and arguments as the test) and joins them with
:func:`lowent.verdict.conjunction` into an outcome. This is a bootstrap of the measured seed
spread: the probabilities are those of a fresh run of n seeds *if the effects are the ones
measured*: **observed power**, not the power of a design. It takes the measured effects as
the truth, so it reads high (a median of 0.72 where the true power is 0.58, Cohen's d = 1
with 5 seeds)
and it varies between experiments of equal true power (SD 0.21-0.33 in simulation;
claims/README.md, "Statistics, second pass"). Power at an effect not taken from the same data
is ``python -m lowent replication`` (the smallest effect of interest). For a claim that does
not hold it says how often a cold run would flip its outcome. Parts whose observations are not per seed
(F2's configurations, S2's pooled event counts) keep their measured result in every
simulation; the table says which.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


from lowent.seedtext import read_seeds_entry
from lowent.records import verdict_from_record
from lowent.verdict import OUTCOMES
from lowent.stability import bootstrap_draws, outcome_shares, parametric_shares

SIMULATIONS = 500
POWER_SEED = 0


@dataclass
class PowerRow:
    nodeid: str
    claim: str
    observed: str  # the run's outcome
    seeds: int  # seeds per simulated run
    sims: int
    rates: dict[str, float]  # outcome -> share of simulations
    fixed: list[str]  # parts kept at their measured result (not per seed)

    @property
    def flip(self) -> float:
        """Share of simulated runs whose outcome differs from the observed one."""
        return 1.0 - self.rates.get(self.observed, 0.0)


METHODS = ("bootstrap", "parametric")


def simulate(verdict: dict, E: int, n: int, sims: int = SIMULATIONS,
             seed: int = POWER_SEED, method: str = "bootstrap") -> tuple[dict[str, float], list[str]]:
    """Outcome rates of `sims` runs of n seeds: drawn from the E measured ones (bootstrap),
    or from normal (Poisson, Bernoulli) models at their measured values (parametric).

    Returns (outcome -> share, labels of the parts kept fixed)."""
    v = verdict_from_record(verdict)
    if method == "parametric":
        stab = parametric_shares(v, E, n, sims, seed)
    else:
        stab = outcome_shares(v, E, bootstrap_draws(E, n, sims, seed))
    return stab.shares, list(stab.fixed)


def seeds_of(results: dict) -> int:
    """The seeds per configuration of a report (its environment's "seeds" entry)."""
    return read_seeds_entry(results.get("environment", {}).get("seeds"))[0]


def power_table(results: dict, seeds: tuple[int, ...] = (5, 10),
                sims: int = SIMULATIONS, method: str = "bootstrap") -> list[PowerRow]:
    E = seeds_of(results)
    rows = []
    for rec in results.get("claims", []):
        v = rec.get("verdict")
        if not v or not v.get("parts"):
            continue
        for n in seeds:
            rates, fixed = simulate(v, E, n, sims, method=method)
            rows.append(PowerRow(nodeid=rec["nodeid"], claim=rec["claim"],
                                 observed=v.get("outcome", rec["outcome"]), seeds=n, sims=sims,
                                 rates=rates, fixed=fixed))
    return rows


def format_rows(rows: list[PowerRow]) -> str:
    out = ["| claim | outcome here | seeds | holds | contradicted | not equivalent | "
           "inconclusive | differs from here | kept fixed |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [f"{r.rates.get(o, 0.0):.2f}" for o in OUTCOMES]
        out.append(f"| {r.claim} | {r.observed} | {r.seeds} | " + " | ".join(cells)
                   + f" | {r.flip:.2f} | {'; '.join(r.fixed) or '-'} |")
    return "\n".join(out)


def main(args) -> int:
    from lowent.compare import load

    results = load(args.results)
    method = getattr(args, "method", "bootstrap")
    rows = power_table(results, tuple(args.seeds), args.sims, method)
    print(f"{args.results}: {seeds_of(results)} seeds measured; {args.sims} {method} runs "
          f"per row (seed {POWER_SEED})")
    print("observed power: the measured effects taken as the truth; it reads high and "
          "varies between experiments of equal true power by an SD of 0.2-0.3 "
          "(python -m lowent replication: power at a stated effect)")
    print(format_rows(rows))
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in rows], indent=1))
    return 0
