"""Train one RunSpec for all its seeds at once, and evaluate models exactly.

Every step is one forward over a layout (``trie`` by default, see :mod:`lowent.contexts`)
with the loss sum_(position, next char) count * -ln p / (B T) per model, summed over the E
stacked models; their parameters are disjoint and the optimizers element-wise, so this is
exactly E independent training runs. After every epoch the models are evaluated exactly in
float64 on all contexts (entropy, KL, parts, neuron probes); with ``log_every = k`` the
per-step loss and the dead-neuron count every k steps are recorded too.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.func import functional_call

from lowent.config import RunSpec
from lowent.contexts import (Layout, all_contexts, faithful_batching, per_sample_counts,
                             sequences_layout, training_batching)
from lowent.metrics import epoch_metrics
from lowent.host import environment, keep_freed_memory, resolve_device
from lowent.models import build_model
from lowent.optim import FlatOptimizer
from lowent.probes import activation_counts, epoch_probes, ffn_active
from lowent.target import Target, build_target

EPOCH_METRICS = ("loss", "loss_eval", "entropy", "kl", "entropy_sparse", "entropy_nonsparse",
                 "mass_sparse", "dead_fraction", "active_fraction")


DROPOUT_STREAM = 0x64726F70  # "drop": tells the dropout stream of a seed from its others


def dropout_generator(seed: int, device) -> torch.Generator:
    """The generator of model seed `seed`'s dropout masks, keyed by the seed alone (as its
    initial weights and minibatch order are), so that a seed trains the same in any stack,
    with or without logging, and a shorter run is the start of a longer one."""
    gen = torch.Generator(device=device)
    gen.manual_seed(int(np.random.SeedSequence([DROPOUT_STREAM, int(seed)]).generate_state(1)[0]))
    return gen


def minibatch_order(target: Target, seeds, batch_size: int, epoch: int) -> np.ndarray:
    """Sequence ids of every step of an epoch for every seed: [steps, E, B] int64.

    Model seed s shuffles the data set with numpy's PCG64 seeded by (target seed, s, epoch);
    the last partial batch is dropped (65,536 / 512 = 128 full steps).
    """
    steps = len(target.data) // batch_size
    order = np.stack([
        target.data[np.random.default_rng([target.spec.seed, s, epoch]).permutation(len(target.data))]
        [: steps * batch_size].reshape(steps, batch_size) for s in seeds], axis=1)
    return order


def nll(logits: torch.Tensor, counts: torch.Tensor, denom: float) -> torch.Tensor:
    """Per-model mean cross-entropy: -sum counts * log_softmax(logits) / denom.  Returns [E]."""
    return -(counts * torch.log_softmax(logits, dim=-1)).sum(dim=(1, 2)) / denom


@torch.no_grad()
def evaluate(model: torch.nn.Module, vocab: int, length: int, device=None, dtype=torch.float64,
             trace: bool = True):
    """Exact conditional table of every model, in eval mode, on all contexts.

    Returns (table [E, n_contexts, V] float64 numpy log-probabilities, trace dict of the
    forward). The forward runs with parameters cast to `dtype` (float64 by default).
    """
    was_training = model.training
    model.eval()
    try:
        first = next(model.parameters())
        layout = all_contexts(vocab, length).to(device or first.device)
        state = {k: v.to(dtype) for k, v in
                 [*model.named_parameters(), *model.named_buffers()]}
        logits, rec = functional_call(model, state, (layout,), {"trace": True})
        table = torch.log_softmax(logits.double(), dim=-1).cpu().numpy()
    finally:
        model.train(was_training)
    return (table, rec) if trace else table


@torch.no_grad()
def dead_counts(model: torch.nn.Module, layout: Layout, vocab: int, length: int) -> np.ndarray:
    """[E] number of FFN neurons never active on any input (model precision, eval mode)."""
    was_training = model.training
    model.eval()
    try:
        _, rec = model(layout, trace=True)
    finally:
        model.train(was_training)
    active = ffn_active(rec)
    if active is None:
        return np.full(model.n_models, np.nan)
    return (activation_counts(active, vocab, length) == 0).sum(-1).astype(np.float64)


@dataclass
class Run:
    """A trained RunSpec: its trace, its final weights and its final exact table."""

    spec: RunSpec
    per_epoch: dict[str, np.ndarray]  # name -> [E, epochs]; names in EPOCH_METRICS
    per_step: dict[str, np.ndarray] = field(default_factory=dict)  # step [S], loss/dead_count [E, S]
    state: dict[str, torch.Tensor] = field(default_factory=dict)  # stacked weights (CPU)
    table: np.ndarray | None = None  # [E, n_contexts, V] final log-conditionals, float64
    meta: dict = field(default_factory=dict)  # versions, device, wall time

    @property
    def seeds(self) -> tuple[int, ...]:
        return self.spec.seeds

    def target(self) -> Target:
        return build_target(self.spec.target)

    def model(self, device="cpu") -> torch.nn.Module:
        """The E trained models, rebuilt from the stored weights (training dtype, eval mode)."""
        m = build_model(self.spec.model, self.spec.seeds, self.spec.target.vocab,
                        self.spec.target.length)
        m.to(getattr(torch, self.spec.train.dtype)).load_state_dict(self.state)
        return m.to(device).eval()

    def save(self, out: str | Path) -> None:
        """Write spec.json, trace.json and weights.safetensors into directory `out`."""
        from safetensors.torch import save_file

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "spec.json").write_text(json.dumps(
            {"spec": self.spec.to_dict(), "key": self.spec.key(), **self.meta}, indent=1))
        trace = {"seeds": list(self.seeds),
                 "per_epoch": {k: _jsonable(v) for k, v in self.per_epoch.items()},
                 "per_step": {k: _jsonable(v) for k, v in self.per_step.items()}}
        (out / "trace.json").write_text(json.dumps(trace))
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.state.items()}
        tensors["table"] = torch.as_tensor(self.table)
        save_file(tensors, str(out / "weights.safetensors"))

    @classmethod
    def load(cls, out: str | Path) -> "Run":
        """Read a directory written by :meth:`save` (raises on missing or malformed files)."""
        from safetensors.torch import load_file

        out = Path(out)
        meta = json.loads((out / "spec.json").read_text())
        spec = RunSpec.from_dict(meta.pop("spec"))
        meta.pop("key", None)
        trace = json.loads((out / "trace.json").read_text())
        tensors = load_file(str(out / "weights.safetensors"))
        table = tensors.pop("table").numpy()
        per_epoch = {k: _from_json(v) for k, v in trace["per_epoch"].items()}
        per_step = {k: _from_json(v) for k, v in trace["per_step"].items()}
        return cls(spec=spec, per_epoch=per_epoch, per_step=per_step, state=tensors,
                   table=table, meta=meta)


def _jsonable(a: np.ndarray) -> list:
    a = np.asarray(a, dtype=np.float64)
    if np.all(np.isfinite(a)):
        return a.tolist()
    return np.where(np.isfinite(a), a, None).tolist()  # JSON has no NaN: write null


def _from_json(v) -> np.ndarray:
    return np.array(v, dtype=np.float64)  # None (NaN/inf written as null) reads back as nan


class Trainer:
    """The state of one training run: target, stacked models, optimizer, batching.

    ``train`` drives it epoch by epoch; the benchmark times :meth:`steps` alone.
    """

    def __init__(self, spec: RunSpec, device="cpu"):
        keep_freed_memory()
        self.spec, self.device = spec, resolve_device(device)
        self.dtype = getattr(torch, spec.train.dtype)
        self.target = target = build_target(spec.target)
        self.V, self.T, self.B = target.vocab, target.length, spec.train.batch_size
        self.E = len(spec.seeds)
        self.model = build_model(spec.model, spec.seeds, self.V, self.T).to(
            device=self.device, dtype=self.dtype)
        self.model.train()
        # Model e draws its dropout masks from a generator of its own seed (dropout_generator),
        # so its trajectory does not depend on the seeds stacked beside it.
        self.generators = [dropout_generator(s, self.device) for s in spec.seeds]
        for m in self.model.modules():
            if hasattr(m, "generators"):
                m.generators = self.generators
        self.opt = FlatOptimizer(spec.train.optimizer, self.model)
        kind = spec.train.layout
        self.batching = self.faithful = None
        if kind == "faithful":
            self.faithful = faithful_batching(target)
        elif kind != "per_sample":
            self.batching = training_batching(target, kind)
        self.layout = self.batching.layout.to(self.device) if self.batching else None
        self.eval_layout = all_contexts(self.V, self.T).to(self.device)
        self.steps_per_epoch = len(target.data) // self.B
        self.done = 0  # optimizer steps taken
        self.probe_steps: list[int] = []  # with log_every = k: steps at which dead counts were taken
        self.probe_dead: list[np.ndarray] = []  # [E] dead-neuron counts at those steps

    def batch_loss(self, seq_ids: np.ndarray, counts: torch.Tensor | None = None) -> torch.Tensor:
        """Per-model training loss [E] of minibatches seq_ids [E, B] in this run's layout.

        `counts` ([E, M, V], trie/dedup only) may be passed precomputed.
        """
        V, T, dev, dtype = self.V, self.T, self.device, self.dtype
        if self.batching is not None:
            layout = self.layout
            if counts is None:
                counts = torch.as_tensor(self.batching.counts(seq_ids), dtype=dtype, device=dev)
        else:  # per_sample and faithful: one row of B sequences per model
            if self.faithful is not None:
                layout = self.faithful.faithful(seq_ids).to(dev)
            else:
                layout = sequences_layout(seq_ids, V, T).to(dev)
            counts = torch.as_tensor(per_sample_counts(seq_ids, V, T), dtype=dtype, device=dev)
        return nll(self.model(layout), counts, seq_ids.shape[-1] * T)

    def steps(self, epoch: int, n: int) -> np.ndarray:
        """Take the first n steps of `epoch`; returns their per-model losses [n, E] (float64)."""
        order = minibatch_order(self.target, self.spec.seeds, self.B, epoch)[:n]  # [n, E, B]
        counts = [None] * n
        if self.batching is not None:  # all counts of the epoch at once
            counts = torch.as_tensor(self.batching.counts(order), dtype=self.dtype,
                                     device=self.device)
        k = self.spec.train.log_every
        losses = []
        for i in range(n):
            loss = self.batch_loss(order[i], counts[i])  # [E]
            self.opt.zero_grad()
            loss.sum().backward()
            self.opt.step()
            losses.append(loss.detach())
            if k and self.done % k == 0:
                self.probe_steps.append(self.done)
                self.probe_dead.append(dead_counts(self.model, self.eval_layout, self.V, self.T))
            self.done += 1
        return torch.stack(losses).cpu().numpy().astype(np.float64)

    def state(self) -> dict:
        """Everything a resumed run needs to take the same next steps: the weights and the
        optimizer's state (one flat buffer each), every dropout generator's state, the step
        count and the dead-neuron probes so far. Tensors on the CPU, plain Python otherwise."""
        opt = self.opt.optimizer.state_dict()
        return {"done": self.done, "flat": self.opt.flat.detach().cpu().clone(),
                "optimizer": {"state": {k: {n: v.cpu().clone() if torch.is_tensor(v) else v
                                            for n, v in st.items()}
                                        for k, st in opt["state"].items()},
                              "param_groups": opt["param_groups"]},
                "generators": [g.get_state() for g in self.generators],
                "probe_steps": list(self.probe_steps),
                "probe_dead": [torch.as_tensor(a) for a in self.probe_dead]}

    def load_state(self, state: dict) -> None:
        """Continue from a :meth:`state` of a Trainer of the same spec."""
        with torch.no_grad():
            self.opt.flat.copy_(state["flat"])
        self.opt.optimizer.load_state_dict(state["optimizer"])
        for g, st in zip(self.generators, state["generators"], strict=True):
            g.set_state(st)
        self.done = int(state["done"])
        self.probe_steps = list(state["probe_steps"])
        self.probe_dead = [t.numpy() for t in state["probe_dead"]]

    def evaluate(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Exact float64 table [E, n_contexts, V] and the per-epoch metrics and probes ([E] each)."""
        table, rec = evaluate(self.model, self.V, self.T, self.device)
        return table, {**epoch_metrics(self.target.p_tgt, table),
                       **epoch_probes(rec, self.V, self.T, self.E)}


CHECKPOINT_EVERY = 5  # epochs between checkpoints of a run trained with a Checkpoints store


class Checkpoints:
    """Where a run keeps its latest checkpoint: ``load()`` returns the last one saved (None if
    there is none or it is unusable), ``save(state)`` replaces it atomically, ``clear()``
    drops it once the run is done. The cache and the CLI implement it on disk."""

    def load(self) -> dict | None:  # pragma: no cover - interface
        raise NotImplementedError

    def save(self, state: dict) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def clear(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


PROGRESS = ("none", "bar", "lines")  # train()'s progress: nothing, a tqdm bar, log lines


def train(spec: RunSpec, device="cpu", progress: str = "none", steps: int | None = None,
          checkpoints: Checkpoints | None = None, every: int = CHECKPOINT_EVERY,
          log=None) -> Run:
    """Train all seeds of `spec` together and return the Run.

    Args:
        spec: the configuration; ``spec.seeds`` gives the E stacked models.
        device: "cpu" (default) or "cuda".
        progress: "bar" shows a tqdm bar over epochs; "lines" sends a line to `log` after
            every tenth of the epochs (for logs and pipes, where a bar prints nothing useful).
        steps: stop after this many optimizer steps (tests); None runs every epoch.
        checkpoints: with a store, the run saves a checkpoint every `every` epochs and, when
            the store holds one, resumes from it; the resumed run takes exactly the steps of an
            uninterrupted one (tests/test_resume.py).
        log: called with a line of text when a run resumes (and with progress="lines").
    """
    import time

    from tqdm import tqdm

    if progress not in PROGRESS:
        raise ValueError(f"unknown progress {progress!r}; use one of {', '.join(PROGRESS)}")
    t0 = time.perf_counter()
    tr = Trainer(spec, device)
    total = tr.steps_per_epoch * spec.train.epochs if steps is None else steps
    epochs = -(-total // tr.steps_per_epoch)
    per_epoch = {name: np.zeros((tr.E, epochs)) for name in EPOCH_METRICS}
    start, wall_before, step_loss = _resume(tr, checkpoints, per_epoch, log)
    with tqdm(total=epochs, initial=start, disable=progress != "bar", unit="epoch",
              desc=spec.model.kind) as bar:
        for epoch in range(start, epochs):
            losses = tr.steps(epoch, min(tr.steps_per_epoch, total - tr.done))  # [n, E]
            step_loss.append(losses)
            table, row = tr.evaluate()
            row["loss"] = losses.mean(axis=0)
            for name in EPOCH_METRICS:
                per_epoch[name][:, epoch] = row[name]
            bar.set_postfix(loss=f"{row['loss'].mean():.4f}", H=f"{row['entropy'].mean():.4f}")
            bar.update()
            if progress == "lines" and log is not None and (
                    (epoch + 1) % max(1, epochs // 10) == 0 or epoch + 1 == epochs):
                log(_epoch_line(row, epoch + 1 - start, epochs - epoch - 1, time.perf_counter() - t0,
                                f"{epoch + 1}/{epochs}"))
            if checkpoints is not None and (epoch + 1) % every == 0 and epoch + 1 < epochs:
                checkpoints.save(_checkpoint(tr, epoch + 1, wall_before + time.perf_counter() - t0,
                                             per_epoch, step_loss))
    meta = {**environment(tr.device), "wall_s": round(wall_before + time.perf_counter() - t0, 3),
            "steps": total}
    if start:
        meta["resumed_from_epoch"] = start
    return _finish(spec, tr, per_epoch, step_loss, table, meta)


def _resume(tr: Trainer, checkpoints: Checkpoints | None, per_epoch: dict,
            log) -> tuple[int, float, list]:
    """Load the store's checkpoint, if it holds one, into `tr` and `per_epoch`: the epoch to
    start from, the wall time already spent and the step losses so far."""
    saved = checkpoints.load() if checkpoints is not None else None
    if saved is None:
        return 0, 0.0, []
    tr.load_state(saved["trainer"])
    start = saved["epoch"]
    for name in EPOCH_METRICS:
        per_epoch[name][:, :start] = saved["per_epoch"][name].numpy()
    if log is not None:
        m = tr.spec.model
        log(f"resuming {m.kind} d={m.d_model} L={m.layers} seeds "
            f"{','.join(map(str, tr.spec.seeds))} from epoch {start} of {per_epoch['loss'].shape[1]}")
    return start, saved["wall_s"], [saved["step_loss"].numpy()]


def _epoch_line(row: dict, done: int, left: int, took: float, where: str) -> str:
    """A progress line: the epoch, the mean loss and entropy, the time spent and left."""
    return (f"epoch {where}: loss {row['loss'].mean():.4f}, H {row['entropy'].mean():.4f} nats; "
            f"{took:.0f} s, about {took / done * left:.0f} s left")


def _checkpoint(tr: Trainer, epoch: int, wall: float, per_epoch: dict, step_loss: list) -> dict:
    """What a checkpoint after `epoch` epochs holds: enough to resume exactly."""
    return {"epoch": epoch, "wall_s": wall, "trainer": tr.state(),
            "per_epoch": {k: torch.as_tensor(v[:, :epoch]) for k, v in per_epoch.items()},
            "step_loss": torch.as_tensor(np.concatenate(step_loss))}


def _finish(spec: RunSpec, tr: Trainer, per_epoch: dict, step_loss: list, table: np.ndarray,
            meta: dict) -> Run:
    """The Run of a finished training: its curves, per-step records and final weights."""
    per_step = {}
    if spec.train.log_every:
        per_step = {"loss": np.concatenate(step_loss).T,
                    "step": np.asarray(tr.probe_steps, dtype=np.float64),
                    "dead_count": np.stack(tr.probe_dead, axis=1)}
    # Copies in the training dtype: the live parameters are views of the optimizer's buffer.
    state = {name: p.detach().to("cpu", copy=True) for name, p in tr.model.state_dict().items()}
    return Run(spec=spec, per_epoch=per_epoch, per_step=per_step, state=state, table=table,
               meta=meta)
