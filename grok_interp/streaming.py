"""Streaming parity (van Rossem & Saxe 2025; summarised in ``notes_nanda2023_and_
vanrossem_saxe2025.txt``, "Set Up"): the task, its strings and the tree of their prefixes.

The task (:class:`ParityTask`): binary strings; the target at every position is the
parity of the ones seen so far. The training set is every string of length
``min_len``..``max_len`` (1..10: 2,046 strings); the test sets are ``n_val`` (100) random
strings of length ``val_len`` (50), and ``n_long`` (10) of each length in ``long_lens``
(the authors' ``parity/main.ipynb`` uses 25, 100, 250, 1,000, 2,500 and 10,000; ours 100,
1,000 and 10,000), seeded by the run's seed. The loss is the authors' MSE against the
one-hot target (:func:`mse`). The learner (the paper's RNN), its batches and its run
live with the family, :mod:`grok_interp.families.parity`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int, Shaped
from torch import Tensor


@dataclass(frozen=True, kw_only=True)
class ParityTask:
    """Streaming parity (module docstring). ``n_ctx`` is the longest string a transformer
    on this task reads (its positional embedding's size); the RNN reads any length."""

    kind: str = "parity"
    min_len: int = 1
    max_len: int = 10
    val_len: int = 50
    n_val: int = 100
    long_lens: tuple[int, ...] = (100, 1000, 10000)
    n_long: int = 10
    n_ctx: int = 1000

    def __post_init__(self) -> None:
        if self.kind != "parity":
            raise ValueError(f"a ParityTask's kind is 'parity', got {self.kind!r}")
        if not 1 <= self.min_len <= self.max_len <= 20:
            raise ValueError(f"need 1 <= min_len <= max_len <= 20, got {self.min_len}, "
                             f"{self.max_len}")  # fmt: skip
        if self.val_len < 1 or self.n_val < 1 or self.n_long < 1 or self.n_ctx < self.max_len:
            raise ValueError("val_len, n_val and n_long must be >= 1 and n_ctx >= max_len")
        if any(n < 1 for n in self.long_lens):
            raise ValueError(f"long_lens must be positive, got {self.long_lens}")

    d_vocab = 2
    d_vocab_out = 2

    @property
    def n_train(self) -> int:
        return sum(2**n for n in range(self.min_len, self.max_len + 1))

    def describe(self) -> str:
        return (f"streaming parity, training strings of length {self.min_len}-{self.max_len} "
                "(van Rossem & Saxe 2025)")  # fmt: skip


def all_strings(length: int) -> Int[Tensor, "strings length"]:
    """Every binary string of ``length`` as rows (2^length, length), in the order of the
    numbers they spell (most significant symbol first)."""
    bits = torch.arange(length - 1, -1, -1)
    return (torch.arange(2**length)[:, None] >> bits) & 1


def parity_targets(strings: Int[Tensor, "*batch pos"]) -> Int[Tensor, "*batch pos"]:
    """The parity of the ones up to and including each position."""
    return strings.cumsum(-1) % 2


def random_strings(n: int, length: int, seed: int, stream: int) -> Int[Tensor, "n length"]:
    """``n`` uniform strings of ``length`` from a generator seeded by (seed, stream)."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + stream)
    return torch.randint(0, 2, (n, length), generator=gen)


def eval_strings(task: ParityTask, seed: int) -> dict[str, Int[Tensor, "n length"]]:
    """The validation strings (``"val"``, length ``val_len``) and each long length's
    (``"len100"`` ...): seeded by the run's seed, one stream each."""
    out = {"val": random_strings(task.n_val, task.val_len, seed, 1)}
    for i, n in enumerate(task.long_lens):
        out[f"len{n}"] = random_strings(task.n_long, n, seed, 2 + i)
    return out


def node_id(strings: Int[Tensor, "*batch length"]) -> Int[Tensor, "*batch"]:
    """The node of each prefix tree string (rows: strings of one length L): 2^L - 1 plus
    the number the string spells, so the empty string is 0, "0" 1, "1" 2, "00" 3 ...
    (breadth-first order); the children of node n are 2n + 1 (symbol 0) and 2n + 2."""
    n = strings.shape[-1]
    value = (strings * (2 ** torch.arange(n - 1, -1, -1))).sum(-1)
    return 2**n - 1 + value


def node_strings(max_len: int) -> list[str]:
    """Each node's string, in :func:`node_id` order ("" first)."""
    return [""] + [format(v, f"0{n}b") for n in range(1, max_len + 1) for v in range(2**n)]


def prefix_rows(values: Shaped[Tensor, "strings length *rest"],
                max_len: int) -> Shaped[Tensor, "nodes *rest"]:  # fmt: skip
    """Per-position ``values`` over :func:`all_strings` of ``max_len`` (2^max_len, max_len,
    ...) read once per non-empty prefix, in :func:`node_id` order (nodes 1, 2, ...): the
    prefix of length n + 1 at row r is shared by the 2^(max_len - n - 1) rows after r, so
    position n is read at every such step."""
    return torch.cat([values[:: 2 ** (max_len - n - 1), n] for n in range(max_len)])


def node_lengths(max_len: int) -> Int[Tensor, " nodes"]:
    """Each node's length, in :func:`node_id` order."""
    return torch.cat([torch.full((2**n,), n) for n in range(max_len + 1)])


def mse(outputs: Float[Tensor, "*batch d_out"],
        targets: Int[Tensor, "*batch"]) -> Float[Tensor, ""]:  # fmt: skip
    """The authors' ``nn.MSELoss()``: the mean over strings and both outputs of the
    squared error against the one-hot target."""
    return F.mse_loss(outputs, F.one_hot(targets, outputs.shape[-1]).to(outputs.dtype))


def prefix_fit(outputs: Float[Tensor, "nodes d_out"], task: ParityTask) -> tuple[float, float]:
    """The MSE (:func:`mse`) and accuracy over the training strings, from ``outputs`` at
    the non-empty prefix nodes (:func:`prefix_rows` order): each training string is one
    node, so this is the authors' epoch loss (the per-length means weighted by size)."""
    targets = prefix_rows(parity_targets(all_strings(task.max_len)), task.max_len)
    keep = node_lengths(task.max_len)[1:] >= task.min_len
    y, t = outputs[keep], targets[keep].to(outputs.device)
    return float(mse(y, t)), float((y.argmax(-1) == t).double().mean())
