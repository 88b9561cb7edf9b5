"""The configurations, with no heavy import: model presets, the trainer's settings, and
the names of the tasks' operations and token layouts. The CLI builds its flags from these
without importing torch or TransformerLens, so ``grok-interp --help`` answers at once.
(:mod:`grok_interp.models`, :mod:`grok_interp.runs` and :mod:`grok_interp.tasks` re-export
them.)
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
import types
import typing
from dataclasses import dataclass, replace
from typing import Any, Literal, Union

# A field's type in words, for the one-line error of a value of another type, alike in a
# config built in Python, a sweep's grid or TOML file and the command line.
TYPE_WORDS = {int: "a whole number", float: "a number", bool: "true or false", str: "a text",
              type(None): "none"}  # fmt: skip


def describe_type(kind: Any) -> str:
    """A field's type in words: 'a whole number or none', "one of 'relu', 'gelu'"."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is Literal:
        return "one of " + ", ".join(map(repr, args))
    if origin in (Union, types.UnionType):
        return " or ".join(map(describe_type, args))
    if origin is tuple:
        size = "" if args[-1] is Ellipsis else f" of {len(args)}"
        return f"a list{size}, each {describe_type(args[0])}"
    return TYPE_WORDS.get(kind, str(kind))


def fits_type(value: Any, kind: Any, *, strict: bool = True) -> bool:
    """Whether ``value`` is of the field type ``kind`` (an int counts as a float);
    ``strict=False`` also lets numpy's and torch's numbers stand for Python's."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is Literal:
        return value in args and type(value) in {type(a) for a in args}
    if origin in (Union, types.UnionType):
        return any(fits_type(value, a, strict=strict) for a in args)
    if origin is tuple:
        kinds = args[:1] * len(value) if args[-1] is Ellipsis else args
        return isinstance(value, list | tuple) and len(value) == len(kinds) and all(
            fits_type(v, k, strict=strict) for v, k in zip(value, kinds, strict=True))  # fmt: skip
    if strict or kind not in (int, float) or isinstance(value, bool):
        if kind is float:
            return type(value) in (int, float)
        return type(value) is kind if kind in TYPE_WORDS else True
    return isinstance(value, numbers.Integral if kind is int else numbers.Real)


@functools.cache
def _field_types(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def check_field_types(config: Any, section: str) -> None:
    """A ValueError in a sweep's words (``train.epochs takes a whole number, got 'ten'``)
    for the first field of the dataclass ``config`` whose value is not of its type, before
    a comparison in ``__post_init__`` fails with Python's words."""
    kinds = _field_types(config.__class__)
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if not fits_type(value, kinds[f.name], strict=False):
            raise ValueError(f"{section}.{f.name} takes {describe_type(kinds[f.name])}, "
                             f"got {value!r}")  # fmt: skip


TokenFormat = str  # a layout's string (grok_interp.layouts), e.g. "a b =" or "a b, bidirectional"
# The layouts known by name (grok_interp.layouts.KNOWN); any other can be stated as a string.
TOKEN_FORMATS: tuple[str, ...] = ("a b =", "a o b =", "a b", "a b, bidirectional",
                                  "a b, bidirectional, separate vocab")
# Power et al. (2022), Table 1; the functions live in grok_interp.tasks.OPERATIONS.
OP_NAMES: tuple[str, ...] = (
    "add",
    "sum",
    "sub",
    "mul",
    "div",
    "div_or_sub",
    "x2_plus_y2",
    "x2_plus_xy_plus_y2",
    "x2_plus_xy_plus_y2_plus_x",
    "x3_plus_xy",
    "x3_plus_xy2_plus_y",
    "s5_xy",
    "s5_xyx_inv",
    "s5_xyx",
    "xy",
    "xyx_inv",
    "xyx",
)


@dataclass(frozen=True, kw_only=True)
class ModelPreset:
    """Shape of a HookedTransformer for an algorithmic task (vocabulary comes from the task)."""

    n_layers: int = 1
    d_model: int = 128
    n_heads: int = 4
    d_head: int = 32
    d_mlp: int = 512
    act_fn: Literal["relu", "gelu"] = "relu"
    normalization: Literal["LN"] | None = None
    frozen_biases: bool = True
    attn_only: bool = False  # no MLPs (d_mlp is then unused)
    # Zhong et al. (2023)'s attention rate: 1 learned attention, 0 uniform (hooks.attention_rate)
    attention_rate: float = 1.0

    def __post_init__(self) -> None:
        check_field_types(self, "model")
        for name in ("n_layers", "d_model", "n_heads", "d_head", "d_mlp"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.attention_rate <= 1:
            raise ValueError(
                f"attention_rate lies in [0, 1] (1: learned, 0: uniform), got {self.attention_rate}"
            )
        if self.act_fn not in ("relu", "gelu"):
            raise ValueError(f"act_fn must be 'relu' or 'gelu', got {self.act_fn!r}")


PRESETS: dict[str, ModelPreset] = {
    "mainline": ModelPreset(),
    # The small model of the foundation tests: groks on p = 31 in about a minute.
    "small": ModelPreset(d_model=64, n_heads=4, d_head=16, d_mlp=256),
    "two_layer": ModelPreset(n_layers=2),
}


@dataclass(frozen=True, kw_only=True)
class ToyPreset:
    """Liu et al. (2022)'s toy model (slides: "Setup"): learnable embeddings E_0..E_{p-1}
    in R^d_in and a decoder MLP on E_i + E_j. The defaults are the authors' ``train_add``
    (ejmichaud/grokking-squared, toy/train_add.py): embeddings uniform in [-1/2, 1/2)
    times ``init_scale_embed``; a decoder of ``depth`` linear layers of ``width`` with
    tanh between them (PyTorch's default init times ``init_scale_decoder``); with
    ``loss="mse"`` regression onto fixed random targets Y_c ~ N(0, label_scale^2) in
    R^d_out, one per class, accuracy by the nearest target; with ``loss="ce"``
    classification over the task's classes (d_out is then unused). ``kind`` tells a Run
    file's toy model from a transformer preset."""

    kind: Literal["toy"] = "toy"
    d_in: int = 1
    width: int = 200
    depth: int = 3
    d_out: int = 30
    loss: Literal["mse", "ce"] = "mse"
    init_scale_embed: float = 1.0
    init_scale_decoder: float = 1.0
    label_scale: float = 1.0

    def __post_init__(self) -> None:
        for name in ("d_in", "width", "d_out"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.depth < 1:
            raise ValueError(f"depth counts the decoder's linear layers, >= 1; got {self.depth}")
        if self.loss not in ("mse", "ce"):
            raise ValueError(f"loss must be 'mse' (regression) or 'ce', got {self.loss!r}")


# The authors' toy settings (toy/train_add.py): 1-D and 2-D representations, regression
# and classification.
TOY_PRESETS: dict[str, ToyPreset] = {
    "toy_1d": ToyPreset(),
    "toy_2d": ToyPreset(d_in=2),
    "toy_1d_ce": ToyPreset(loss="ce"),
}


@dataclass(frozen=True, kw_only=True)
class RNNPreset:
    """Van Rossem & Saxe (2025)'s recurrent network (:mod:`grok_interp.families.parity`):
    ``d_hidden`` units (the authors' P = 100) of one ``nonlinearity`` layer, Xavier-normal
    weights with ``gain``, zero biases, initial state ``h0`` times ones."""

    kind: str = "rnn"
    d_hidden: int = 100
    nonlinearity: str = "relu"
    gain: float = 0.1
    h0: float = 1.0

    def __post_init__(self) -> None:
        if self.kind != "rnn" or self.nonlinearity not in ("relu", "tanh"):
            raise ValueError("an RNNPreset has kind 'rnn' and nonlinearity relu or tanh")
        if self.d_hidden < 1 or self.gain <= 0:
            raise ValueError(f"d_hidden must be >= 1 and gain > 0; got {self.d_hidden}, "
                             f"{self.gain}")  # fmt: skip


Preset = ModelPreset | ToyPreset | RNNPreset


def preset(name: str, **overrides: Any) -> ModelPreset:
    """A registered preset, with any field replaced."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
    return replace(PRESETS[name], **overrides)


LOSSES: tuple[str, ...] = ("cross_entropy", "stablemax")
# TrainConfig's options from the newer work on grokking (modular pairs only)
NEWER_OPTIONS = ("loss", "orthograd", "grokfast_lamb", "precision", "record_stability")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Full-batch AdamW training, Nanda et al. 2023 Section 3 and Appendix D.1.

    Defaults are the paper's: lr 1e-3, weight decay 1, betas (0.9, 0.98), 30% of pairs,
    40,000 epochs. The learning rate warms up linearly as ``lr * min(epoch / warmup, 1)``,
    the authors' ``LambdaLR(lambda step: min(step / 10, 1))``: epoch 0 updates only
    Adam's moments. Regularisers (Appendix D.1): ``weight_decay`` (decoupled, AdamW),
    ``dropout`` (probability on the MLP neurons), ``l1`` (lambda times the sum of
    absolute trainable weights, added to the loss, not decoupled); all zero is none.
    The training set is ``n_train`` pairs, or the fraction ``frac_train`` of all pairs;
    giving neither means the paper's 30%, giving both is an error. ``random_labels``
    trains on a seeded uniform relabelling of the training pairs (Varma et al. 2023's
    memorisation-only networks); the test pairs keep their true labels, and the history's
    train loss and accuracy are measured on the labels trained on. ``lr_embed`` and
    ``weight_decay_embed`` (toy models only; None: ``lr`` and ``weight_decay``) train the
    representation with its own settings, as Liu et al.'s toy model does (its decoder
    takes ``lr`` and ``weight_decay``). ``fresh_data`` (sequence tasks only,
    :mod:`grok_interp.sequences`): a fresh batch of ``n_train`` sequences every step, the
    infinite-data regime, instead of a fixed training set. ``sgd=True``: plain SGD
    instead of AdamW (no momentum; ``weight_decay`` is then coupled L2, torch's SGD), as
    van Rossem & Saxe train their RNN; ``betas`` then play no part. ``batch_size``
    (streaming parity only): mini-batches of that many strings of one length (None: one
    per length).

    Options from the newer work on grokking (modular pairs only; :mod:`grok_interp.losses`,
    :mod:`grok_interp.optim`): ``loss="stablemax"`` trains on Prieto et al. (2025)'s
    StableMax cross-entropy (the history's ``train_loss``/``test_loss`` stay the softmax
    cross-entropy, comparable across runs; ``train_objective`` is the loss trained on);
    ``orthograd`` wraps the optimizer (AdamW or SGD) in their ⊥Grad; ``grokfast_lamb > 0``
    filters the gradients with Lee et al. (2024)'s Grokfast-EMA (``grokfast_alpha``,
    ``grokfast_lamb``; 0: off); ``precision="float64"`` trains the weights, the forward
    and the optimizer in float64 (the Run keeps float64 weights, so it resumes bit for
    bit); ``record_stability`` records, at each evaluation, the share of training
    examples in softmax collapse at the run's precision (``collapsed``) and the cosine
    of the loss's descent direction with the weights (``nlm_alignment``;
    :func:`grok_interp.analyses.stability.stability_point`).
    """

    epochs: int = 40_000
    lr: float = 1e-3
    weight_decay: float = 1.0
    betas: tuple[float, float] = (0.9, 0.98)
    warmup: int = 10
    dropout: float = 0.0
    l1: float = 0.0
    frac_train: float | None = None
    n_train: int | None = None
    eval_every: int = 100
    snapshot_every: int = 1000
    snapshot_dtype: str = "float32"
    random_labels: bool = False
    lr_embed: float | None = None
    weight_decay_embed: float | None = None
    fresh_data: bool = False
    sgd: bool = False
    batch_size: int | None = None
    loss: str = "cross_entropy"
    orthograd: bool = False
    grokfast_alpha: float = 0.99
    grokfast_lamb: float = 0.0
    precision: str = "float32"
    record_stability: bool = False

    def __post_init__(self) -> None:
        check_field_types(self, "train")
        self._check_newer()
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.epochs < 0 or self.eval_every < 1 or self.snapshot_every < 1:
            raise ValueError("epochs must be >= 0 and eval_every, snapshot_every >= 1")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.lr <= 0 or self.weight_decay < 0 or self.l1 < 0 or self.warmup < 0:
            raise ValueError("lr must be > 0; weight_decay, l1 and warmup >= 0")
        if self.snapshot_dtype not in ("float32", "float16", "bfloat16"):
            raise ValueError("snapshot_dtype must be float32, float16 or bfloat16")
        if self.frac_train is not None and self.n_train is not None:
            raise ValueError(
                f"give frac_train ({self.frac_train}) or n_train ({self.n_train}), not both"
            )
        if self.frac_train is not None and not 0 < self.frac_train <= 1:
            raise ValueError(f"frac_train must lie in (0, 1], got {self.frac_train}")
        if (self.lr_embed is not None and self.lr_embed <= 0) or (
            self.weight_decay_embed is not None and self.weight_decay_embed < 0
        ):
            raise ValueError("lr_embed must be > 0 and weight_decay_embed >= 0")
        if self.n_train is not None and self.n_train < 1:
            raise ValueError(f"n_train must be at least 1, got {self.n_train}")

    def _check_newer(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {self.loss!r}")
        if self.precision not in ("float32", "float64"):
            raise ValueError(f"precision must be float32 or float64; got {self.precision!r}")
        if not 0 <= self.grokfast_alpha < 1 or self.grokfast_lamb < 0:
            raise ValueError(
                "Grokfast needs 0 <= grokfast_alpha < 1 and grokfast_lamb >= 0 (0: off); "
                f"got {self.grokfast_alpha}, {self.grokfast_lamb}"
            )

    def newer_options(self) -> list[str]:
        """The options from the newer work on grokking this config sets (class docstring)."""
        base = TrainConfig()
        return [n for n in NEWER_OPTIONS if getattr(self, n) != getattr(base, n)]

    @property
    def train_size(self) -> dict[str, float | int]:
        """The keyword for :func:`~grok_interp.tasks.split`: n_train, or frac_train
        (default 0.3)."""
        if self.n_train is not None:
            return {"n_train": self.n_train}
        return {"frac_train": 0.3 if self.frac_train is None else self.frac_train}


# A sweep field in words, for axis titles and table headers (the rest: the last part of
# the dotted name, its underscores as spaces).
FIELD_WORDS = {
    "train.lr": "learning rate", "train.lr_embed": "learning rate of the embedding",
    "train.weight_decay": "weight decay", "train.weight_decay_embed":
    "weight decay of the embedding", "train.n_train": "training-set size (pairs)",
    "train.frac_train": "training fraction", "train.epochs": "epochs",
    "model.d_model": "width (d_model)", "model.d_mlp": "MLP width",
    "model.attention_rate": "attention rate (1 learned, 0 uniform)", "model.width":
    "width", "task.p": "modulus p", "train.dropout": "dropout", "seed": "seed",
}  # fmt: skip


def field_words(field: str) -> str:
    """``field`` (a sweep's dotted name, ``train.weight_decay``) in words."""
    return FIELD_WORDS.get(field, field.rsplit(".", 1)[-1].replace("_", " "))

