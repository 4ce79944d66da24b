"""Compare two claims reports (results.json): the regression check between PyTorch versions
and between machines.

``python -m lowent compare OLD.json NEW.json`` lists

* **the machines**: whether bits are expected, and if not, why (among the reasons, how the
  machines the runs were trained on differ; lowent.machine). Where the
  machines, the PyTorch build, the training code, the profile and the seeds all match, on
  the CPU, and each seed was trained in the same stack of seeds, the runs must be equal bit
  for bit, and any per-seed number that differs fails the check (the same computation gave
  other bits). Otherwise (a run that records no machine, a GPU, whose kernels need not be
  deterministic, ...) the reports are judged against the seed noise, and why is listed;
* **flips**: claims whose verdict changed (holds, contradicted, not equivalent, inconclusive;
  reports written before the outcomes say "does not reproduce"), or that had a verdict in
  OLD and none in NEW (an error or a skip). A flip is judged by the stability rule
  (claims/README.md, "Expected outcomes on any machine"), both ways: within the seed noise
  when NEW's predictive draws reach OLD's outcome, or OLD's reach NEW's, in at least alpha
  of them; supported when neither does (an outcome one report's own seeds make likely is
  not a change, whichever report drew the rarer one);
* **errors**: claim tests that ended in an error in NEW (a crash is never a finding);
* **failures**: claim tests that failed in NEW: their outcome moved away from the expected
  one beyond the seed noise (the suite's own test failed), whether or not OLD had it too;
* **shifts**: per-seed metrics whose distribution moved. Every array of per-seed numbers
  behind a claim's tests (``Verdict.data``) is compared between OLD and NEW with Welch's
  two-sided t-test; the p-values are Holm-corrected over all metrics compared, at alpha.

It exits 1 when a flip is supported, a claim errored or failed, or bits differ where they
must not;
else 0 (flips within the noise and shifts are reported, not failed: another machine or a
new PyTorch may move a number without changing what the paper's sentence says). Before
comparing it lists every entry of the two environments that differs besides PyTorch
(Python, NumPy, SciPy, the build, the device, lowent's commit, ...), so a flip is not
blamed on torch when something else moved too, and it refuses (exit 2, one line) reports
of different results schemas or profiles unless told ``--allow-different``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats as sps

from lowent import machine as machines
from lowent.power import seeds_of
from lowent.records import verdict_from_record
from lowent.report import test_id
from lowent.stability import Stability, stability
from lowent.stats import ALPHA
from lowent.verdict import holm_adjust

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
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # unreadable, not UTF-8, not JSON
        raise ValueError(f"cannot read a results.json from {str(path)!r}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise ValueError(f"{str(path)!r} is not a lowent results.json (no 'claims' list)")
    if not isinstance(data.get("environment", {}), dict) or not all(
            isinstance(c, dict) and isinstance(c.get("nodeid"), str)
            and isinstance(c.get("outcome"), str)
            and isinstance(c.get("verdict") or {}, dict) for c in data["claims"]):
        raise ValueError(f"{str(path)!r} is not a lowent results.json (its environment is not "
                         "an object, or a claim lacks its nodeid, outcome or verdict object)")
    return data


def baseline(results: dict) -> dict:
    """A results dict as kept in baselines/: everything compare reads (environment, outcomes,
    verdicts with their per-seed data), without the figures' curves."""
    return {**results, "claims": [{**rec, "figures": []} for rec in results["claims"]]}


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
                out[f"{test_id(record['nodeid'])} / test {i + 1} ({part.get('test', '')}) / {key}"] = a
    return out


def _welch_p(x: np.ndarray, y: np.ndarray) -> float:
    if np.array_equal(x, y):
        return 1.0
    if x.std() == 0 and y.std() == 0:
        return 0.0 if x.mean() != y.mean() else 1.0
    p = float(sps.ttest_ind(x, y, equal_var=False).pvalue)
    return 1.0 if math.isnan(p) else p


# What, besides the machine, must match for two reports' runs to be equal bit for bit.
BITS = ("PyTorch", "PyTorch build", "training code", "profile", "seeds")
STACKS = "run stacks"  # how the runs' seeds were stacked (lowent.report.stacks_record)


def run_machines(results: dict) -> list:
    """The machine records of a report's runs, None for runs whose cache entries recorded
    none (empty when the report read no runs)."""
    return list(results.get("environment", {}).get("run machines") or [])


def bits_expected(old: dict, new: dict) -> tuple[bool, list[str]]:
    """Whether the two reports' runs must be equal bit for bit, and if not, why not (one
    line per reason): each report's runs from one recorded machine, the same one, on the
    CPU, both sessions (which evaluate the runs) on the same machine, the entries of BITS
    equal, and (where both reports record it) every seed trained in the same stack of
    seeds."""
    why = []
    mo, mn = run_machines(old), run_machines(new)
    for side, ms in (("OLD", mo), ("NEW", mn)):
        if not ms:
            why.append(f"{side}'s runs record no machine")
        elif not all(ms):
            why.append(f"{side} read runs whose entries record no machine")
        elif len(ms) != 1:
            why.append(f"{side}'s runs were trained on {len(ms)} machines")
    trained = {} if why else machines.differences(mo[0], mn[0])
    why += [f"machine: {k}: {a} -> {b}" for k, (a, b) in trained.items()]
    eo, en = old.get("environment", {}), new.get("environment", {})
    if isinstance(eo.get("machine"), dict) and isinstance(en.get("machine"), dict):
        # the float64 evaluation and probes run where the session runs, not where it trained
        why += [f"evaluated on another machine: {k}: {a} -> {b}" for k, (a, b) in
                machines.differences(eo["machine"], en["machine"]).items()
                if trained.get(k) != (a, b)]  # not said twice
    why += [f"{k}: {eo.get(k)} -> {en.get(k)}" for k in BITS if eo.get(k) != en.get(k)]
    for side, env in (("OLD", eo), ("NEW", en)):
        if str(env.get("device", "")).startswith("cuda"):
            why.append(f"{side}'s runs trained on a GPU, whose kernels need not give the same "
                       "bits twice (atomic adds in backward passes)")
    so, sn = _stacks(eo), _stacks(en)
    moved = sorted(k for k in set(so) & set(sn) if so[k] != sn[k])
    if moved:
        why.append(f"{STACKS}: {len(moved)} configuration{'s' if len(moved) > 1 else ''} read "
                   "by both trained in other stacks of seeds (a seed stacked with others may "
                   "round apart from the same seed trained alone)")
    return not why, why


def _stacks(env: dict) -> dict:
    """{configuration key: set of its stacks} of a report's "run stacks" (empty for a
    report before that record, which is then not checked for it)."""
    out: dict = {}
    for key, st in env.get(STACKS) or []:
        out.setdefault(key, set()).add(tuple(st))
    return out


def flip_share(record: dict, outcome: str, n_seeds: int | None) -> float | None:
    """The share of NEW's predictive draws (lowent.stability) that reach `outcome`: the
    record's own when it has them, else computed from its parts; None without a verdict."""
    v = record.get("verdict") or {}
    if "stability" in v:
        return Stability.from_dict(v["stability"]).share(outcome)
    if not v.get("parts") or not n_seeds:
        return None
    return stability(verdict_from_record(v), n_seeds).share(outcome)


def _seeds(results: dict) -> int | None:
    """Seeds per configuration of a report, None where it does not say."""
    try:
        return seeds_of(results)
    except ValueError:
        return None


def supported(flip: tuple, alpha: float = ALPHA) -> bool:
    """Whether a flip of :func:`compare` is supported by the measurements: NEW has no
    verdict, or neither report's predictive draws reach the other's outcome in alpha of
    them."""
    _, _, _, share, back = flip
    if share is None:
        return True
    return share < alpha and (back is None or back < alpha)


def compare(old: dict, new: dict, alpha: float = ALPHA) -> dict:
    """{"flips": [(nodeid, old outcome, new outcome, share, back)], "errors": [(nodeid,
    reason)], "failures": [(nodeid, outcome, expected)], "shifts": [Shift], "bits": (equal
    arrays, compared arrays), "only_old": [...], "only_new": [...]} between two results
    dicts. A flip's share is that of NEW's predictive draws reaching OLD's outcome (None:
    NEW has no verdict), its back that of OLD's reaching NEW's (None: not computable); the
    flip is supported when neither reaches alpha (:func:`supported`)."""
    a = {test_id(r["nodeid"]): r for r in old["claims"]}
    b = {test_id(r["nodeid"]): r for r in new["claims"]}
    n_seeds, n_old = _seeds(new), _seeds(old)
    flips = [(k, a[k]["outcome"], b[k]["outcome"], flip_share(b[k], a[k]["outcome"], n_seeds),
              flip_share(a[k], b[k]["outcome"], n_old) if b[k]["outcome"] in VERDICTS else None)
             for k in a if k in b
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
    failures = [(k, b[k]["outcome"], (b[k].get("verdict") or {}).get("expected"))
                for k in b if b[k].get("pytest_outcome") == "failed"
                and b[k]["outcome"] != "error"]
    equal = sum(x.shape == y.shape and np.array_equal(x, y) for _, x, y in pairs)
    return {"flips": flips, "errors": errors, "failures": failures, "shifts": shifts,
            "compared": len(pairs),
            "bits": (equal, len(pairs)),
            "only_old": sorted(set(a) - set(b)), "only_new": sorted(set(b) - set(a))}


# Environment entries that differ between any two runs and say nothing about the software.
_PER_RUN = {"wall time", "finished", "machine", "run machines", STACKS}
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
    same, why = bits_expected(old, new)
    equal, total = res["bits"]
    bits_failed = same and equal < total
    if same:
        print(f"same machine, PyTorch build, training code, profile and seeds: the runs must be "
              f"equal bit for bit; per-seed arrays equal: {equal} of {total}"
              + (" -- BITS DIFFER" if bits_failed else ""))
    else:
        print(f"not expected to be equal bit for bit ({len(why)} differences), so judged against "
              f"the seed noise; per-seed arrays equal bit for bit: {equal} of {total}")
        for line in why:
            print(f"  MACHINE/BUILD {line}")
    backed = [f for f in res["flips"] if supported(f, alpha)]
    print(f"verdict flips: {len(res['flips'])} ({len(backed)} supported by the measurements, "
          f"{len(res['flips']) - len(backed)} within the seed noise)")
    for f in res["flips"]:
        k, o, n, share, back = f
        if share is None:
            how = "no verdict in NEW"
        else:
            how = f"{o} in {share:.0%} of NEW's predictive draws"
            if back is not None:
                how += f", {n} in {back:.0%} of OLD's"
            how += ": " + ("supported" if supported(f, alpha) else "within the seed noise")
        print(f"  FLIP {k}: {o} -> {n} ({how})")
    print(f"errors in NEW: {len(res['errors'])}")
    for k, reason in res["errors"]:
        print(f"  ERROR {k}: {reason}")
    print(f"failed in NEW: {len(res['failures'])}")
    for k, o, expected in res["failures"]:
        print(f"  FAILED {k}: {o}" + (f", expected {expected}" if expected else "")
              + " (its test failed: the outcome changed beyond the seed noise)")
    print(f"metric shifts (Welch two-sided, Holm over {res['compared']} per-seed metrics, "
          f"alpha {alpha}): {len(res['shifts'])}")
    for s in res["shifts"]:
        print(f"  SHIFT {s.where}: mean {s.old_mean:.6g} -> {s.new_mean:.6g} (p = {s.p_value:.3g})")
    for side in ("OLD", "NEW"):
        _print_only(side, res[f"only_{side.lower()}"])
    return 1 if backed or res["errors"] or res["failures"] or bits_failed else 0


def stability_table(named: dict[str, dict]) -> tuple[list[str], list[str]]:
    """The stability table over several reports (column name -> results dict): one row per
    claim test, each cell "outcome (p)", and the last column the outcomes the test took.
    Returns (markdown lines, the ids of tests whose outcome moved between the columns)."""
    tests: dict[str, dict[str, dict]] = {}
    for name, results in named.items():
        for rec in results["claims"]:
            tests.setdefault(test_id(rec["nodeid"]), {})[name] = rec
    head = "| test | claim | " + " | ".join(named) + " | outcomes |"
    lines, moved = [head, "|" + "---|" * (len(named) + 3)], []
    for tid, by in tests.items():
        cells, seen = [], []
        for name in named:
            rec = by.get(name)
            if rec is None:
                cells.append("-")
                continue
            v = rec.get("verdict") or {}
            p = f" (p = {v['p_value']:.3g})" if v.get("p_value") is not None else ""
            cells.append(f"{rec['outcome']}{p}")
            if rec["outcome"] not in seen:
                seen.append(rec["outcome"])
        if len(seen) > 1:
            moved.append(tid)
        claim = next(iter(by.values()))
        label = (claim.get("verdict") or {}).get("claim") or claim.get("claim", "")
        lines.append(f"| `{tid.split('::')[-1]}` | {label} | " + " | ".join(cells)
                     + f" | {'moved: ' if len(seen) > 1 else ''}{', '.join(seen)} |")
    return lines, moved


def stability_main(specs: list[str]) -> int:
    named = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"{spec!r}: give each report as NAME=RESULTS.json")
        named[name] = load(path)
    lines, moved = stability_table(named)
    print("\n".join(lines))
    print(f"\ntests whose outcome moved: {len(moved)}")
    for tid in moved:
        print(f"  {tid}")
    return 0
