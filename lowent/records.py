"""Verdicts and results in words and as records: the report layer's view of lowent.stats and
lowent.verdict.

A record is plain JSON (xdist ships it between processes; results.json stores it; ``lowent
compare`` and ``lowent power`` read it back). Its keys are the results.json format every
report since the first has used: a result's procedure is ``test``, its p-value ``p_value``,
its opposite's ``p_opposite``, its smallest reachable p ``min_p``, and it says at what
``alpha`` it was judged and whether it ``passed``.
"""
from __future__ import annotations

import json

import numpy as np

from lowent.stats import Result
from lowent.verdict import AGAINST, NOT_EQUIVALENT, NOT_SHOWN, Verdict


def _plain(obj):
    if isinstance(obj, (np.generic, np.ndarray)):
        return obj.tolist()
    raise TypeError(f"cannot store {type(obj).__name__} in a verdict")


def result_record(r: Result, alpha: float) -> dict:
    """A result judged at `alpha`, as a record (plain JSON types only)."""
    d = {"test": r.procedure, "statistic": r.statistic, "p_value": r.pvalue, "alpha": alpha,
         "passed": bool(r.pvalue < alpha), "n": r.n, "effect": r.effect,
         "effect_name": r.effect_name, "ci": r.ci, "data": r.data, "kind": r.kind,
         "p_opposite": r.pvalue_opposite, "min_p": r.min_pvalue, "margin": r.margin,
         "call": r.call}
    return json.loads(json.dumps(d, default=_plain))


def result_from_record(d: dict) -> Result:
    """A Result back from :func:`result_record` (its data arrays as lists)."""
    return Result(procedure=d["test"], statistic=d["statistic"], pvalue=d["p_value"], n=d["n"],
                  effect=d["effect"], effect_name=d["effect_name"], ci=tuple(d["ci"]),
                  data=dict(d.get("data") or {}), kind=d.get("kind", "directional"),
                  pvalue_opposite=d.get("p_opposite"), min_pvalue=d.get("min_p", 0.0),
                  margin=d.get("margin"), call=d.get("call"))


def verdict_record(v: Verdict) -> dict:
    """A verdict as a record: the claim, the weakest part's statistics (the report's verdict
    table), the outcome and its reason, and the parts, each with its label as
    ``statement``."""
    w = v.weakest
    top = result_record(w, v.alpha) | {
        "test": f"all of {len(v.parts)} tests, each at alpha; weakest: {w.procedure}",
        "passed": v.passed, "data": {}, "min_p": v.min_pvalue}
    outcomes = v.part_outcomes()
    return top | {"claim": v.claim, "statement": v.statement, "paper": v.paper,
                  "ours": v.ours, "outcome": v.outcome, "reason": reason(v),
                  "parts": [{"statement": label, **result_record(r, v.alpha),
                             "outcome": outcomes[label]} for label, r in v.parts.items()]}


def verdict_from_record(d: dict) -> Verdict:
    """A Verdict back from :func:`verdict_record` (a results.json's verdict)."""
    parts = {p["statement"]: result_from_record(p) for p in d["parts"]}
    alpha = max((p.get("alpha", 0.05) for p in d["parts"]), default=0.05)
    return Verdict(claim=d.get("claim", ""), statement=d.get("statement", ""), parts=parts,
                   paper=d.get("paper", ""), ours=d.get("ours", ""), alpha=alpha)


def reason(v: Verdict) -> str:
    """Why the outcome: the parts that decide it."""
    if v.passed:
        return f"all {len(v.parts)} parts supported at alpha {v.alpha:g}"
    words = []
    for label, o in v.part_outcomes().items():
        r = v.parts[label]
        if o == AGAINST:
            words.append(f"against: {label} (opposite p = {r.pvalue_opposite:.3g})")
        elif o == NOT_EQUIVALENT:
            lo, hi = r.ci
            outside = r.margin is not None and (lo >= r.margin or hi <= -r.margin)
            where = ("its interval lies outside the margin" if outside
                     else "its interval straddles the margin")
            words.append(f"not equivalent: {label} ({where})")
        elif o == NOT_SHOWN:
            words.append(f"not shown: {label} (p = {r.pvalue:.3g})")
    return "; ".join(words)


def describe_result(r: Result, alpha: float) -> str:
    """One line: passes or fails at `alpha`, the procedure, statistic, p-value, effect, n."""
    lo, hi = r.ci
    return (f"{'passes' if r.pvalue < alpha else 'fails'} ({r.procedure}; statistic "
            f"{r.statistic:.3g}, p = {r.pvalue:.3g} vs alpha {alpha:.3g}; {r.effect_name} "
            f"{r.effect:.4g} [{lo:.4g}, {hi:.4g}]; n = {r.n})")


def describe_verdict(v: Verdict) -> str:
    """One line: the claim, its outcome, why, and its weakest part's statistics."""
    w = v.weakest
    lo, hi = w.ci
    return (f"{v.claim}: {v.outcome} ({reason(v)}; weakest of {len(v.parts)}: {w.procedure}; "
            f"statistic {w.statistic:.3g}, p = {w.pvalue:.3g} vs alpha {v.alpha:.3g}; "
            f"{w.effect_name} {w.effect:.4g} [{lo:.4g}, {hi:.4g}]; n = {w.n})")
