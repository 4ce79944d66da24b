"""Compare saved pytest-benchmark runs (``benchmarks/``): speed across PyTorch versions.

``python -m lowent bench-compare OLD.json NEW.json`` prints, per benchmark both runs hold,
the median time of each and their ratio, and exits 1 when some median is slower than OLD's
by more than the threshold, where the two runs are like for like (SAME: the CPU model, the
device, threads and workload; a slowdown between unlike runs is shown, not failed).
``python -m lowent bench-noise RUN.json ...`` measures what that threshold must exceed: the
spread of each benchmark's median over repeated runs of the same code on the same machine
(the largest median over the smallest, minus one).

The default threshold, :data:`THRESHOLD`, comes from that measurement (README, "Speed across
versions"): five runs of ``benchmarks/`` (one torch thread, 40 rounds each) on an idle 2-core
machine spread each median by at most 13%; the threshold is that doubled and rounded up, so
that run-to-run noise does not fail the check and a slowdown of a third does.
"""
from __future__ import annotations

import json
from pathlib import Path

THRESHOLD = 0.30  # fail on a median slowdown beyond 30%: twice the measured 13% noise, rounded up
# what must match to compare two timings: the benchmark's extra_info and the CPU's model
# (pytest-benchmark's machine_info); a slowdown between unlike runs is shown, never failed
SAME = ("device", "threads", "models", "flops", "cpu")


class BenchFileError(ValueError):
    """A file that is not a pytest-benchmark run (one line, for the CLI)."""


def load(path: str | Path) -> dict:
    """{benchmark name: {"median": s, "rounds": n, "info": extra_info}} of a saved run
    (raises BenchFileError, one line, for a missing file or another format)."""
    try:
        data = json.loads(Path(path).read_text())
        rows = data["benchmarks"]
        cpu = ((data.get("machine_info") or {}).get("cpu") or {}).get("brand_raw")
        out = {b["name"]: {"median": float(b["stats"]["median"]),
                           "rounds": int(b["stats"]["rounds"]),
                           "info": {**b.get("extra_info", {}), "cpu": cpu}}
               for b in rows}
    except FileNotFoundError:
        raise BenchFileError(f"{path}: no such file") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BenchFileError(f"{path}: not a pytest-benchmark run ({type(exc).__name__}: "
                             f"{exc})") from None
    if not out:
        raise BenchFileError(f"{path}: holds no benchmarks")
    return out


def _torch(run: dict) -> str:
    versions = {b["info"].get("torch", "?") for b in run.values()}
    return ", ".join(sorted(versions))


def compare(old: dict, new: dict, threshold: float = THRESHOLD) -> tuple[list[str], bool]:
    """Lines of the comparison and whether some median slowed down beyond `threshold`."""
    if not set(old) & set(new):
        raise BenchFileError("the two runs share no benchmark")
    lines = [f"old: torch {_torch(old)}; new: torch {_torch(new)}; fail above "
             f"{threshold:.0%} slower (median)"]
    failed = False
    for name in sorted(set(old) & set(new)):
        o, n = old[name], new[name]
        ratio = n["median"] / o["median"]
        differ = [k for k in SAME if o["info"].get(k) != n["info"].get(k)]
        slow = ratio - 1 > threshold
        failed |= slow and not differ
        lines.append(f"  {name:<42} {o['median'] * 1e3:9.2f} ms -> {n['median'] * 1e3:9.2f} ms"
                     f"  x{ratio:5.2f}"
                     + ("" if not slow else "  SLOWER" if not differ else
                        "  slower, not judged (not like for like)"))
        if differ:
            what = ", ".join(f"{k} {o['info'].get(k)} vs {n['info'].get(k)}" for k in differ)
            lines.append(f"    (not like for like: {what})")
    for name in sorted(set(old) ^ set(new)):
        lines.append(f"  {name:<42} only in {'old' if name in old else 'new'}")
    return lines, failed


def noise(runs: list[dict]) -> tuple[list[str], float]:
    """Lines of each benchmark's spread over `runs` (repeats of one version) and the largest."""
    if len(runs) < 2:
        raise BenchFileError("bench-noise needs at least two runs")
    names = sorted(set.intersection(*(set(r) for r in runs)))
    if not names:
        raise BenchFileError("the runs share no benchmark")
    lines, worst = [f"{len(runs)} runs; spread = largest median / smallest median - 1"], 0.0
    for name in names:
        med = [r[name]["median"] for r in runs]
        spread = max(med) / min(med) - 1
        worst = max(worst, spread)
        lines.append(f"  {name:<42} median {min(med) * 1e3:9.2f} to {max(med) * 1e3:9.2f} ms"
                     f"  spread {spread:6.1%}")
    lines.append(f"largest spread {worst:.1%}")
    return lines, worst


def main_compare(old: str, new: str, threshold: float) -> int:
    lines, failed = compare(load(old), load(new), threshold)
    print("\n".join(lines))
    if failed:
        print(f"FAIL: a median is more than {threshold:.0%} slower than in {old}")
    return 1 if failed else 0


def main_noise(paths: list[str]) -> int:
    lines, _ = noise([load(p) for p in paths])
    print("\n".join(lines))
    return 0
