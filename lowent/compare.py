"""Compare two claims reports (results.json): the regression check between PyTorch versions.

``python -m lowent compare OLD.json NEW.json`` lists

* **flips**: claims whose verdict changed (holds, contradicted, not equivalent, inconclusive;
  reports written before the outcomes say "does not reproduce"), or that had a verdict in
  OLD and none in NEW (an error or a skip);
* **errors**: claim tests that ended in an error in NEW (a crash is never a finding);
* **shifts**: per-seed metrics whose distribution moved. Every array of per-seed numbers
  behind a claim's tests (``Verdict.data``) is compared between OLD and NEW with Welch's
  two-sided t-test; the p-values are Holm-corrected over all metrics compared, at alpha.

It exits 1 when any claim flipped or errored, else 0 (shifts alone are reported, not failed: a new
PyTorch may move a number without changing what the paper's sentence says). Before comparing
it lists every entry of the two environments that differs besides PyTorch (Python, NumPy,
SciPy, the build, the device, ...), so a flip is not blamed on torch when something else
moved too, and it refuses (exit 2, one line) reports of different results schemas or
profiles unless told ``--allow-different``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats as sps

from lowent.stats import ALPHA, holm_adjust

VERDICTS = ("holds", "contradicted", "not equivalent", "inconclusive", "does not reproduce")


@dataclass(frozen=True)
class Shift:
    """One per-seed metric whose distribution differs between the two reports."""

    where: str  # claim / test / array name
    old_mean: float
    new_mean: float
    p_value: float  # Holm-adjusted


def load(path: str | Path) -> dict:
    """A results.json written by the claims report; a clear error for anything else."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read a results.json from {str(path)!r}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise ValueError(f"{str(path)!r} is not a lowent results.json (no 'claims' list)")
    return data


def baseline(results: dict) -> dict:
    """A results dict as kept in baselines/: everything compare reads (environment, outcomes,
    verdicts with their per-seed data), without the figures' curves."""
    return {**results, "claims": [{**rec, "figures": []} for rec in results["claims"]]}


def _test(nodeid: str) -> str:
    """A claim test's id across versions: L1's, L2's and F1's tests gained a ``target``
    parameter (D1), so ``test_x[base]`` is the same test as an older report's ``test_x``."""
    return nodeid.removesuffix("[base]")


def _arrays(record: dict) -> dict[str, np.ndarray]:
    """{name: per-seed array} of every test behind a claim's verdict (numeric lists only:
    a verdict may also carry labels, e.g. the groups of an F-test)."""
    v = record.get("verdict") or {}
    out = {}
    for i, part in enumerate(v.get("parts") or [v]):
        for key, val in (part.get("data") or {}).items():
            numeric = isinstance(val, list) and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in val)
            a = np.asarray(val, dtype=np.float64) if numeric else None
            if a is not None and a.ndim == 1 and a.size >= 2:
                out[f"{_test(record['nodeid'])} / test {i + 1} ({part.get('test', '')}) / {key}"] = a
    return out


def _welch_p(x: np.ndarray, y: np.ndarray) -> float:
    if np.array_equal(x, y):
        return 1.0
    if x.std() == 0 and y.std() == 0:
        return 0.0 if x.mean() != y.mean() else 1.0
    p = float(sps.ttest_ind(x, y, equal_var=False).pvalue)
    return 1.0 if math.isnan(p) else p


def compare(old: dict, new: dict, alpha: float = ALPHA) -> dict:
    """{"flips": [(nodeid, old outcome, new outcome)], "errors": [(nodeid, reason)],
    "shifts": [Shift], "only_old": [...],
    "only_new": [...]} between two results dicts."""
    a = {_test(r["nodeid"]): r for r in old["claims"]}
    b = {_test(r["nodeid"]): r for r in new["claims"]}
    flips = [(k, a[k]["outcome"], b[k]["outcome"]) for k in a if k in b
             and a[k]["outcome"] in VERDICTS and b[k]["outcome"] != a[k]["outcome"]]
    pairs = []
    for k in a:
        if k in b:
            xa, xb = _arrays(a[k]), _arrays(b[k])
            pairs += [(name, xa[name], xb[name]) for name in xa if name in xb]
    shifts = []
    if pairs:
        adj = holm_adjust([_welch_p(x, y) for _, x, y in pairs])
        shifts = [Shift(name, float(x.mean()), float(y.mean()), float(q))
                  for (name, x, y), q in zip(pairs, adj) if q < alpha]
    errors = [(k, b[k].get("reason", "")) for k in b if b[k]["outcome"] == "error"]
    return {"flips": flips, "errors": errors, "shifts": shifts, "compared": len(pairs),
            "only_old": sorted(set(a) - set(b)), "only_new": sorted(set(b) - set(a))}


# Environment entries that differ between any two runs and say nothing about the software.
_PER_RUN = {"wall time", "finished", "lowent"}
_TORCH = {"PyTorch"}


class Incomparable(ValueError):
    """Two reports of different results schemas or profiles."""


def differences(old: dict, new: dict) -> dict[str, tuple]:
    """Environment entries (besides PyTorch and per-run ones) that differ: name -> (old, new)."""
    eo, en = old.get("environment", {}), new.get("environment", {})
    return {k: (eo.get(k), en.get(k)) for k in sorted(set(eo) | set(en))
            if k not in _PER_RUN | _TORCH and eo.get(k) != en.get(k)}


def check_comparable(old: dict, new: dict) -> None:
    """Raise Incomparable (one line) when the reports' schema or profile differ."""
    eo, en = old.get("environment", {}), new.get("environment", {})
    for key in ("schema", "profile"):
        if eo.get(key) != en.get(key):
            raise Incomparable(f"the reports differ in {key} ({eo.get(key)!r} vs "
                               f"{en.get(key)!r}); pass --allow-different to compare anyway")


ONLY_LISTED = 5  # tests named when one report has tests the other lacks; the rest counted


def _print_only(side: str, tests: list[str]) -> None:
    """The tests only one report has: their count, the first ONLY_LISTED named. A run of a
    few claims against a full baseline lacks most of it; a list of every test would bury
    the flips above."""
    if not tests:
        return
    print(f"tests only in {side}: {len(tests)}")
    for k in tests[:ONLY_LISTED]:
        print(f"  only in {side}: {k}")
    if len(tests) > ONLY_LISTED:
        print(f"  ... and {len(tests) - ONLY_LISTED} more")


def main(old_path: str, new_path: str, alpha: float = ALPHA,
         allow_different: bool = False) -> int:
    old, new = load(old_path), load(new_path)
    if not allow_different:
        check_comparable(old, new)
    res = compare(old, new, alpha)
    eo, en = old.get("environment", {}), new.get("environment", {})
    print(f"OLD: {old_path} (PyTorch {eo.get('PyTorch', '?')}, profile {eo.get('profile', '?')})")
    print(f"NEW: {new_path} (PyTorch {en.get('PyTorch', '?')}, profile {en.get('profile', '?')})")
    other = differences(old, new)
    if other:
        print(f"the reports differ in more than PyTorch: {len(other)} other entries")
        for k, (o, n) in other.items():
            print(f"  DIFFERS {k}: {o} -> {n}")
    print(f"verdict flips: {len(res['flips'])}")
    for k, o, n in res["flips"]:
        print(f"  FLIP {k}: {o} -> {n}")
    print(f"errors in NEW: {len(res['errors'])}")
    for k, reason in res["errors"]:
        print(f"  ERROR {k}: {reason}")
    print(f"metric shifts (Welch two-sided, Holm over {res['compared']} per-seed metrics, "
          f"alpha {alpha}): {len(res['shifts'])}")
    for s in res["shifts"]:
        print(f"  SHIFT {s.where}: mean {s.old_mean:.6g} -> {s.new_mean:.6g} (p = {s.p_value:.3g})")
    for side in ("OLD", "NEW"):
        _print_only(side, res[f"only_{side.lower()}"])
    return 1 if res["flips"] or res["errors"] else 0
