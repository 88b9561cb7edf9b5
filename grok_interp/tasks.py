"""Algorithmic tasks on pairs: a structure, an operation on it, and a token layout.

A :class:`Task` is made of three parts (docs/DESIGN.md, "A task is three parts"), each a
value a user builds and a test extends without editing anything else:

- a **structure** (:mod:`grok_interp.structures`): Z_p, whose polynomial operations need
  its ring (and division its field), or a finite group by name (``"S5"``, and the
  dihedral, symmetric and alternating groups of :mod:`grok_interp.groups`);
- an **operation** on it (:data:`OPERATIONS`, :func:`register_operation`): Power et al.'s
  (2022, Table 1), as Varma et al. (2023) use them: x+y, x-y, x*y, x/y, x/y if y is odd
  else x-y, x^2+y^2, x^2+xy+y^2, x^2+xy+y^2+x, x^3+xy, x^3+xy^2+y (mod p; division needs p
  prime), and the group compositions x∘y, x∘y∘x^-1, x∘y∘x (``xy``, ``xyx_inv``,
  ``xyx``; the names ``s5_xy`` ... are the same on S5, as the package first wrote them);
- a **token layout** (:mod:`grok_interp.layouts`): ``"a b ="`` (Nanda et al.),
  ``"a o b ="`` (Power et al., Varma et al.), ``"a b"`` (Zhong et al.), causal or not,
  shared or separate operand vocabularies, or any other stated as a string.

Its inputs are every valid pair (a, b) in one documented order, **a-major**: pair index
``i = a*n + b`` over the structure's ``n`` elements (for ``div``, whose b = 0 is
undefined, the n(n-1) pairs with b != 0 keep that order). So for every operation except
``div``, ``labels.reshape(n, n)[a, b]`` is the answer for ``(a, b)`` and analyses may
reshape any per-pair quantity to ``(n, n)``. ``p`` is ``n`` (the modulus for Z_p; for a
group its order, checked against the group). The model reads its answer at the layout's
answer position (the last by default), over ``n`` output classes.

Splits (:func:`split`) are seeded permutations of the pair indices, given either as a
fraction of all pairs (Nanda et al.: 30%) or as an exact number of training pairs (Varma
et al. sweep dataset sizes by count).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from jaxtyping import Int
from torch import Tensor

from grok_interp.config import OP_NAMES
from grok_interp.layouts import Layout, LayoutError, layout
from grok_interp.structures import Structure, s5_table, structure

__all__ = ["OPERATIONS", "Operation", "Task", "TaskError", "heldout_indices", "is_prime",
           "on_pairs", "register_operation", "s5_table", "split", "task_dict"]  # fmt: skip


def _inverse_mod(b: Tensor, p: int) -> Tensor:
    # b^(p-2) = b^-1 in the field Z_p (Fermat); exact in int64 for p < 3e9.
    inv = torch.tensor([pow(int(x), p - 2, p) for x in range(p)], dtype=torch.long)
    return inv[b]


def _div(s: Structure, a: Tensor, b: Tensor) -> Tensor:
    return a * _inverse_mod(b, s.order) % s.order


def _div_or_sub(s: Structure, a: Tensor, b: Tensor) -> Tensor:
    # x/y where y is odd (never 0), x-y where y is even (Power et al. 2022, Table 1)
    safe = torch.where(b % 2 == 1, b, torch.ones_like(b))
    return torch.where(b % 2 == 1, _div(s, a, safe), (a - b) % s.order)


def _ring(f: Callable[[Tensor, Tensor], Tensor]) -> Callable[[Structure, Tensor, Tensor], Tensor]:
    return lambda s, a, b: f(a, b) % s.order


def _xy(s: Structure, a: Tensor, b: Tensor) -> Tensor:
    return s.table[a, b]


def _xyx_inv(s: Structure, a: Tensor, b: Tensor) -> Tensor:
    return s.table[s.table[a, b], s.inverse[a]]


def _xyx(s: Structure, a: Tensor, b: Tensor) -> Tensor:
    return s.table[s.table[a, b], a]


@dataclass(frozen=True, kw_only=True)
class Operation:
    """A binary operation on a structure: ``fn(structure, a, b)`` gives the answers'
    indices. ``needs``: what the structure must be (``"ring"``: Z_p; ``"field"``: Z_p with
    p prime; ``"group"``: any group, Z_p under addition included); ``excludes_zero``:
    b = 0 is not an input (division); ``commutative``: its pairs may be unordered;
    ``structure``: the structure it is over when the task names none (``"S5"`` for the
    names ``s5_*``); ``classes``: output classes over n elements (n, or 2n - 1 for the
    unreduced sum)."""

    name: str
    fn: Callable[[Structure, Tensor, Tensor], Tensor]
    needs: Literal["ring", "field", "group"] = "ring"
    excludes_zero: bool = False
    commutative: bool = False
    structure: str = ""
    classes: Callable[[int], int] = lambda n: n


def _op(name: str, fn: Callable[..., Tensor], **kw: Any) -> tuple[str, Operation]:
    return name, Operation(name=name, fn=fn, **kw)


# Power et al. (2022), Table 1; Varma et al. (2023) use the same list; then the group ones.
OPERATIONS: dict[str, Operation] = dict([
    _op("add", _ring(lambda a, b: a + b), commutative=True),
    _op("sum", lambda s, a, b: a + b, commutative=True, classes=lambda n: 2 * n - 1),
    _op("sub", _ring(lambda a, b: a - b)),
    _op("mul", _ring(lambda a, b: a * b), commutative=True),
    _op("div", _div, needs="field", excludes_zero=True),
    _op("div_or_sub", _div_or_sub, needs="field"),
    _op("x2_plus_y2", _ring(lambda a, b: a * a + b * b), commutative=True),
    _op("x2_plus_xy_plus_y2", _ring(lambda a, b: a * a + a * b + b * b), commutative=True),
    _op("x2_plus_xy_plus_y2_plus_x", _ring(lambda a, b: a * a + a * b + b * b + a)),
    _op("x3_plus_xy", _ring(lambda a, b: a * a * a + a * b)),
    _op("x3_plus_xy2_plus_y", _ring(lambda a, b: a * a * a + a * b * b + b)),
    _op("s5_xy", _xy, needs="group", structure="S5"),
    _op("s5_xyx_inv", _xyx_inv, needs="group", structure="S5"),
    _op("s5_xyx", _xyx, needs="group", structure="S5"),
    _op("xy", _xy, needs="group"),
    _op("xyx_inv", _xyx_inv, needs="group"),
    _op("xyx", _xyx, needs="group"),
])  # fmt: skip
assert tuple(OPERATIONS) == OP_NAMES  # the CLI's choices come from config.OP_NAMES


def register_operation(op: Operation) -> Operation:
    """Add an operation (a test's or a user's); its name must be new."""
    if op.name in OPERATIONS:
        raise ValueError(f"an operation named {op.name!r} exists already")
    OPERATIONS[op.name] = op
    return op


class TaskError(ValueError):
    """A task or split that cannot be built, with what to do instead."""


def is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


@dataclass(frozen=True, kw_only=True)
class Task:
    """A binary operation on a structure with a token layout (module docstring).

    ``op``: an :data:`OPERATIONS` name; ``p``: the number of elements (Z_p's modulus);
    ``token_format``: the layout's string (:func:`grok_interp.layouts.layout`);
    ``structure``: ``""`` for Z_p (or the operation's own, S5 for ``s5_*``), else a group's
    name (``Task.over("S5", "xy")`` sets ``p`` from it). ``sum`` is a + b without the
    modulus (2p - 1 classes: Liu et al. 2022's toy addition). ``unordered=True`` keeps
    only the pairs with a <= b, a-major (Liu et al.'s toy data: a + b and b + a are one
    sample, p(p + 1)/2 pairs); for commutative operations."""

    op: str = "add"
    p: int = 113
    token_format: str = "a b ="
    unordered: bool = False
    structure: str = ""

    def __post_init__(self) -> None:
        if self.op not in OPERATIONS:
            raise TaskError(f"unknown task {self.op!r}; known tasks: {', '.join(OPERATIONS)}")
        try:
            layout(self.token_format)
        except LayoutError as e:
            raise TaskError(f"token_format: {e}") from None
        if not isinstance(self.p, int) or self.p < 2:
            raise TaskError(f"the modulus p must be an integer >= 2, got {self.p!r}")
        self._check_structure()
        if self.unordered and not self.operation.commutative:
            raise TaskError(f"{self.op!r} is not commutative: its pairs cannot be unordered")

    def _check_structure(self) -> None:
        op, name = self.operation, self.structure or self.operation.structure
        if self.structure and op.structure and self.structure != op.structure:
            raise TaskError(f"{self.op!r} is over {op.structure}; use 'xy', 'xyx_inv' or "
                            f"'xyx' on {self.structure}")  # fmt: skip
        try:
            s = self.elements
        except ValueError as e:
            raise TaskError(str(e)) from None
        if name and s.order != self.p:
            raise TaskError(f"{self.op!r} is over {s.name}: give p = {s.order} (its elements)")
        if op.needs != "group" and not getattr(s, "ring", False):
            raise TaskError(f"{self.op!r} needs the ring Z_p, not the group {s.name}: use "
                            "'xy', 'xyx_inv' or 'xyx'")  # fmt: skip
        if op.needs == "field" and not is_prime(self.p):
            raise TaskError(
                f"{self.op!r} needs a field, so p must be prime; {self.p} is not "
                "(try 97, 113 or 127)"
            )

    @classmethod
    def over(cls, structure_name: str, op: str = "xy", **kw: Any) -> Task:
        """A task on the group ``structure_name`` (``p`` is its order)."""
        try:
            order = structure(structure_name, 0).order
        except ValueError as e:
            raise TaskError(str(e)) from None
        return cls(op=op, p=order, structure=structure_name, **kw)

    # -- the three parts --------------------------------------------------------------
    @property
    def operation(self) -> Operation:
        return OPERATIONS[self.op]

    @property
    def elements(self) -> Structure:
        """The structure (Z_p, or the group), whose indices are the tokens' and classes'."""
        return structure(self.structure or self.operation.structure, self.p)

    @property
    def layout(self) -> Layout:
        return layout(self.token_format)

    @property
    def cyclic(self) -> bool:
        """Whether the structure is Z_p, or the cyclic group C_p in Z_p's order (so the
        Fourier analyses over Z_p apply)."""
        s = self.elements
        return bool(getattr(s, "ring", False) or getattr(s, "family", "") == "cyclic")

    @property
    def group(self) -> bool:
        """A task over a group that is not Z_p (S5, ...): the Fourier analyses refuse it."""
        return not self.cyclic

    def as_group(self) -> Any:
        """The structure as a :class:`grok_interp.groups.Group`, with its irreducible
        representations: the group itself, or C_p for Z_p (its addition)."""
        from grok_interp.groups import Group, cyclic

        s = self.elements
        return s if isinstance(s, Group) else cyclic(self.p)

    # -- shapes the model takes from the task -----------------------------------------
    @property
    def n_ctx(self) -> int:
        return self.layout.n_ctx

    @property
    def d_vocab(self) -> int:
        return self.layout.d_vocab(self.p)

    @property
    def d_vocab_out(self) -> int:
        return self.operation.classes(self.p)

    @property
    def answer_pos(self) -> int:
        """The position the answer is read at (non-negative)."""
        return self.layout.answer_pos

    @property
    def causal(self) -> bool:
        return self.layout.causal

    @property
    def eq_token(self) -> int:
        """The ``=`` token's id (a TaskError for a layout without one)."""
        if "=" not in self.layout.slots:
            raise TaskError(f"the layout {self.token_format!r} has no '=' token")
        return self.layout.token("=", self.p)

    @property
    def full_grid(self) -> bool:
        """Whether the pairs cover every (a, b), so they reshape to (p, p)."""
        return not (self.operation.excludes_zero or self.unordered)

    @property
    def n_pairs(self) -> int:
        return len(self.pairs())

    def pairs(self) -> Int[Tensor, "n_pairs 2"]:
        """Every valid (a, b), a-major (index a*p + b; div skips b = 0; unordered tasks
        keep a <= b)."""
        a, b = torch.meshgrid(torch.arange(self.p), torch.arange(self.p), indexing="ij")
        ab = torch.stack([a.reshape(-1), b.reshape(-1)], dim=1)
        if self.operation.excludes_zero:
            ab = ab[ab[:, 1] != 0]
        return ab[ab[:, 0] <= ab[:, 1]] if self.unordered else ab

    def labels(self) -> Int[Tensor, " n_pairs"]:
        ab = self.pairs()
        return self.operation.fn(self.elements, ab[:, 0], ab[:, 1])

    def tokens(self) -> Int[Tensor, "n_pairs n_ctx"]:
        return self.layout.tokens(self.pairs(), self.p)

    def describe(self) -> str:
        s = self.elements
        if self.op == "sum":
            where = f"of 0..{self.p - 1} (no modulus)"
        elif self.cyclic:
            where = f"mod {self.p}"
        elif s.name == "S5" and self.op.startswith("s5_"):
            where = "over S5 (120 permutations)"
        else:
            where = f"over {s.name} ({s.order} elements)"
        pairs = ", unordered pairs" if self.unordered else ""
        return f"{self.op} {where}, tokens '{self.token_format}'{pairs}"


def task_dict(task: Any) -> dict[str, Any]:
    """A task's fields for a Run file or a report: a pair task omits ``structure`` when it
    names none, so files written before the field existed read and compare alike."""
    d = dataclasses.asdict(task)
    if isinstance(task, Task) and not task.structure:
        d.pop("structure")
    return d


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
