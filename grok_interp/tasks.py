"""Algorithmic tasks: binary operations over Z_p and over the symmetric group S5.

The operations are Power et al.'s (2022, Table 1), as Varma et al. (2023) use them:
x+y, x-y, x*y, x/y, x/y if y is odd else x-y, x^2+y^2, x^2+xy+y^2, x^2+xy+y^2+x, x^3+xy,
x^3+xy^2+y (mod p; division needs p prime), and x∘y, x∘y∘x^-1, x∘y∘x over S5. For the
group tasks ``p`` is the number of elements, 120: element i is the i-th permutation of
(0..4) in lexicographic order (:func:`s5_table`), with its own vocabulary of 120 tokens
plus the operator and ``=``. The Fourier analyses refuse group tasks (``Task.group``).

A :class:`Task` fixes the operation, the modulus and the token layout. Its inputs are
every valid pair (a, b) in one documented order, **a-major**: pair index ``i = a*p + b``
(for ``div``, whose b = 0 is undefined, the p(p-1) pairs with b != 0 keep that order).
So for every operation except ``div``, ``labels.reshape(p, p)[a, b]`` is the answer for
``(a, b)`` and analyses may reshape any per-pair quantity to ``(p, p)``.

Token layouts:

- ``"a b ="`` (Nanda et al. 2023, Section 3): three tokens ``[a, b, p]``; token ``p`` is
  ``=``; vocabulary ``p + 1``.
- ``"a o b ="`` (Power et al. 2022; Varma et al. 2023, Section 4): four tokens
  ``[a, p, b, p + 1]``; token ``p`` is the operator, ``p + 1`` is ``=``; vocabulary
  ``p + 2``.

The model reads its answer at the last position, over ``p`` output classes.

Splits (:func:`split`) are seeded permutations of the pair indices, given either as a
fraction of all pairs (Nanda et al.: 30%) or as an exact number of training pairs (Varma
et al. sweep dataset sizes by count).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor

from grok_interp.config import OP_NAMES, TOKEN_FORMATS, TokenFormat

Op = Callable[[Tensor, Tensor, int], Tensor]


def _div(a: Tensor, b: Tensor, p: int) -> Tensor:
    # b^(p-2) = b^-1 in the field Z_p (Fermat); exact in int64 for p < 3e9.
    inv = torch.tensor([pow(int(x), p - 2, p) for x in range(p)], dtype=torch.long)
    return a * inv[b] % p


def _div_or_sub(a: Tensor, b: Tensor, p: int) -> Tensor:
    # x/y where y is odd (never 0), x-y where y is even (Power et al. 2022, Table 1)
    safe = torch.where(b % 2 == 1, b, torch.ones_like(b))
    return torch.where(b % 2 == 1, _div(a, safe, p), (a - b) % p)


S5_ORDER = 120


@functools.lru_cache(maxsize=1)
def s5_table() -> tuple[Int[Tensor, "120 120"], Int[Tensor, " 120"]]:
    """The 120 permutations of (0, 1, 2, 3, 4) in lexicographic order (element i is
    ``itertools.permutations(range(5))``'s i-th), their composition table
    ``table[x, y] = index of x∘y`` with ``(x∘y)(i) = x(y(i))``, and each one's inverse."""
    perms = list(itertools.permutations(range(5)))
    index = {q: i for i, q in enumerate(perms)}
    table = torch.tensor([[index[tuple(x[y[i]] for i in range(5))] for y in perms] for x in perms])
    inverse = torch.tensor([index[tuple(sorted(range(5), key=lambda i: x[i]))] for x in perms])
    return table, inverse


def _s5(kind: str) -> Op:
    def op(a: Tensor, b: Tensor, p: int) -> Tensor:
        table, inverse = s5_table()
        ab = table[a, b]
        if kind == "xy":
            return ab
        return table[ab, inverse[a]] if kind == "xyx_inv" else table[ab, a]

    return op


# name -> (function, needs a field, excludes b == 0, a group task over S5).
# Power et al. (2022), Table 1; Varma et al. (2023) use the same list.
OPERATIONS: dict[str, tuple[Op, bool, bool, bool]] = {
    "add": (lambda a, b, p: (a + b) % p, False, False, False),
    "sum": (lambda a, b, p: a + b, False, False, False),
    "sub": (lambda a, b, p: (a - b) % p, False, False, False),
    "mul": (lambda a, b, p: a * b % p, False, False, False),
    "div": (_div, True, True, False),
    "div_or_sub": (_div_or_sub, True, False, False),
    "x2_plus_y2": (lambda a, b, p: (a * a + b * b) % p, False, False, False),
    "x2_plus_xy_plus_y2": (lambda a, b, p: (a * a + a * b + b * b) % p, False, False, False),
    "x2_plus_xy_plus_y2_plus_x": (
        lambda a, b, p: (a * a + a * b + b * b + a) % p, False, False, False),
    "x3_plus_xy": (lambda a, b, p: (a * a * a + a * b) % p, False, False, False),
    "x3_plus_xy2_plus_y": (lambda a, b, p: (a * a * a + a * b * b + b) % p, False, False, False),
    "s5_xy": (_s5("xy"), False, False, True),
    "s5_xyx_inv": (_s5("xyx_inv"), False, False, True),
    "s5_xyx": (_s5("xyx"), False, False, True),
}  # fmt: skip


assert tuple(OPERATIONS) == OP_NAMES  # the CLI's choices come from config.OP_NAMES


class TaskError(ValueError):
    """A task or split that cannot be built, with what to do instead."""


def is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


@dataclass(frozen=True, kw_only=True)
class Task:
    """A modular binary operation over Z_p with a token layout.

    ``sum`` is a + b without the modulus (2p - 1 classes: Liu et al. 2022's toy addition).
    ``unordered=True`` keeps only the pairs with a <= b, a-major (Liu et al.'s toy data:
    a + b and b + a are one sample, p(p + 1)/2 pairs); for commutative operations."""

    op: str = "add"
    p: int = 113
    token_format: TokenFormat = "a b ="
    unordered: bool = False

    def __post_init__(self) -> None:
        if self.op not in OPERATIONS:
            raise TaskError(f"unknown task {self.op!r}; known tasks: {', '.join(OPERATIONS)}")
        if self.token_format not in TOKEN_FORMATS:
            raise TaskError(
                f"unknown token format {self.token_format!r}; use one of {TOKEN_FORMATS}"
            )
        if not isinstance(self.p, int) or self.p < 2:
            raise TaskError(f"the modulus p must be an integer >= 2, got {self.p!r}")
        if OPERATIONS[self.op][3] and self.p != S5_ORDER:
            raise TaskError(f"{self.op!r} is over S5: give p = {S5_ORDER} (its elements)")
        if self.unordered and self.op not in ("add", "sum", "mul", "x2_plus_y2",
                                              "x2_plus_xy_plus_y2"):
            raise TaskError(f"{self.op!r} is not commutative: its pairs cannot be unordered")
        if OPERATIONS[self.op][1] and not is_prime(self.p):
            raise TaskError(
                f"{self.op!r} needs a field, so p must be prime; {self.p} is not "
                "(try 97, 113 or 127)"
            )

    @property
    def group(self) -> bool:
        """A task over the symmetric group S5 (p = 120 elements), not over Z_p."""
        return OPERATIONS[self.op][3]

    @property
    def n_ctx(self) -> int:
        return 3 if self.token_format == "a b =" else 4

    @property
    def d_vocab(self) -> int:
        return self.p + self.n_ctx - 2

    @property
    def d_vocab_out(self) -> int:
        return 2 * self.p - 1 if self.op == "sum" else self.p

    @property
    def eq_token(self) -> int:
        return self.d_vocab - 1

    @property
    def full_grid(self) -> bool:
        """Whether the pairs cover all of Z_p x Z_p, so they reshape to (p, p)."""
        return not (OPERATIONS[self.op][2] or self.unordered)

    @property
    def n_pairs(self) -> int:
        return len(self.pairs())

    def pairs(self) -> Int[Tensor, "n_pairs 2"]:
        """Every valid (a, b), a-major (index a*p + b; div skips b = 0; unordered tasks
        keep a <= b)."""
        a, b = torch.meshgrid(torch.arange(self.p), torch.arange(self.p), indexing="ij")
        ab = torch.stack([a.reshape(-1), b.reshape(-1)], dim=1)
        if OPERATIONS[self.op][2]:
            ab = ab[ab[:, 1] != 0]
        return ab[ab[:, 0] <= ab[:, 1]] if self.unordered else ab

    def labels(self) -> Int[Tensor, " n_pairs"]:
        ab = self.pairs()
        return OPERATIONS[self.op][0](ab[:, 0], ab[:, 1], self.p)

    def tokens(self) -> Int[Tensor, "n_pairs n_ctx"]:
        ab = self.pairs()
        n = ab.shape[0]
        eq = torch.full((n, 1), self.eq_token, dtype=torch.long)
        if self.token_format == "a b =":
            return torch.cat([ab, eq], dim=1)
        op = torch.full((n, 1), self.p, dtype=torch.long)
        return torch.cat([ab[:, :1], op, ab[:, 1:], eq], dim=1)

    def describe(self) -> str:
        where = "over S5 (120 permutations)" if self.group else f"mod {self.p}"
        if self.op == "sum":
            where = f"of 0..{self.p - 1} (no modulus)"
        pairs = ", unordered pairs" if self.unordered else ""
        return f"{self.op} {where}, tokens '{self.token_format}'{pairs}"


def split(
    task: Task, *, frac_train: float | None = None, n_train: int | None = None, seed: int = 0
) -> Int[Tensor, " n_train"]:
    """Seeded training indices into ``task.pairs()``, sorted; the rest is the test set.

    Give exactly one of ``frac_train`` (in (0, 1]; ``round(frac * n_pairs)`` pairs, as in
    Nanda et al.) or ``n_train`` (an exact count). The permutation comes from a private
    ``torch.Generator`` seeded with ``seed``, so the global RNG is untouched.
    Both sides must be non-empty: the trainer evaluates on the held-out pairs.
    """
    n = _n_train(task, frac_train, n_train)
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(task.n_pairs, generator=gen)
    return perm[:n].sort().values


def _n_train(task: Task, frac_train: float | None, n_train: int | None) -> int:
    if (frac_train is None) == (n_train is None):
        raise TaskError("give exactly one of frac_train and n_train")
    if frac_train is not None:
        if not 0 < frac_train <= 1:
            raise TaskError(f"frac_train must lie in (0, 1], got {frac_train}")
        n_train = round(frac_train * task.n_pairs)
    assert n_train is not None
    if n_train < 1:
        raise TaskError(
            f"the training set would be empty ({task.n_pairs} pairs); raise frac_train or n_train"
        )
    if n_train >= task.n_pairs:
        raise TaskError(
            f"the test set would be empty: {n_train} training pairs of {task.n_pairs} "
            f"({task.describe()}); lower frac_train or n_train"
        )
    return n_train


def on_pairs(task: object) -> bool:
    """Whether ``task`` is one of pairs (a, b), which the pair analyses and splits need (a
    sequence task or streaming parity is not)."""
    return isinstance(task, Task)


def heldout_indices(task: Task, train_idx: Int[Tensor, " n_train"]) -> Int[Tensor, " n_test"]:
    """The complement of ``train_idx`` in ``range(task.n_pairs)``, sorted."""
    mask = torch.ones(task.n_pairs, dtype=torch.bool)
    mask[train_idx] = False
    return mask.nonzero().squeeze(1)
