"""Constants of the controlled task and the frozen specs that describe a run.

Every run is described by one :class:`RunSpec` (target, model, training, seeds). Specs are
frozen, keyword-only dataclasses; :meth:`RunSpec.key` is a stable content hash that keys the
cache. Validation happens here, so bad input fails with a one-line message naming the bad
value instead of a traceback from inside torch.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
from dataclasses import dataclass, field

# --- the controlled task (SETTING 1) -------------------------------------------------------
VOCAB = 5  # characters 0..4
LENGTH = 5  # sequence length T; 5**5 = 3125 sequences
N_SAMPLES = 65_536  # training sequences sampled i.i.d. from p_tgt
BATCH_SIZE = 512  # 128 steps per epoch
EPOCHS = 100
HEADS = 4
FFN_MULT = 4  # FFN hidden size = 4 d
DROPOUT = 0.1

# Conditional probabilities given to the chosen characters of every non-root context.
TARGETS: dict[str, tuple[float, ...]] = {
    "base": (0.8, 0.2),  # H = ln 5 + 4 H(0.8, 0.2) = 3.6110 nats
    "low": (0.9, 0.1),  # Appendix D.1: 2.9098 nats
    "high": (0.6, 0.3, 0.1),  # Appendix D.2: 5.2012 nats
}

MODEL_KINDS = ("transformer", "gru", "lstm")
VARIANTS = ("full", "attention_only", "attention_main", "ffn_main", "routed")
NORMS = ("post", "pre")
LAYOUTS = ("trie", "dedup", "per_sample", "faithful")
DTYPES = ("float32", "float64")
# The exact quantities enumerate every one of the vocab ** length sequences.
MAX_SEQUENCES = 2**20


class SpecError(ValueError):
    """A spec names something that does not exist or sizes that cannot work."""


def _choice(what: str, value, allowed) -> None:
    if value not in allowed:
        raise SpecError(f"unknown {what} {value!r}; choose from {', '.join(map(str, allowed))}")


def _as_tuple(what: str, value) -> tuple:
    """A number or text as a one-element tuple; any other iterable as a tuple."""
    if isinstance(value, (numbers.Number, str, bytes)):
        return (value,)
    try:
        return tuple(value)
    except TypeError:
        raise SpecError(f"{what} must be a sequence of numbers, got {value!r}") from None


def _integers(owner: str, least: dict[str, int], values: dict) -> None:
    """Each named value is an integer (not a bool, float or text) of at least its bound."""
    for name, low in least.items():
        v = values[name]
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise SpecError(f"{owner} {name} must be an integer, got {v!r}")
        if v < low:
            raise SpecError(f"{owner} {name} must be >= {low}, got {v}")


@dataclass(frozen=True, kw_only=True)
class TargetSpec:
    """The target distribution and the data set sampled from it (SETTING 1)."""

    probs: tuple[float, ...] = TARGETS["base"]  # probabilities of the chosen next characters
    vocab: int = VOCAB  # number of characters (the start symbol is extra, id = vocab)
    length: int = LENGTH  # sequence length T
    seed: int = 0  # numpy seed for the conditional tables and the sampled data set
    n_samples: int = N_SAMPLES  # size of the training set

    @classmethod
    def named(cls, name: str, **kw) -> "TargetSpec":
        _choice("target", name, tuple(TARGETS))
        return cls(probs=TARGETS[name], **kw)

    def __post_init__(self):
        _integers("target", {"vocab": 2, "length": 1, "seed": 0, "n_samples": 1}, vars(self))
        # vocab >= 2, so a length past log2(MAX_SEQUENCES) is too many (and not computed)
        if self.length > MAX_SEQUENCES.bit_length() or self.vocab ** self.length > MAX_SEQUENCES:
            raise SpecError(
                f"vocab ** length = {self.vocab} ** {self.length} sequences; the exact evaluation "
                f"enumerates them all, at most {MAX_SEQUENCES:,}")
        probs = _as_tuple("target probs", self.probs)
        if not all(isinstance(p, numbers.Real) and not isinstance(p, bool)
                   and math.isfinite(p) and p > 0 for p in probs):
            raise SpecError(f"target probs must be positive numbers, got {self.probs!r}")
        object.__setattr__(self, "probs", tuple(float(p) for p in probs))
        if not 1 <= len(self.probs) <= self.vocab or abs(sum(self.probs) - 1) > 1e-9:
            raise SpecError(
                f"target probs {self.probs} must sum to 1 over at most {self.vocab} characters")

    @property
    def name(self) -> str:
        for name, probs in TARGETS.items():
            if probs == self.probs and (self.vocab, self.length) == (VOCAB, LENGTH):
                return name
        return "custom"


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """Architecture of one model; E seeds of it train at once (SETTING 3)."""

    kind: str = "transformer"  # one of MODEL_KINDS
    variant: str = "full"  # Transformer only: one of VARIANTS
    d_model: int = 64  # embedding (and RNN hidden) size d
    layers: int = 4  # Transformer blocks L (RNNs: always 1)
    heads: int = HEADS  # attention heads
    ffn_mult: int = FFN_MULT  # FFN hidden = ffn_mult * d
    dropout: float = DROPOUT  # after the FFN's ReLU (Transformer) / on the RNN output
    norm: str = "post"  # "post": x = LN(x + f(x)) (paper); "pre": x = x + f(LN(x))

    def __post_init__(self):
        _choice("model", self.kind, MODEL_KINDS)
        _integers("model", {"d_model": 1, "layers": 1, "heads": 1, "ffn_mult": 1}, vars(self))
        if (isinstance(self.dropout, bool) or not isinstance(self.dropout, numbers.Real)
                or not 0.0 <= self.dropout < 1.0):
            raise SpecError(f"dropout must be a number in [0, 1), got {self.dropout!r}")
        if self.kind == "transformer":
            _choice("variant", self.variant, VARIANTS)
            _choice("norm", self.norm, NORMS)
            if self.d_model % self.heads:
                raise SpecError(f"d_model {self.d_model} is not divisible by {self.heads} heads")
        elif self.layers != 1:
            raise SpecError(f"{self.kind} has one layer (SETTING 3), got layers={self.layers}")


@dataclass(frozen=True, kw_only=True)
class TrainSpec:
    """Optimisation and bookkeeping of a run (SETTING 4)."""

    optimizer: str = "adam"  # a key of lowent.optim.OPTIMIZERS
    epochs: int = EPOCHS  # passes over the data set
    batch_size: int = BATCH_SIZE  # sequences per step
    # "trie" and "dedup" (fast; exact only with dropout 0: one mask per node), "per_sample"
    # (the paper's loop), "faithful" (per-sample masks, shared work before the first dropout)
    layout: str = "trie"
    dtype: str = "float32"  # training precision; evaluation is always float64
    log_every: int = 0  # also probe dead neurons every k steps (0: once per epoch only)

    def __post_init__(self):
        from lowent.optim import OPTIMIZERS  # registry lives beside the optimizers

        _choice("optimizer", self.optimizer, tuple(OPTIMIZERS))
        _choice("layout", self.layout, LAYOUTS)
        _choice("dtype", self.dtype, DTYPES)
        _integers("training", {"epochs": 1, "batch_size": 1, "log_every": 0}, vars(self))


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """One configuration trained for several seeds at once."""

    target: TargetSpec = field(default_factory=TargetSpec)
    model: ModelSpec = field(default_factory=ModelSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    seeds: tuple[int, ...] = (0,)  # torch init seed and minibatch-order seed of each model

    def __post_init__(self):
        for name, kind in (("target", TargetSpec), ("model", ModelSpec), ("train", TrainSpec)):
            if not isinstance(getattr(self, name), kind):
                raise SpecError(f"a run's {name} must be a {kind.__name__}, "
                                f"got {type(getattr(self, name)).__name__}")
        seeds = _as_tuple("seeds", self.seeds)
        if not seeds:
            raise SpecError("a run needs at least one seed")
        if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in seeds):
            raise SpecError(f"seeds must be integers, got {self.seeds!r}")
        object.__setattr__(self, "seeds", tuple(int(s) for s in seeds))
        if len(set(self.seeds)) != len(self.seeds) or min(self.seeds) < 0:
            raise SpecError(f"seeds must be distinct and non-negative, got {self.seeds}")
        if self.train.batch_size > self.target.n_samples:
            raise SpecError(
                f"batch_size {self.train.batch_size} exceeds the data set ({self.target.n_samples})")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunSpec":
        return cls(target=TargetSpec(**{**d["target"], "probs": tuple(d["target"]["probs"])}),
                   model=ModelSpec(**d["model"]), train=TrainSpec(**d["train"]),
                   seeds=tuple(d["seeds"]))

    def key(self) -> str:
        """Stable content hash of the spec (hex)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def replace(self, **kw) -> "RunSpec":
        return dataclasses.replace(self, **kw)


def parse_seeds(text: str) -> tuple[int, ...]:
    """Parse ``"0-7"``, ``"3"`` or ``"0,2,5"`` into a tuple of seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if hi < lo:
                    raise SpecError(f"seed range {part!r} is empty (end before start)")
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
        except ValueError as exc:
            if isinstance(exc, SpecError):
                raise
            raise SpecError(f"cannot read seeds {text!r}; use e.g. 0-7 or 0,2,5") from None
    if len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise SpecError(f"seeds {text!r} must be distinct and non-negative")
    return tuple(seeds)
