"""Structures: the set a task's operands and answers live in, one of a task's three parts
(docs/DESIGN.md, "A task is three parts").

A structure gives its ``order`` (the number of elements), its elements' indices
``0 .. order - 1`` (the order the embedding rows and output classes follow), its group
operation as a table (``table[x, y]`` is the index of ``x y``) and the inverses. Two
kinds are known:

- ``ZMod(p)``, the integers mod p, whose element i is i; a ring, so the polynomial
  operations of Power et al. (2022, Table 1) apply, and a field when p is prime. Its
  group is addition: Z_p is the cyclic group C_p;
- finite groups by name (``"S5"``; the dihedral, symmetric and alternating groups of
  :mod:`grok_interp.groups` where it is present), on which the group operations apply.

A task names its structure by a string (``""`` for Z_p, else the name), so a Run file
holds it as text; :func:`register_structure` adds one (a test, a user's group).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch
from jaxtyping import Int
from torch import Tensor


@runtime_checkable
class Structure(Protocol):
    """What a task asks of its structure (module docstring)."""

    @property
    def name(self) -> str: ...

    @property
    def order(self) -> int: ...

    @property
    def table(self) -> Int[Tensor, "n n"]: ...

    @property
    def inverse(self) -> Int[Tensor, " n"]: ...


@dataclass(frozen=True)
class ZMod:
    """The integers mod p (module docstring): the cyclic group under addition, a ring."""

    p: int
    ring: bool = True

    @property
    def name(self) -> str:
        return f"Z_{self.p}"

    @property
    def order(self) -> int:
        return self.p

    @property
    def table(self) -> Int[Tensor, "n n"]:
        r = torch.arange(self.p)
        return (r[:, None] + r[None, :]) % self.p

    @property
    def inverse(self) -> Int[Tensor, " n"]:
        return (-torch.arange(self.p)) % self.p


@dataclass(frozen=True)
class TableGroup:
    """A finite group given by its composition table (``table[x, y]`` = index of x y)."""

    name: str
    table: Int[Tensor, "n n"] = field(repr=False, compare=False)
    ring: bool = False

    @property
    def order(self) -> int:
        return int(self.table.shape[0])

    @functools.cached_property
    def inverse(self) -> Int[Tensor, " n"]:
        identity = int((self.table == torch.arange(self.order)).all(1).nonzero()[0])
        return (self.table == identity).int().argmax(1)


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


def _named_group(name: str) -> Structure | None:
    """A group of :mod:`grok_interp.groups` by name (its element order), or S5 here."""
    try:
        from grok_interp.groups import group
    except ImportError:  # the group module not present: S5 alone
        return TableGroup("S5", s5_table()[0]) if name == "S5" else None
    try:
        return group(name)  # type: ignore[return-value]
    except ValueError:
        return None


_registered: dict[str, Callable[[], Structure]] = {}


def register_structure(name: str, factory: Callable[[], Structure]) -> None:
    """Make ``Task(structure=name)`` mean ``factory()`` (a test's or a user's group)."""
    _registered[name] = factory
    structure.cache_clear()


def unregister_structure(name: str) -> None:
    _registered.pop(name, None)
    structure.cache_clear()


@functools.lru_cache(maxsize=32)
def structure(name: str, p: int) -> Structure:
    """The structure a task names: ``""`` is Z_p, else a registered or known group; a
    ValueError for a name nothing knows."""
    if not name:
        return ZMod(p)
    if name in _registered:
        return _registered[name]()
    found = _named_group(name)
    if found is None:
        raise ValueError(f"unknown structure {name!r}: give '' (Z_p), a group such as 'S5', "
                         "'D59', 'A5', 'C113', or register one (register_structure)")  # fmt: skip
    return found
