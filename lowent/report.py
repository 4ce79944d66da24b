"""The claims report: one self-contained HTML page (and results.json) from recorded results.

The pytest plugin (``lowent/plugin/report.py``) gathers one record per claim test and hands the
results dict to :func:`write`; ``python -m lowent report results.json OUT.html`` rebuilds
the page from a saved results.json. The results dict::

    {"environment": {name: value}, "claims": [record, ...]}

    record = {"nodeid", "claim" (its id in lowent.claims.CLAIMS, e.g. "L1", "R1 figures"),
              "marker", "sentence" (the registry's, SETTING 7), "engine" (how its runs were
              trained: lowent.claims.engine_note), "doc" (the test's docstring:
              the paper's sentence), "outcome" (one of OUTCOMES),
              "pytest_outcome", "reason" (xfail/skip reason or error), "duration" (s),
              "verdict" (lowent.records.verdict_record or None), "figures" ([figure, ...])}

A figure is plain data, drawn here with matplotlib (Agg) into inline PNGs::

    {"kind": "lines" | "scatter" | "hist" | "events", "title", "xlabel", "ylabel",
     "series": [{"label", "x", "y", optional "lo", "hi" (a band)}],
     optional "hlines": [{"y", "label"}], "edges" (hist), "logx", "ylim",
     "ylabel2" and "series2" (events: right axis), "marks": [{"x": [...], "label"}]}
"""
from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from lowent.stability import CHANGED, UNSTABLE

# Version of the results.json format: 2 added the outcomes (holds / contradicted / not
# equivalent / inconclusive), each part's outcome, reachable p and call, and the environment's
# schema, SciPy and PyTorch build; 3 the machines (the session's and its runs'), the training
# code's version, and each verdict's expected outcome, stability draws and status. lowent
# compare refuses to compare different schemas.
SCHEMA = 3

# A claim's verdict (lowent.verdict.OUTCOMES), or what stopped the test from reaching one.
OUTCOMES = ("holds", "contradicted", "not equivalent", "inconclusive", "error", "skipped")
_COLOURS = {"holds": "#1a7f37", "contradicted": "#cf222e", "not equivalent": "#b35900",
            "inconclusive": "#9a6700", "error": "#cf222e", "skipped": "#6e7781",
            "does not reproduce": "#b35900"}  # the last: results.json written before outcomes


def stacks_record(stacks) -> list:
    """The environment's "run stacks": how the seeds of the runs a report read were stacked
    in training, as sorted pairs [the run's configuration key, the seeds of one stack]. A
    seed stacked with others may round apart from the same seed trained alone
    (docs/cluster.md), so ``lowent compare`` expects bits of a configuration both reports
    read only where its stacks are the same."""
    return [[k, list(st)] for k, st in sorted({(str(k), tuple(int(s) for s in st))
                                               for k, st in stacks})]


def stacks_summary(record: list) -> str:
    """One line for the "run stacks" record: how many stacks, of how many seeds."""
    if not record:
        return "no runs read"
    sizes = sorted({len(st) for _, st in record})
    size = f"{sizes[0]}" if len(sizes) == 1 else f"{sizes[0]} to {sizes[-1]}"
    return f"{len(record)} stacks of {size} seed{'s' if sizes[-1] > 1 else ''}"


def _verdict_outcome(verdict: dict) -> str:
    if "outcome" in verdict:
        return verdict["outcome"]
    return "holds" if verdict.get("passed") else "does not reproduce"


def _reason(c: dict) -> tuple[str, str]:
    """A claim's reason line and its label: "Measured" only where this run computed a
    verdict (its figures), "Error" for an error, "Skipped" for a skip's stated reason."""
    text = c.get("reason") or ""
    if c["outcome"] == "error":
        return "Error", text
    if c.get("verdict"):
        return "Measured", text
    if c["outcome"] == "skipped":
        return "Skipped", text.removeprefix("Skipped: ")
    return "Reason", text


def outcome(pytest_outcome: str, verdict: dict | None) -> str:
    """The report's verdict for one claim test from its pytest outcome.

    passed -> holds; xfailed (a strict xfail that met its expected outcome) or failed (an
    outcome other than the expected one: the run is red) with a recorded verdict -> the
    verdict's outcome (holds, contradicted, not equivalent, inconclusive); anything without a
    verdict (failed, error, or an xfail that never reached its verdict) -> error; skipped ->
    skipped.
    """
    if pytest_outcome == "passed":
        return "holds"
    if pytest_outcome == "skipped":
        return "skipped"
    if pytest_outcome in ("xfailed", "failed") and verdict is not None:
        return _verdict_outcome(verdict)
    return "error"


def test_id(nodeid: str) -> str:
    """A claim test's id across versions: L1's, L2's and F1's tests gained a ``target``
    parameter (D1), so ``test_x[base]`` is the same test as an older report's ``test_x``."""
    return nodeid.removesuffix("[base]")


def across_machines(nodeid: str) -> str:
    """"outcome unstable across machines (...)" for a test whose outcome moved between the
    runs of the recorded stability table (lowent.claims.unstable); "" for the others."""
    from lowent.claims.unstable import ACROSS_MACHINES

    moved = ACROSS_MACHINES.get(test_id(nodeid))
    return (f"outcome unstable across machines (recorded, claims/STABILITY.md: {moved})"
            if moved else "")


def expected_cell(verdict: dict) -> str:
    """The expected outcome and the share of the predictive draws that reach it."""
    stab = verdict.get("stability")
    if not stab or "expected" not in verdict:
        return "-"
    share = stab["shares"].get(verdict["expected"], 0.0)
    return f"{verdict['expected']} ({share:.0%} of {stab['draws']} draws)"


def across_claims(claims: list[dict], alpha: float = 0.05) -> dict[str, bool]:
    """nodeid -> whether a holding claim survives Holm's correction over every claim test
    with a verdict in the run (each claim's p-value: its largest part's)."""
    from lowent.verdict import holm_adjust

    ps = {c["nodeid"]: c["verdict"]["p_value"] for c in claims
          if c.get("verdict") and c["verdict"].get("p_value") is not None}
    return {node: bool(q < alpha) for node, q in zip(ps, holm_adjust(list(ps.values())))}


def figure_png(fig: dict) -> bytes:
    """Draw one figure dict; returns PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f, ax = plt.subplots(figsize=(6.0, 3.6), dpi=90)
    try:
        kind = fig["kind"]
        for s in fig.get("series", []):
            if kind == "scatter":
                ax.scatter(s["x"], s["y"], s=14, alpha=0.8, label=s.get("label"))
            elif kind == "hist":
                edges = fig["edges"]
                ax.stairs(s["y"], edges, label=s.get("label"), linewidth=1.4)
            else:
                ax.plot(s["x"], s["y"], label=s.get("label"),
                        linewidth=0.6 if kind == "events" else 1.4)
                if "lo" in s and "hi" in s:
                    ax.fill_between(s["x"], s["lo"], s["hi"], alpha=0.12)
        for h in fig.get("hlines", []):
            ax.axhline(h["y"], color="k", linestyle="--", linewidth=1, label=h.get("label"))
        if kind == "events" and fig.get("series2"):
            ax2 = ax.twinx()
            for s in fig["series2"]:
                ax2.plot(s["x"], s["y"], color="tab:red", linewidth=1.2, label=s.get("label"))
            ax2.set_ylabel(fig.get("ylabel2", ""))
            if ax2.get_legend_handles_labels()[0]:
                ax2.legend(loc="upper right", fontsize=7)
        styles = ({"color": "tab:orange", "linestyle": ":"}, {"color": "tab:purple",
                                                               "linestyle": "-."})
        for m, style in zip(fig.get("marks", []), styles):
            for i, x in enumerate(m["x"]):
                ax.axvline(x, linewidth=0.9, label=m["label"] if i == 0 else None, **style)
        if fig.get("ylim"):
            lo, hi = fig["ylim"]
            pad = 0.05 * (hi - lo) if hi > lo else 0.01
            ax.set_ylim(lo - pad, hi + pad)
        if fig.get("logx"):
            ax.set_xscale("log", base=2)
        ax.set_title(fig.get("title", ""), fontsize=10)
        ax.set_xlabel(fig.get("xlabel", ""))
        ax.set_ylabel(fig.get("ylabel", ""))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper left" if kind == "events" else "best")
        f.tight_layout()
        buf = io.BytesIO()
        f.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(f)


def _e(x) -> str:
    return html.escape(str(x))


def _num(x, fmt=".3g") -> str:
    try:
        return format(float(x), fmt)
    except (TypeError, ValueError):
        return "-"


def _stat_cells(v: dict | None) -> str:
    if not v:
        return "<td>-</td><td>-</td><td>-</td>"
    lo, hi = v.get("ci", (None, None))
    return (f"<td>{_num(v.get('statistic'))}</td><td>p = {_num(v.get('p_value'))} "
            f"(&alpha; {_num(v.get('alpha'))})</td><td>{_e(v.get('effect_name', ''))}: "
            f"{_num(v.get('effect'), '.4g')} [{_num(lo, '.4g')}, {_num(hi, '.4g')}]</td>")


def _parts_table(v: dict) -> str:
    rows = "".join(
        f"<tr><td>{_e(p.get('statement', ''))}</td><td>{_e(p['test'])}</td>"
        f"<td>{_e(p.get('outcome') or ('pass' if p['passed'] else 'fail'))}</td>"
        f"{_stat_cells(p)}<td>{p['n']}</td></tr>" for p in v.get("parts", []))
    if not rows:
        return ""
    return ("<table class='parts'><tr><th>checks</th><th>test</th><th>result</th><th>statistic</th>"
            "<th>p-value</th><th>effect [CI]</th><th>n</th></tr>" + rows + "</table>")


def _across(c: dict, survives: dict[str, bool]) -> str:
    if c["outcome"] != "holds" or c["nodeid"] not in survives:
        return "-"
    return "yes" if survives[c["nodeid"]] else "no"


OURS = "our reading"  # the sensitivity table's column of the base tests


def claim_label(record: dict) -> str:
    """What a record's verdict is about: its verdict's claim (a reused family's is labelled
    "D1 low: L1", "X dropout 0: L1"), else the test's claim id ("" if neither)."""
    return (record.get("verdict") or {}).get("claim") or record.get("claim") or ""


def setting_grid(claims: list[dict]) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The sensitivity table (claims/README.md, "Sensitivity"): its columns (our reading, then
    each setting in the registry's order) and claim -> column -> outcome, claims in the
    registry's order. A setting's verdicts are
    labelled "X <setting>: <claim>"; the base tests' verdicts "<claim>". Empty when the run
    has no sensitivity test."""
    cells: dict[str, dict[str, str]] = {}
    columns: list[str] = []
    for c in claims:
        label = claim_label(c)
        if label.startswith("X ") and ": " in label:
            setting, claim = label[2:].split(": ", 1)
            if setting not in columns:
                columns.append(setting)
            cells.setdefault(claim, {})[setting] = c["outcome"]
    if not cells:
        return [], {}
    from lowent.claims import CLAIMS
    from lowent.claims.sensitivity import READINGS

    def in_order(known: list[str]):  # the registry's order, then any other
        return lambda x: (known.index(x) if x in known else len(known), x)

    columns.sort(key=in_order([s.label for s in READINGS.values()]))
    cells = dict(sorted(cells.items(), key=lambda kv: in_order(list(CLAIMS))(kv[0])))
    for c in claims:  # our reading of the same claims, where the run has it
        if claim_label(c) in cells:
            cells[claim_label(c)][OURS] = c["outcome"]
    return [OURS, *columns], cells


def _settings_table(claims: list[dict]) -> str:
    columns, cells = setting_grid(claims)
    if not cells:
        return ""
    head = "".join(f"<th>{_e(col)}</th>" for col in columns)
    rows = "".join(
        f"<tr><th>{_e(claim)}</th>" + "".join(
            f"<td class='verdict' style='color:{_COLOURS.get(o, '#1f2328')}'>{_e(o)}</td>"
            for o in (row.get(col, "-") for col in columns)) + "</tr>"
        for claim, row in cells.items())
    return ("<h2>Sensitivity: each verdict under other readings of the setting</h2>"
            "<p>One choice changed at a time (claims/README.md, Sensitivity); the first column "
            "is the reading the suite uses, '-' where this run did not test it.</p>"
            f"<table class='settings'><tr><th>claim</th>{head}</tr>{rows}</table>")


def _env_value(key: str, value) -> str:
    """An environment entry as text: a machine record as one line (lowent.machine), the run
    machines as their lines (and how many, when a shared cache mixed several)."""
    from lowent.machine import fingerprint

    if key == "run stacks" and isinstance(value, list):
        return stacks_summary(value)
    if key == "run machines" and isinstance(value, list):
        lines = [fingerprint(m) for m in value] or ["no runs read"]
        return (f"mixed: {len(lines)} machines: " if len(lines) > 1 else "") + "; ".join(lines)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def render(results: dict) -> str:
    """The whole HTML page (no external resources; figures are inline PNG data URIs)."""
    env, claims = results.get("environment", {}), results.get("claims", [])
    counts = {o: sum(c["outcome"] == o for c in claims) for o in OUTCOMES}
    counts["does not reproduce"] = sum(c["outcome"] == "does not reproduce" for c in claims)
    survives = across_claims(claims)
    env_rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_env_value(k, v))}</td></tr>"
                       for k, v in env.items())
    rows, sections = [], []
    for i, c in enumerate(claims):
        v = c.get("verdict") or {}
        colour = _COLOURS[c["outcome"]]
        anchor = f"claim-{i}"
        status = v.get("status")
        notes = [n for n in (
            UNSTABLE if status == UNSTABLE else "",
            f"{CHANGED} (expected {v.get('expected')}): the test failed" if status == CHANGED
            else "",
            "outcome unstable across machines (recorded)" if across_machines(c["nodeid"])
            else "") if n]
        marks = "".join(f"<br><small>{_e(n)}</small>" for n in notes)
        rows.append(
            f"<tr><td><a href='#{anchor}'>{_e(claim_label(c) or '-')}</a></td>"
            f"<td><code>{_e(c.get('marker', ''))}</code></td><td>{_e(c.get('sentence', ''))}</td>"
            f"<td class='verdict' style='color:{colour}'>{_e(c['outcome'])}{marks}</td>"
            f"<td>{_e(expected_cell(v))}</td>{_stat_cells(v or None)}<td>{_num(v.get('min_p'))}</td>"
            f"<td>{_across(c, survives)}</td><td>{_e(v.get('ours', ''))}</td>"
            f"<td>{_e(v.get('paper', ''))}</td><td>{_e(c.get('engine', ''))}</td></tr>")
        figs = "".join(
            f"<figure><img alt='{_e(f.get('title', 'figure'))}' src='data:image/png;base64,"
            f"{base64.b64encode(figure_png(f)).decode()}'><figcaption>{_e(f.get('title', ''))}"
            f"</figcaption></figure>" for f in c.get("figures", []))
        label, text = _reason(c)
        reason = (f"<p class='reason'><b>{label}:</b> {_e(text)}</p>" if text else "")
        sections.append(
            f"<section id='{anchor}'><h2>{_e(claim_label(c) or c['nodeid'])} "
            f"<span style='color:{colour}'>{_e(c['outcome'])}</span></h2>"
            f"<p><code>{_e(c['nodeid'])}</code> ({_num(c.get('duration'), '.1f')} s)</p>"
            f"<blockquote>{_e(c.get('doc', ''))}</blockquote>"
            f"<p><b>Tested:</b> {_e(v.get('statement', ''))}</p>"
            f"<p><b>Training:</b> {_e(c.get('engine') or '-')}</p>"
            + (f"<p><b>Expected:</b> {_e(expected_cell(v))}; the stability rule: "
               f"{_e(v.get('status', ''))}. {_e(across_machines(c['nodeid']))}</p>"
               if v.get("stability") else "")
            + (f"<p><b>Why {_e(c['outcome'])}:</b> {_e(v['reason'])}</p>" if v.get("reason")
               else "") + f"{reason}"
            f"{_parts_table(v)}<div class='figs'>{figs}</div></section>")
    summary = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
    return _PAGE.format(
        title="lowent claims report", summary=_e(summary or "no claim tests ran"),
        env=env_rows, rows="".join(rows), settings=_settings_table(claims),
        sections="".join(sections))


def write(results: dict, html_path: str | Path) -> tuple[Path, Path]:
    """Write the HTML page and results.json beside it; returns both paths."""
    html_path = Path(html_path)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    json_path = html_path.with_name("results.json")
    json_path.write_text(json.dumps(results, indent=1))
    html_path.write_text(render(results), encoding="utf-8")
    return html_path, json_path


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1400px; color: #1f2328; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }}
th, td {{ border: 1px solid #d0d7de; padding: 0.3em 0.5em; text-align: left;
          vertical-align: top; }}
th {{ background: #f6f8fa; }}
td.verdict {{ font-weight: bold; white-space: nowrap; }}
blockquote {{ border-left: 3px solid #d0d7de; margin: 0.5em 0; padding-left: 1em;
              color: #57606a; white-space: pre-wrap; }}
section {{ border-top: 1px solid #d0d7de; margin-top: 2em; }}
.figs {{ display: flex; flex-wrap: wrap; gap: 1em; }}
figure {{ margin: 0; }} figcaption {{ font-size: 0.8em; color: #57606a; }}
.reason {{ background: #fff8c5; padding: 0.5em; }}
</style></head><body>
<h1>{title}</h1>
<p>{summary}</p>
<h2>Environment</h2><table class="env">{env}</table>
<h2>Verdicts</h2>
<table class="verdicts"><tr><th>claim</th><th>marker</th><th>claim sentence</th>
<th>verdict</th><th>expected (share of predictive draws)</th><th>statistic</th><th>p-value</th>
<th>effect [CI]</th>
<th>smallest reachable p</th><th>holds after Holm over all claims</th><th>ours</th>
<th>paper</th><th>training</th></tr>{rows}</table>
{settings}
{sections}
</body></html>
"""
