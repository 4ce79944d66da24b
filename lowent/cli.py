"""Command line: ``python -m lowent train|bench|compare|report``.

Bad input exits with status 2 and one line on stderr naming the bad value.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lowent.config import SpecError

USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        raise SpecError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m lowent", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train one configuration for several seeds at once")
    t.add_argument("--model", default="transformer", help="transformer, gru or lstm")
    t.add_argument("--variant", default="full",
                   help="full, attention_only, attention_main, ffn_main or routed")
    t.add_argument("--d-model", type=int, default=64)
    t.add_argument("--layers", type=int, default=None, help="Transformer blocks (default 4)")
    t.add_argument("--norm", default="post", help="post (paper) or pre")
    t.add_argument("--seeds", default="0-7", help="e.g. 0-7 or 0,2,5")
    t.add_argument("--epochs", type=int, default=100)
    t.add_argument("--optimizer", default="adam")
    t.add_argument("--target", default="base", help="base, low or high")
    t.add_argument("--layout", default="trie",
                   help="trie or dedup (fast; one dropout mask per node), per_sample (the "
                        "paper's loop) or faithful (per-sample masks, shared work before them)")
    t.add_argument("--dropout", type=float, default=0.1)
    t.add_argument("--dtype", default="float32")
    t.add_argument("--log-every", type=int, default=0, help="probe dead neurons every k steps")
    t.add_argument("--device", default="cpu")
    t.add_argument("--out", required=True, help="directory for spec.json, trace.json, weights")
    b = sub.add_parser("bench", help="engine vs the straightforward torch.nn loop")
    b.add_argument("--steps", type=int, default=16, help="optimizer steps timed per side")
    b.add_argument("--device", default="cpu")
    b.add_argument("--json", default=None, help="also write the figures to this file")
    c = sub.add_parser("compare", help="verdict flips and metric shifts between two "
                                       "results.json (exit 1 on a flip)")
    c.add_argument("old", help="results.json of the reference run (e.g. the last PyTorch)")
    c.add_argument("new", help="results.json of the run to check")
    c.add_argument("--alpha", type=float, default=0.05, help="level of the shift tests (Holm)")
    r = sub.add_parser("report", help="rebuild the HTML claims report from a results.json")
    r.add_argument("results", help="a results.json written by the claims report")
    r.add_argument("out", help="the HTML file to write")
    return p


def _report(a) -> int:
    from lowent.compare import load
    from lowent.report import render

    Path(a.out).write_text(render(load(a.results)), encoding="utf-8")
    print(f"wrote {a.out}")
    return 0


def _train(a) -> int:
    import time

    from lowent.config import ModelSpec, RunSpec, TargetSpec, TrainSpec, parse_seeds
    from lowent.engine import resolve_device, train

    layers = a.layers if a.layers is not None else (4 if a.model == "transformer" else 1)
    spec = RunSpec(target=TargetSpec.named(a.target),
                   model=ModelSpec(kind=a.model, variant=a.variant, d_model=a.d_model,
                                   layers=layers, dropout=a.dropout, norm=a.norm),
                   train=TrainSpec(optimizer=a.optimizer, epochs=a.epochs, layout=a.layout,
                                   dtype=a.dtype, log_every=a.log_every),
                   seeds=parse_seeds(a.seeds))
    resolve_device(a.device)
    from lowent.cache import DiskCheckpoints, stamp

    # A killed run resumes from its last checkpoint when the same command is run again.
    ckpt = DiskCheckpoints(Path(a.out) / "checkpoint.pt", stamp(spec, a.device))
    t0 = time.perf_counter()
    run = train(spec, device=a.device, progress=True if sys.stderr.isatty() else "lines",
                checkpoints=ckpt,
                log=lambda line: print(line, file=sys.stderr, flush=True))
    run.save(a.out)
    ckpt.clear()
    H = run.per_epoch["entropy"][:, -1]
    print(f"trained {len(spec.seeds)} x {spec.model.kind}/{spec.model.variant} d={spec.model.d_model}"
          f" L={spec.model.layers} in {time.perf_counter() - t0:.1f} s; final H = "
          f"{H.mean():.4f} nats (target {run.target().entropy:.4f}); wrote {a.out}")
    return 0


def main(argv=None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command == "train":
            return _train(args)
        if args.command == "compare":
            from lowent.compare import main as compare_main

            return compare_main(args.old, args.new, args.alpha)
        if args.command == "report":
            return _report(args)
        from lowent.bench import main as bench_main

        return bench_main(args)
    except (SpecError, ValueError, RuntimeError) as exc:
        print(f"lowent: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
