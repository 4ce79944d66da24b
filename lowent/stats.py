"""Statistical procedures on per-seed observations (one number per trained model), each
returning a :class:`Result`: statistics only, with scipy's names where they mean what
scipy's do (``statistic``, ``pvalue``).

* :func:`one_sample` -- one-sided one-sample t-test of the seed mean against a value
  (e.g. "H ends below H(p_tgt)").
* :func:`two_sample` -- one-sided Welch t-test between two groups of seeds.
* :func:`equivalence` -- TOST: the seed mean lies within +-margin of a value.
* :func:`equivalence_two` -- two-sample TOST (Welch): two groups' means within +-margin.
* :func:`pearson` -- one-sided test of a linear correlation above (below) a null value.
* :func:`lines_differ` -- F-test that groups need their own curves (not one common one).

Exact and permutation tests (Page's trend, coincidence of events, Poisson and binomial
tests) are in :mod:`lowent.exact`; a claim's verdict, which joins a family of results at
alpha, in :mod:`lowent.verdict`; their words and JSON in :mod:`lowent.records`.

Every procedure is checked in ``tests/test_stats.py`` on simulated null data: its rejection
rate over thousands of simulated experiments is at most its alpha plus Monte Carlo error.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special
from scipy import stats as sps

ALPHA = 0.05  # default level of every claim's test, fixed before any run was looked at


@dataclass(frozen=True, kw_only=True)
class Result:
    """The result of one statistical test, statistics only (like scipy's ``TtestResult``):
    which claim it belongs to, at what level it is judged and what it checks is the
    :class:`lowent.verdict.Verdict`'s that holds it."""

    procedure: str  # the test, e.g. "one-sided one-sample t-test (less than 3.6)"
    statistic: float  # its test statistic
    pvalue: float  # its p-value (for TOST: the larger of the two one-sided p-values)
    n: int  # observations used (seeds, or seeds x sizes)
    effect: float  # effect in the claim's units, e.g. mean H - H(p_tgt) in nats
    effect_name: str  # what `effect` is
    ci: tuple[float, float]  # the (1 - 2 alpha) interval of `effect` at the procedure's alpha
    data: dict = field(default_factory=dict)  # the per-seed numbers behind it
    # "directional" (the claim names a direction), "equivalence" (TOST) or "undirected"
    kind: str = "directional"
    pvalue_opposite: float | None = None  # the same test in the opposite direction (None: none)
    min_pvalue: float = 0.0  # the smallest p-value the procedure can give with these observations
    margin: float | None = None  # an equivalence's margin
    # How to run the same procedure again on other data (lowent.stability, lowent.power): its
    # function's name (in this module or lowent.exact) and keyword arguments; the data arrays
    # are passed in the order of `data` (as one list when "groups").
    call: dict | None = None

    def replace(self, **kw) -> "Result":
        return dataclasses.replace(self, **kw)


def _clean(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size < 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"need at least 2 finite observations, got {x!r}")
    return x


def _t_interval(mean: float, se: float, df: float, alpha: float) -> tuple[float, float]:
    """(1 - 2 alpha) t-interval: the interval a one-sided level-alpha test corresponds to."""
    if se == 0:
        return (mean, mean)
    q = special.stdtrit(df, 1 - alpha)  # what sps.t.ppf(1 - alpha, df) computes
    return (mean - q * se, mean + q * se)


# The t-tests below compute what scipy's ttest_1samp and ttest_ind (equal_var=False) compute,
# operation for operation (mean; variance as the mean squared deviation times n / (n - 1);
# t = difference / sqrt(sum of var / n); p from the t distribution's cdf, special.stdtr), and
# so give the same bits (tests/test_stats.py checks it against scipy), without scipy's
# per-call argument handling: about 1 ms a call, which the stability rule and the power
# simulations (a claim family judged hundreds to thousands of times) pay many times over.
def _var(x: np.ndarray) -> np.float64:
    """scipy's sample variance; a numpy float, as scipy's (squaring a huge one gives inf, not
    a Python float's OverflowError)."""
    n = x.size
    return np.mean((x - np.mean(x)) ** 2) * (n / (n - 1))


def _t_p(t: float, df: float, alternative: str) -> float:
    """One-sided p of a t statistic: P(T <= t) for "less", P(T >= t) for "greater"."""
    return float(special.stdtr(df, t if alternative == "less" else -t))


def _t_one(x: np.ndarray, value: float) -> float:
    """scipy's ttest_1samp(x, value) statistic."""
    d = np.mean(x) - value
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.divide(d, np.sqrt(_var(x) / x.size)))


def _welch_df(vx, vy, nx: int, ny: int):
    """Welch-Satterthwaite degrees of freedom from each group's variance of its mean."""
    return (vx + vy) ** 2 / (vx**2 / (nx - 1) + vy**2 / (ny - 1))


def _t_welch(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """scipy's ttest_ind(x, y, equal_var=False) statistic and degrees of freedom."""
    vn1, vn2 = _var(x) / x.size, _var(y) / y.size
    with np.errstate(divide="ignore", invalid="ignore"):
        df = _welch_df(vn1, vn2, x.size, y.size)
        df = 1.0 if np.isnan(df) else float(df)
        return float(np.divide(np.mean(x) - np.mean(y), np.sqrt(vn1 + vn2))), df


_OPPOSITE = {"less": "greater", "greater": "less"}


def one_sample(x, value: float, alternative: str, alpha: float = ALPHA) -> Result:
    """One-sided one-sample t-test of mean(x) against `value`.

    Args:
        x: per-seed observations.
        value: the reference, e.g. H(p_tgt).
        alternative: "less" (claim: mean < value) or "greater".
    Returns:
        Result with effect = mean(x) - value and its (1 - 2 alpha) t-interval.
    """
    x = _clean(x)
    mean, se = x.mean() - value, x.std(ddof=1) / math.sqrt(x.size)
    opposite = _OPPOSITE[alternative]
    if se > 0:
        stat = _t_one(x, value)
        p, p_opp = _t_p(stat, x.size - 1, alternative), _t_p(stat, x.size - 1, opposite)
    else:  # no spread: no p-value for a difference (no certainty from no information)
        stat = math.nan if mean else 0.0
        p = p_opp = math.nan if mean else 1.0
    return Result(procedure=f"one-sided one-sample t-test ({alternative} than {value:.6g})",
                  statistic=stat, pvalue=p, n=x.size, effect=float(mean),
                  effect_name="mean - reference", ci=_t_interval(mean, se, x.size - 1, alpha),
                  data={"x": x}, pvalue_opposite=p_opp,
                  call={"fn": "one_sample", "kw": {"value": value, "alternative": alternative}})


def two_sample(x, y, alternative: str, alpha: float = ALPHA) -> Result:
    """One-sided Welch t-test: claim mean(x) < mean(y) ("less") or > ("greater").

    Effect = mean(x) - mean(y) with its (1 - 2 alpha) Welch interval.
    """
    x, y = _clean(x), _clean(y)
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(vx + vy)
    df = _welch_df(vx, vy, x.size, y.size) if se > 0 else 1.0
    diff = x.mean() - y.mean()
    opposite = _OPPOSITE[alternative]
    if se > 0:
        t, t_df = _t_welch(x, y)
        p, p_opp = _t_p(t, t_df, alternative), _t_p(t, t_df, opposite)
    else:  # no spread in either sample: no p for a difference, nothing for none (scipy,
        # asked, warns of catastrophic cancellation and gives t = +-inf, or nan for 0 / 0)
        t = math.copysign(math.inf, diff) if diff else math.nan
        p = p_opp = math.nan if diff else 1.0
    return Result(procedure=f"one-sided Welch t-test (x {alternative} than y)",
                  statistic=t, pvalue=p, n=x.size + y.size,
                  effect=float(diff), effect_name="mean(x) - mean(y)",
                  ci=_t_interval(diff, se, df, alpha), data={"x": x, "y": y},
                  pvalue_opposite=p_opp,
                  call={"fn": "two_sample", "kw": {"alternative": alternative}})


def equivalence(x, value: float, margin: float, alpha: float = ALPHA) -> Result:
    """TOST: claim |mean(x) - value| < margin. Two one-sided t-tests at level alpha each.

    pvalue is the larger of the two; the claim holds when it is below alpha, i.e. when the
    (1 - 2 alpha) t-interval of mean - value lies inside (-margin, margin).
    """
    if margin <= 0:
        raise ValueError(f"margin must be positive, got {margin}")
    x = _clean(x)
    mean, se = x.mean() - value, x.std(ddof=1) / math.sqrt(x.size)
    if se == 0:
        p, stat = (0.0 if abs(mean) < margin else 1.0), float("inf")
    else:
        lower, upper = _t_one(x, value - margin), _t_one(x, value + margin)
        p = max(_t_p(lower, x.size - 1, "greater"), _t_p(upper, x.size - 1, "less"))
        stat = min(lower, -upper)
    return Result(procedure=f"TOST equivalence (within +-{margin:.4g} of {value:.6g})",
                  statistic=stat, pvalue=p, n=x.size,
                  effect=float(mean), effect_name="mean - reference",
                  ci=_t_interval(mean, se, x.size - 1, alpha), data={"x": x},
                  kind="equivalence", margin=margin,
                  call={"fn": "equivalence", "kw": {"value": value, "margin": margin}})


def equivalence_two(x, y, margin: float, alpha: float = ALPHA) -> Result:
    """Two-sample TOST with Welch tests: claim |mean(x) - mean(y)| < margin.

    pvalue is the larger of the two one-sided p-values; effect = mean(x) - mean(y) with its
    (1 - 2 alpha) Welch interval.
    """
    if margin <= 0:
        raise ValueError(f"margin must be positive, got {margin}")
    x, y = _clean(x), _clean(y)
    diff = x.mean() - y.mean()
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(vx + vy)
    if se == 0:
        p, stat, df = (0.0 if abs(diff) < margin else 1.0), float("inf"), 1.0
    else:
        (lower, lower_df), (upper, upper_df) = _t_welch(x + margin, y), _t_welch(x - margin, y)
        p = max(_t_p(lower, lower_df, "greater"), _t_p(upper, upper_df, "less"))
        stat = min(lower, -upper)
        df = _welch_df(vx, vy, x.size, y.size)
    return Result(procedure=f"two-sample TOST equivalence (Welch; within +-{margin:.4g})",
                  statistic=stat, pvalue=p, n=x.size + y.size, effect=float(diff),
                  effect_name="mean(x) - mean(y)", ci=_t_interval(diff, se, df, alpha),
                  data={"x": x, "y": y}, kind="equivalence", margin=margin,
                  call={"fn": "equivalence_two", "kw": {"margin": margin}})


def _rho_at(z: float, n: int) -> float:
    """The rho whose Fisher mean atanh(rho) + rho / (2 (n - 1)) is z (it rises with rho)."""
    from scipy.optimize import brentq

    f = lambda rho: math.atanh(rho) + rho / (2 * (n - 1)) - z  # noqa: E731
    lo, hi = -1 + 1e-15, 1 - 1e-15
    if f(lo) >= 0:
        return -1.0
    if f(hi) <= 0:
        return 1.0
    return float(brentq(f, lo, hi, xtol=1e-14))


def pearson(x, y, alternative: str = "greater", alpha: float = ALPHA, null: float = 0.0) -> Result:
    """One-sided test of a linear correlation: Pearson rho > `null` for "greater" (< for
    "less"). With null = 0 the exact t-based test of scipy; otherwise Fisher's z test, e.g.
    null = 0.8 for "strong": atanh r is about normal with mean atanh rho + rho / (2 (n - 1))
    and SE 1/sqrt(n - 3). The bias term matters: without it the test rejects 6% of samples
    of 12 pairs drawn at rho = 0.8 (tests/test_stats.py holds it at alpha)."""
    x, y = _clean(x), _clean(y)
    if x.size != y.size:
        raise ValueError(f"x and y differ in length: {x.size} vs {y.size}")
    if not -1 < null < 1:
        raise ValueError(f"null correlation must lie in (-1, 1), got {null}")
    if alternative not in ("greater", "less"):
        raise ValueError(f"alternative must be 'greater' or 'less', got {alternative!r}")
    r = float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else 0.0
    z, se = math.atanh(max(min(r, 1 - 1e-15), -1 + 1e-15)), 1 / math.sqrt(max(x.size - 3, 1))
    opposite = _OPPOSITE[alternative]
    if null == 0:
        p = float(sps.pearsonr(x, y, alternative=alternative).pvalue) if r else 1.0
        p_opp = float(sps.pearsonr(x, y, alternative=opposite).pvalue) if r else 1.0
    else:
        if x.size < 4:
            raise ValueError(f"Fisher's z test needs at least 4 pairs, got {x.size}")
        stat = (z - math.atanh(null) - null / (2 * (x.size - 1))) / se
        p, p_opp = (float(sps.norm.sf(stat)), float(sps.norm.cdf(stat)))[
            :: 1 if alternative == "greater" else -1]
    q = sps.norm.ppf(1 - alpha)
    side = ">" if alternative == "greater" else "<"
    if null == 0:
        ci = (math.tanh(z - q * se), math.tanh(z + q * se))
    else:  # the rho0 the bias-corrected test just rejects, each way: test and interval agree
        ci = (_rho_at(z - q * se, x.size), _rho_at(z + q * se, x.size))
    return Result(procedure=f"one-sided Pearson correlation (rho {side} {null:g})", statistic=r,
                  pvalue=p, n=x.size, effect=r,
                  effect_name="Pearson r", ci=ci,
                  data={"x": x, "y": y}, pvalue_opposite=p_opp)


def lines_differ(x, y, groups, alpha: float = ALPHA, degree: int = 2) -> Result:
    """F-test of one common polynomial y = a + b x (+ c x^2) for all groups against one such
    polynomial per group; passes when the common curve does not fit (the groups' relations
    differ). degree=2 (F2, claims/README.md): a common relation curved over the groups'
    shifted x ranges is not mistaken for a difference; degree=1 is one line each.

    Effect: the largest gap between two groups' fitted curves at the median x, in y's units,
    with its CI left as the observed gap (no interval is claimed for it).
    """
    x, y = _clean(x), _clean(y)
    groups = np.asarray(groups).ravel()
    if not x.size == y.size == groups.size:
        raise ValueError(f"x, y and groups differ in length: {x.size}, {y.size}, {groups.size}")
    if degree not in (1, 2):
        raise ValueError(f"degree must be 1 or 2, got {degree}")
    labels = list(dict.fromkeys(groups.tolist()))
    per = degree + 1  # coefficients per curve
    if len(labels) < 2 or any(np.sum(groups == g) < per + 1 for g in labels):
        raise ValueError(f"need at least 2 groups of at least {per + 1} points each")
    k, n = len(labels), x.size
    if n <= per * k:
        raise ValueError(f"{n} points cannot fit {k} curves and leave residual freedom")
    # x centred and scaled, so that the quadratic's columns are well conditioned
    u = (x - x.mean()) / (x.std() or 1.0)
    powers = [u**j for j in range(per)]

    def rss(design):
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        return float(np.sum((y - design @ coef) ** 2)), coef

    rss0, _ = rss(np.column_stack(powers))
    masks = [(groups == g).astype(np.float64) for g in labels]
    rss1, coef = rss(np.column_stack([m * w for w in powers for m in masks]))
    df_num, df_den = per * (k - 1), n - per * k
    if rss1 <= 1e-30 * max(rss0, 1e-300):
        F, p = (math.inf, 0.0) if rss0 > 0 else (0.0, 1.0)
    else:
        F = ((rss0 - rss1) / df_num) / (rss1 / df_den)
        p = float(sps.f.sf(F, df_num, df_den))
    at = float(np.median(x))
    ua = (at - x.mean()) / (x.std() or 1.0)
    fitted = sum(coef[j * k:(j + 1) * k] * ua**j for j in range(per))
    gap = float(fitted.max() - fitted.min())
    shape = "quadratic" if degree == 2 else "line"
    return Result(procedure=f"F-test: one {shape} per group ({k}) vs one common {shape}",
                  statistic=float(F), pvalue=p, n=n,
                  effect=gap, effect_name=f"largest gap between fitted curves at x = {at:.4g}",
                  ci=(gap, gap), data={"x": x, "y": y, "groups": [str(g) for g in groups]},
                  kind="undirected")
