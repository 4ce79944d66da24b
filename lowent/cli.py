"""lowent's command line: train, bench, compare, report, power, stability, baseline, cache.

``python -m lowent train|bench|bench-compare|bench-noise|compare|report|baseline|power|
stability|cache|machine``.

A usage error (an unknown name, an impossible size, an option that does not apply) exits with
status 2 and one line on stderr naming the bad value; a failure while running exits with 1
and one line (the traceback with ``--debug``).
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from lowent import __version__
from lowent.config import (DROPOUT, DTYPES, EPOCHS, LAYOUTS, MODEL_KINDS, NORMS, TARGETS,
                           VARIANTS, SpecError)

USAGE_ERROR = 2
RUN_ERROR = 1
BROKEN_PIPE = 141  # 128 + SIGPIPE: what a Unix tool's status is when its reader stops
DEVICES = ("cpu", "cuda")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        raise SpecError(message)


def _at_least(low: int):
    """An argparse type: a whole number >= `low`, else one line naming the value."""
    def whole(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if n < low:
            raise argparse.ArgumentTypeError(f"{n} is less than {low}")
        return n
    whole.__name__ = f"whole number >= {low}"
    return whole


def _level(text: str) -> float:
    """An argparse type: a test level strictly between 0 and 1 (nan and inf are neither)."""
    try:
        a = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < a < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a level strictly between 0 and 1")
    return a


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default (and its choices, which argparse lists itself)."""


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m lowent", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"lowent {__version__}")
    p.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in (_add_train, _add_bench, _add_reports, _add_tools):
        add(sub)
    return p


def _add_train(sub) -> None:
    from lowent.optim import OPTIMIZERS

    t = sub.add_parser("train", help="train one configuration for several seeds at once",
                       formatter_class=_Help)
    t.add_argument("--model", default="transformer", choices=MODEL_KINDS, help="model kind")
    t.add_argument("--variant", default=None, choices=VARIANTS,
                   help="Transformer variant (Transformer only; default full)")
    t.add_argument("--d-model", type=_at_least(1), default=64, help="embedding (and RNN hidden) size d")
    t.add_argument("--layers", type=_at_least(1), default=None,
                   help="Transformer blocks (Transformer only; default 4)")
    t.add_argument("--norm", default=None, choices=NORMS,
                   help="LayerNorm placement (Transformer only; default post, the paper's)")
    t.add_argument("--seeds", default="0-7", help="model seeds, e.g. 0-7 or 0,2,5")
    t.add_argument("--epochs", type=_at_least(1), default=EPOCHS,
                   help="passes over the 65,536 sequences")
    t.add_argument("--optimizer", default="adam", choices=tuple(OPTIMIZERS),
                   help="optimizer (claims/SETTING.md section 4)")
    t.add_argument("--target", default="base", choices=tuple(TARGETS),
                   help="target distribution")
    t.add_argument("--layout", default="trie", choices=LAYOUTS,
                   help="trie or dedup (fast; one dropout mask per node), per_sample (the "
                        "paper's loop) or faithful (per-sample masks, shared work before them)")
    t.add_argument("--dropout", type=float, default=DROPOUT, help="dropout probability")
    t.add_argument("--dtype", default="float32", choices=DTYPES, help="training precision")
    t.add_argument("--log-every", type=_at_least(0), default=0,
                   help="also log the loss and probe dead neurons every k steps (0: per epoch)")
    t.add_argument("--device", default="cpu", choices=DEVICES, help="where to train")
    t.add_argument("--out", required=True,
                   help="directory for spec.json, trace.json, weights (and the checkpoint of "
                        "an unfinished run)")


def _add_bench(sub) -> None:
    b = sub.add_parser("bench", help="engine vs the straightforward torch.nn loop",
                       formatter_class=_Help)
    b.add_argument("--steps", type=_at_least(1), default=16, help="optimizer steps timed per side")
    b.add_argument("--repeat", type=_at_least(1), default=1,
                   help="measure each configuration this many times (baseline and layouts in "
                        "turn) and print each ratio's median and range")
    b.add_argument("--device", default="cpu", choices=DEVICES, help="where to time")
    b.add_argument("--threads", type=_at_least(1), default=None,
                   help="torch threads for both sides (default: torch's own count; the claims "
                        "suite runs one per xdist worker)")
    b.add_argument("--json", default=None, help="also write the figures to this file")
    bc = sub.add_parser("bench-compare", help="median times of two saved pytest-benchmark runs "
                                              "(exit 1 on a slowdown beyond the threshold)",
                        formatter_class=_Help)
    bc.add_argument("old", help="the reference run's JSON (.benchmarks/..., e.g. torch 2.13.0)")
    bc.add_argument("new", help="the JSON of the run to check")
    bc.add_argument("--threshold", type=float, default=None,
                    help="fail on a median slower by more than this fraction (default: "
                         "lowent.benchcmp.THRESHOLD, twice the measured run-to-run noise)")
    bn = sub.add_parser("bench-noise", help="run-to-run spread of each benchmark's median over "
                                            "repeated saved runs of the same code")
    bn.add_argument("runs", nargs="+", help="two or more pytest-benchmark JSON files")


def _add_reports(sub) -> None:
    c = sub.add_parser("compare", help="verdict flips, errors and metric shifts between two "
                                       "results.json (exit 1 on a flip or an error)",
                       formatter_class=_Help)
    c.add_argument("old", help="results.json of the reference run (e.g. the last PyTorch)")
    c.add_argument("new", help="results.json of the run to check")
    c.add_argument("--alpha", type=_level, default=0.05,
                   help="level of the shift tests (Holm) and of the stability rule that judges "
                        "a flip")
    c.add_argument("--allow-different", action="store_true",
                   help="compare reports of different results schemas or profiles")
    r = sub.add_parser("report", help="rebuild the HTML claims report from a results.json")
    r.add_argument("results", help="a results.json written by the claims report")
    r.add_argument("out", help="the HTML file to write")
    k = sub.add_parser("baseline", help="write a results.json as a baseline for compare "
                                        "(baselines/: without the figures' curves)",
                       formatter_class=_Help)
    k.add_argument("results", help="a results.json written by the claims report")
    k.add_argument("out", help="the baseline file to write")
    w = sub.add_parser("power", help="how often each claim's test would give each outcome "
                                     "with fresh seeds (bootstrap of a results.json)",
                       formatter_class=_Help)
    w.add_argument("results", help="a results.json written by the claims report")
    w.add_argument("--seeds", type=_at_least(2), nargs="+", default=[5, 10],
                   help="seeds per simulated run")
    w.add_argument("--sims", type=_at_least(1), default=500,
                   help="simulated runs per claim and seed count")
    w.add_argument("--json", default=None, help="also write the table to this file")
    w.add_argument("--method", default="bootstrap", choices=("bootstrap", "parametric"),
                   help="draw fresh seeds from the measured ones (bootstrap) or from normal "
                        "(Poisson, Bernoulli) models at the measured means and SDs "
                        "(parametric); both are observed power")
    rp = sub.add_parser("replication", help="the confirmatory replication of L1 and F1: "
                        "parametric power at the smallest effect of interest, per seed count",
                        formatter_class=_Help)
    rp.add_argument("--seeds", type=_at_least(2), nargs="+", default=[5, 7, 10, 14],
                    help="fresh seeds per simulated run")
    rp.add_argument("--sims", type=_at_least(1), default=2000,
                    help="simulated runs per claim and seed count")
    rp.add_argument("--judge", default=None, metavar="RESULTS",
                    help="instead of the plan: the replication's verdict from the results.json "
                         "of the fresh seeds' claims run, with each part's test of an effect "
                         "smaller than the smallest effect of interest")
    st = sub.add_parser("stability", help="one table of each claim test's outcome and p-value "
                                          "over several results.json (machines, seed sets)")
    st.add_argument("runs", nargs="+", metavar="NAME=RESULTS",
                    help="a column's name and its results.json, e.g. native=reports/results.json")


def _add_tools(sub) -> None:
    ca = sub.add_parser("cache", help="what a run cache holds: runs by version, checkpoints "
                        "and whether each can still be resumed; --prune deletes those that "
                        "cannot", formatter_class=_Help)
    ca.add_argument("--cache", default=None,
                    help="the cache directory (default: $LOWENT_CACHE, else .lowent-cache)")
    ca.add_argument("--prune", action="store_true",
                    help="delete unreadable checkpoints, those of other versions and those "
                    "of stacks whose seeds all have entries (never entries, never a run being "
                    "trained)")
    pl = sub.add_parser("plan", help="the work list of a selection of claims (the runs "
                        "missing from the cache, each with its estimated cost), without "
                        "training; python -m lowent work trains one of its tasks",
                        formatter_class=_Help)
    pl.add_argument("--out", default="-",
                    help="write the plan here as JSON ('-': only print it); give it before "
                         "the selection")
    pl.add_argument("selection", nargs=argparse.REMAINDER,
                    help="pytest's arguments that select the claims, e.g. claims/ -m "
                         "low_entropy --lowent-profile paper --lowent-seeds 0-9 (default: "
                         "claims/)")
    wk = sub.add_parser("work", help="train one task of a plan and store it in the cache",
                        formatter_class=_Help)
    wk.add_argument("plan", help="a plan written by python -m lowent plan --out")
    wk.add_argument("--task", type=_at_least(0), required=True, help="the task's number")
    wk.add_argument("--cache", default=None,
                    help="store into this cache directory (default: the plan's cache; "
                         "entries merge by copying their directories into one cache)")
    wk.add_argument("--threads", type=_at_least(1), default=1,
                    help="torch threads (one, as a Ray task trains and as the plan's estimate "
                         "assumes; a task's bits may depend on its thread count)")
    m = sub.add_parser("machine", help="what decides the bits of a run here: PyTorch's build, "
                                       "the CPU, ATen's capability, the BLAS and its settings",
                       formatter_class=_Help)
    m.add_argument("--device", default="cpu", choices=DEVICES, help="the device to describe")


def _plan(a) -> int:
    import pytest

    from lowent.plan import COMMAND_ARGS

    selection = a.selection or ["claims/"]
    if any(x.startswith(("-n", "--numprocesses", "--lowent-plan")) for x in selection):
        raise SpecError("python -m lowent plan runs one pytest process and sets --lowent-plan "
                        "itself; leave out -n and --lowent-plan")
    return int(pytest.main([*COMMAND_ARGS, f"--lowent-plan={a.out}", *selection]))


def _work(a) -> int:
    import torch

    from lowent.plan import read_plan, work

    torch.set_num_threads(a.threads)
    work(read_plan(a.plan), a.task, a.cache, log=lambda line: print(line, flush=True))
    return 0


def _machine(a) -> int:
    import torch

    from lowent.host import resolve_device
    from lowent.machine import machine

    resolve_device(a.device)
    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU"
    print(f"PyTorch {torch.__version__} ({build} build)")
    for key, value in machine(a.device).items():
        print(f"{key}: {value}")
    return 0


def _report(a) -> int:
    from lowent.compare import load
    from lowent.report import render

    Path(a.out).write_text(render(load(a.results)), encoding="utf-8")
    print(f"wrote {a.out}")
    return 0


def _train(a) -> int:
    import time

    from lowent.config import ModelSpec, RunSpec, TargetSpec, TrainSpec
    from lowent.seedtext import read_seeds
    from lowent.engine import train
    from lowent.host import resolve_device

    if a.model != "transformer":
        given = [f"--{n}" for n in ("variant", "layers", "norm") if getattr(a, n) is not None]
        if given:
            raise SpecError(f"{', '.join(given)} applies to the Transformer only, not {a.model}")
    layers = a.layers if a.layers is not None else (4 if a.model == "transformer" else 1)
    spec = RunSpec(target=TargetSpec.named(a.target),
                   model=ModelSpec(kind=a.model, variant=a.variant or "full",
                                   d_model=a.d_model, layers=layers, dropout=a.dropout,
                                   norm=a.norm or "post"),
                   train=TrainSpec(optimizer=a.optimizer, epochs=a.epochs, layout=a.layout,
                                   dtype=a.dtype, log_every=a.log_every),
                   seeds=read_seeds(a.seeds))
    resolve_device(a.device)
    from lowent.paths import writable_dir

    writable_dir(a.out, "--out")  # before any training: a bad --out loses nothing
    from lowent.cache import DiskCheckpoints, stamp

    from lowent.bench import estimate_seconds
    from lowent.progress import describe

    # A killed run resumes from its last checkpoint when the same command is run again.
    ckpt = DiskCheckpoints(Path(a.out) / "checkpoint.pt", stamp(spec, a.device))
    print(f"training {describe(spec)} on {a.device} (estimated "
          f"{estimate_seconds(spec) / 60:.0f} min on one CPU thread); writing {a.out}",
          file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    run = train(spec, device=a.device, progress="bar" if sys.stderr.isatty() else "lines",
                checkpoints=ckpt,
                log=lambda line: print(line, file=sys.stderr, flush=True))
    from lowent.machine import machine

    run.meta["machine"] = machine(a.device)  # where it was trained (spec.json)
    run.save(a.out)
    ckpt.clear()
    H = run.per_epoch["entropy"][:, -1]
    print(f"trained {describe(spec)} in {time.perf_counter() - t0:.1f} s; final H = "
          f"{H.mean():.4f} nats (target {run.target().entropy:.4f}); wrote {a.out}")
    return 0


def _compare(a) -> int:
    from lowent.compare import main as compare_main

    return compare_main(a.old, a.new, a.alpha, a.allow_different)


def _bench_compare(a) -> int:
    from lowent import benchcmp

    threshold = benchcmp.THRESHOLD if a.threshold is None else a.threshold
    if not threshold >= 0:
        raise SpecError(f"--threshold must be a fraction >= 0, not {threshold}")
    return benchcmp.main_compare(a.old, a.new, threshold)


def _bench_noise(a) -> int:
    from lowent import benchcmp

    return benchcmp.main_noise(a.runs)


def _baseline(a) -> int:
    import json

    from lowent.compare import baseline, load

    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(baseline(load(a.results)), indent=1))
    print(f"wrote {a.out}")
    return 0


def _cache(a) -> int:
    from lowent.inventory import main as inventory_main

    return inventory_main(a)


def _stability(a) -> int:
    from lowent.compare import stability_main

    return stability_main(a.runs)


def _power(a) -> int:
    from lowent.power import main as power_main

    return power_main(a)


def _replication(a) -> int:
    from lowent.replication import main as replication_main

    return replication_main(a)


def _bench(a) -> int:
    from lowent.bench import main as bench_main

    return bench_main(a)


COMMANDS = {"train": _train, "bench": _bench, "bench-compare": _bench_compare,
            "bench-noise": _bench_noise, "compare": _compare, "report": _report,
            "baseline": _baseline, "power": _power,
            "replication": _replication, "stability": _stability, "cache": _cache,
            "machine": _machine, "plan": _plan, "work": _work}


def _one_line(text: str) -> str:
    """`text` on one line: a value the user gave may hold line breaks or control characters,
    shown escaped (``\\n``, ``\\x85``) so the error stays one line naming it."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _error(message: str) -> None:
    print(f"lowent: error: {_one_line(message)}", file=sys.stderr)


def main(argv=None) -> int:
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        parser = _parser()
        args, extra = parser.parse_known_args(argv)
        if extra and args.command != "plan":
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        if args.command == "plan":  # pytest's own options before the first path
            args.selection = extra + args.selection
    except SpecError as exc:
        _error(str(exc))
        return USAGE_ERROR
    try:
        if getattr(args, "json", None):  # any command's --json, checked before its work
            from lowent.paths import writable_file

            writable_file(args.json, "--json")
        status = COMMANDS[args.command](args)
        sys.stdout.flush()  # a reader that stopped early is found here, not at exit
        return status
    except BrokenPipeError:  # the reader stopped early (| head): no error, like a Unix tool
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second report
        return BROKEN_PIPE
    except (SpecError, ValueError) as exc:  # bad input found while building the run
        _error(str(exc))
        return USAGE_ERROR
    except Exception as exc:  # noqa: BLE001 - a failure while running: one line, exit 1
        if debug:
            traceback.print_exc()
        _error(f"{type(exc).__name__}: {exc}")
        return RUN_ERROR
