"""Finite groups, their composition tables and their real irreducible representations:
the structures of Chughtai, Chan & Nanda (2023), *A Toy Model of Universality: Reverse
Engineering How Networks Learn Group Operations* (arXiv 2302.03025): the group
composition task ``x, y -> x y`` and their "group composition via representations"
algorithm, which reads ``tr(rho(x) rho(y) rho(z^-1))`` for an irreducible ``rho``. (The
paper's text is not among the project's papers; definitions follow the authors' code.)

A :class:`Group` holds its elements (hashable descriptions), ``table[x, y]`` (the index
of ``x y``), the inverses and the identity's index; :meth:`Group.irreps` gives every real
irreducible representation as real orthogonal matrices (float64), named as in the
authors' code (``rep_theory/utils/groups.py``, bilal-chughtai/rep-theory-mech-interp).

Groups and element orders (``elements[i]`` is element ``i``):

- ``cyclic(n)``, C_n: element ``i`` is ``i``, ``x y = (x + y) mod n`` (so C_p is the
  package's Z_p). Irreps: ``trivial``; ``sign`` (``(-1)^i``) when n is even; ``freq_k``,
  ``k = 1 .. ceil(n/2) - 1``, the rotation by ``2 pi k i / n``.
- ``dihedral(n)``, D_n of order 2n: element ``r + n s`` is ``(r, s)``, the map
  ``k -> r + (-1)^s k`` of Z_n, composed as maps (``(x y)(k) = x(y(k))``): rotations
  first, then reflections, the authors' order and product. Irreps: ``trivial``, ``sign``
  (reflections -1), ``freq_k`` (``k = 1 .. floor((n-1)/2)``: rotation by ``2 pi k r/n``,
  times ``diag(1, -1)`` for a reflection); for even n also ``sign_r`` (``(-1)^r``) and
  ``sign_rs`` (``(-1)^(r+s)``), names of ours (the authors' code has no even dihedral).
- ``symmetric(n)``, S_n (n <= 6): the permutations of ``range(n)`` as tuples ``x`` with
  ``x(i) = x[i]``, in ``itertools.permutations`` (lexicographic) order, composed
  ``(x y)(i) = x(y(i))``: for n = 5 exactly the package's S5 task
  (:func:`grok_interp.structures.s5_table`). Irreps: Young's orthogonal form
  (Sagan, *The Symmetric Group*, Section 3.12, or James & Kerber 3.3) for each partition
  of n, named by character: ``trivial`` (n), ``sign`` (1^n), ``standard`` (n-1, 1),
  ``standard_sign`` (2, 1^(n-2)), and the authors' ``s4_2d`` (2,2), ``s5_5d_a``
  (2,2,1), ``s5_5d_b`` (3,2), ``s5_6d`` (3,1,1), ``s6_5d_a`` (3,3), ``s6_5d_b`` (2,2,2).
  The partitions are what the characters of the authors' generator matrices give: their
  comments say so, and the characters of their matrices, computed per cycle type, are
  those of these partitions (``tests/test_groups.py`` holds them). S6's other five, which
  the authors' code leaves out, are ours: ``s6_9d_a`` (4,2), ``s6_9d_b`` (2,2,1,1),
  ``s6_10d_a`` (4,1,1), ``s6_10d_b`` (3,1,1,1), ``s6_16d`` (3,2,1).
- ``alternating(n)``, A_n (n <= 5): the even permutations in the same order and product.
  Irreps: the restrictions of S_n's (a partition and its conjugate restrict alike; the
  authors' names ``trivial``, ``standard``, ``a5_5d_a``), and a self-conjugate
  partition's restriction split in two where its two constituents are real: A5's (3,1,1)
  gives ``a5_3d_a`` and ``a5_3d_b``. ``a5_3d_a`` is the one whose character on the
  5-cycle ``i -> i + 1`` is ``(1 + sqrt 5)/2``: the authors build it from a rotation by
  ``2 pi / 5`` for that 5-cycle and take ``a5_3d_b`` as its twist by the transposition
  (0 1). (Their code's axis has length 0.86, not 1, so their matrices turn by
  0.86 * 2 pi / 5 and are not a representation: their character is not a class function
  and ``rho(x) rho(y) != rho(x y)`` by up to 2. Ours are the representations they intended;
  docs/groups.md shows what this changes in their A5 numbers.) A4's (2,2) and A3's (2,1)
  stay whole (complex type): ``a4_2d`` (ours) and ``standard``.

Realness. Every irrep here is real and orthogonal. Over the complex numbers C_n's
``freq_k`` is the sum of the two conjugate characters ``exp(+-2 pi i k x / n)``: over the
reals it is irreducible of *complex type* (its Frobenius-Schur indicator
``mean_g chi(g^2)`` is 0 and ``<chi, chi> = mean_g chi(g)^2 = 2``), and the span of its
matrix entries as functions on G is 2-dimensional, not 4. Every other irrep here is of
real type (indicator 1, ``<chi, chi> = 1``, entries span d^2 dimensions). So
``sum over irreps of d^2 / <chi, chi> = |G|`` is the real form of "the squared
dimensions sum to the order" (a quaternionic irrep, none here, would count d^2 / 4).

Chughtai et al.'s element order (:func:`chughtai_order`). Their cyclic and dihedral orders
are ours. Their symmetric and alternating groups are sympy's (``SymmetricGroup(n)`` and
``PermutationGroup((0 1 2 3 4), (1 2)(3 4))``), enumerated by ``G._elements``: sympy's
Schreier-Sims coset order (``generate_schreier_sims``), the product of one element from
each basic transversal. The basic transversals are written out below (sympy 1.11.1, the
authors' pin, and 1.14 give the same), so this module does not need sympy;
``tests/test_groups.py`` checks the order against the installed sympy. Sympy composes
left to right (``(p*q)(i) = q(p(i))``), the other way round from ours, so the element
of ours that their index stands for is the *inverse* of their permutation: their
product is ``p*q = q o p``, and ``(q o p)^-1 = p^-1 o q^-1``, so ``p -> p^-1`` carries
their product to ours and their ``table[i, j]`` is ours at the mapped indices.
Characters are unchanged by it, since every element of these groups is conjugate to its
inverse.

Why computed here: no dependency of the package gives these matrices (sympy, which torch
brings, has no representation matrices; the authors build theirs on a GPU from sympy
generator words), and Young's orthogonal form gives orthogonal ones directly.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Literal

import torch
from jaxtyping import Float, Int, Real
from torch import Tensor

Family = Literal["cyclic", "dihedral", "symmetric", "alternating"]
Partition = tuple[int, ...]

# The authors' names of S_n's irreps by partition (beyond trivial/sign/standard/
# standard_sign), in their order, then ours (module docstring).
_SYMMETRIC_NAMES: dict[int, dict[Partition, str]] = {
    4: {(2, 2): "s4_2d"},
    5: {(2, 2, 1): "s5_5d_a", (3, 2): "s5_5d_b", (3, 1, 1): "s5_6d"},
    6: {(3, 3): "s6_5d_a", (2, 2, 2): "s6_5d_b", (4, 2): "s6_9d_a", (2, 2, 1, 1): "s6_9d_b",
        (4, 1, 1): "s6_10d_a", (3, 1, 1, 1): "s6_10d_b", (3, 2, 1): "s6_16d"},
}  # fmt: skip
# A_n: a restriction's name by the larger of the partition and its conjugate.
_ALTERNATING_NAMES: dict[Partition, str] = {(3, 2): "a5_5d_a", (2, 2): "a4_2d"}
# A self-conjugate partition whose restriction splits: the two names, and the element
# whose character (larger first) tells them apart (module docstring).
_SPLIT_NAMES: dict[Partition, tuple[str, str, tuple[int, ...]]] = {
    (3, 1, 1): ("a5_3d_a", "a5_3d_b", (1, 2, 3, 4, 0)),
}
# Sympy's basic transversals (array forms, in sorted basic-orbit order, one string per
# base point) for the groups Chughtai et al. enumerate with sympy (module docstring).
_SYMPY_TRANSVERSALS: dict[str, tuple[str, ...]] = {
    "S3": ("012 120 201", "012 021"),
    "S4": ("0123 1230 2301 3120", "0123 0231 0312", "0123 0132"),
    "S5": ("01234 12340 23401 34012 41230", "01234 02143 03412 04123", "01423 01234 01243",
           "01234 01432"),
    "S6": ("012345 123450 234501 345012 451230 512340", "012345 021354 031254 045123 051234",
           "013524 012534 012345 012354", "012345 013542 015243", "012345 012543"),
    "A5": ("01234 12340 23401 34012 42130", "01234 02143 03124 04213", "01234 01342 01423"),
}  # fmt: skip
MAX_SYMMETRIC = 6
MAX_ALTERNATING = 5


@dataclass(frozen=True)
class Group:
    """A finite group (module docstring): its elements in index order, ``table[x, y]``
    (the index of ``x y``), ``inverse[x]`` and the identity's index. ``family`` and
    ``degree`` say which constructor made it (``symmetric``, 5 for S5), which is what
    :meth:`irreps` builds from."""

    name: str
    family: Family
    degree: int
    elements: tuple[Hashable, ...] = field(repr=False)
    table: Int[Tensor, "n n"] = field(repr=False, compare=False)
    inverse: Int[Tensor, " n"] = field(repr=False, compare=False)
    identity: int = 0

    def __post_init__(self) -> None:
        n = len(self.elements)
        if self.table.shape != (n, n) or self.inverse.shape != (n,):
            raise ValueError(f"{self.name}: table {tuple(self.table.shape)} and inverse "
                             f"{tuple(self.inverse.shape)} do not fit {n} elements")  # fmt: skip

    @property
    def order(self) -> int:
        return len(self.elements)

    def index(self, element: Hashable) -> int:
        """The index of an element given by its description (``(1, 0, 2)``, ``(3, 1)``)."""
        return self.elements.index(element)

    def irreps(self) -> dict[str, Float[Tensor, "n _d _d"]]:
        """Every real irreducible representation, ``rho[x]`` a real orthogonal float64
        matrix with ``rho[x] @ rho[y] == rho[table[x, y]]``, under the authors' names and
        in their order (module docstring)."""
        return _IRREPS[self.family](self)

    def characters(self) -> dict[str, Float[Tensor, " n"]]:
        """Each irrep's character ``chi(x) = tr rho(x)``."""
        return {name: character(rho) for name, rho in self.irreps().items()}


# ---- helpers on characters and representations -------------------------------------


def character(rho: Float[Tensor, "n d d"]) -> Float[Tensor, " n"]:
    """``tr rho(x)`` for every element."""
    return rho.diagonal(dim1=-2, dim2=-1).sum(-1)


def inner(a: Float[Tensor, " n"], b: Float[Tensor, " n"]) -> float:
    """``<a, b> = mean_g a(g) b(g)``, the inner product of real class functions (1 for a
    real-type irreducible character with itself, 2 for a complex-type one, 0 between
    inequivalent irreps)."""
    return float((a * b).mean())


def frobenius_schur(group: Group, chi: Float[Tensor, " n"]) -> float:
    """``mean_g chi(g^2)``: 1 for a real-type irrep, 0 for a complex-type one realised
    over the reals, -2 for a quaternionic one so realised (module docstring)."""
    squares = group.table[torch.arange(group.order), torch.arange(group.order)]
    return float(chi[squares].mean())


def entry_basis(rho: Float[Tensor, "n d d"], tol: float = 1e-8) -> Float[Tensor, "n m"]:
    """An orthonormal basis (columns) of the span of ``rho``'s matrix entries as functions
    on the group: ``d^2`` columns for a real-type irrep, ``d^2 / 2`` for a complex-type
    one (Chughtai et al.'s ``compute_orth_rep``, which QR-decomposes the ``(n, d^2)``
    entries and keeps the first two columns for C_n's 2-d irreps, spans the same)."""
    entries = rho.reshape(rho.shape[0], -1).double()
    u, s, _ = torch.linalg.svd(entries, full_matrices=False)
    return u[:, : int((s > tol * s[0]).sum())]


# ---- tables ------------------------------------------------------------------------


def _perm_table(perms: list[tuple[int, ...]]) -> Int[Tensor, "n n"]:
    """``table[x, y]`` = index of ``x o y`` (``(x o y)(i) = x[y[i]]``) among ``perms``."""
    p = torch.tensor(perms, dtype=torch.long).reshape(len(perms), -1)
    k = p.shape[1]
    composed = p[:, p]  # composed[x, y, i] = p[x, p[y, i]]
    weights = k ** torch.arange(k)
    lookup = torch.full((k**k,), -1, dtype=torch.long)
    lookup[(p * weights).sum(-1)] = torch.arange(len(perms))
    return lookup[(composed * weights).sum(-1)]


def _inverse(table: Int[Tensor, "n n"], identity: int) -> Int[Tensor, " n"]:
    return (table == identity).long().argmax(1)


def _make(name: str, family: Family, degree: int, elements: list[Hashable],
          table: Int[Tensor, "n n"]) -> Group:  # fmt: skip
    return Group(name, family, degree, tuple(elements), table, _inverse(table, 0), 0)


def _is_even(perm: tuple[int, ...]) -> bool:
    inversions = sum(a > b for a, b in itertools.combinations(perm, 2))
    return inversions % 2 == 0


# ---- constructors ------------------------------------------------------------------


def cyclic(n: int) -> Group:
    """C_n: element i is i, ``x y = (x + y) mod n``."""
    _need(n >= 1, f"C{n}: the cyclic group needs n >= 1")
    r = torch.arange(n)
    return _make(f"C{n}", "cyclic", n, list(range(n)), (r[:, None] + r[None, :]) % n)


def dihedral(n: int) -> Group:
    """D_n of order 2n: element ``r + n s`` is ``(r, s)``, the map ``k -> r + (-1)^s k``
    of Z_n; ``(a, s)(b, t) = (a + (-1)^s b, s + t)``."""
    _need(n >= 3, f"D{n}: the dihedral group needs n >= 3")
    r = torch.arange(2 * n) % n
    s = torch.arange(2 * n) // n
    rot = (r[:, None] + (1 - 2 * s[:, None]) * r[None, :]) % n
    ref = (s[:, None] + s[None, :]) % 2
    elements: list[Hashable] = [(i % n, i // n) for i in range(2 * n)]
    return _make(f"D{n}", "dihedral", n, elements, rot + n * ref)


def symmetric(n: int) -> Group:
    """S_n (n <= 6): permutation tuples in lexicographic order, ``(x y)(i) = x(y(i))``."""
    _need(1 <= n <= MAX_SYMMETRIC, f"S{n}: symmetric groups S1 .. S{MAX_SYMMETRIC} only")
    perms = list(itertools.permutations(range(n)))
    return _make(f"S{n}", "symmetric", n, list(perms), _perm_table(perms))


def alternating(n: int) -> Group:
    """A_n (n <= 5): the even permutations, in S_n's order and product."""
    _need(1 <= n <= MAX_ALTERNATING, f"A{n}: alternating groups A1 .. A{MAX_ALTERNATING} only")
    perms = [p for p in itertools.permutations(range(n)) if _is_even(p)]
    return _make(f"A{n}", "alternating", n, list(perms), _perm_table(perms))


_CONSTRUCTORS: dict[str, Callable[[int], Group]] = {
    "C": cyclic, "D": dihedral, "S": symmetric, "A": alternating,
}  # fmt: skip


def group(name: str) -> Group:
    """The group a name gives: ``"C113"``, ``"D59"``, ``"S5"``, ``"A5"``."""
    found = re.fullmatch(r"([CDSA])(\d+)", name.strip())
    if found is None:
        raise ValueError(f"unknown group {name!r}: give C<n>, D<n>, S<n> (n <= {MAX_SYMMETRIC}) "
                         f"or A<n> (n <= {MAX_ALTERNATING}), e.g. 'S5'")  # fmt: skip
    return _CONSTRUCTORS[found[1]](int(found[2]))


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


# ---- irreps: cyclic and dihedral -----------------------------------------------------


def _rotations(angle: Float[Tensor, " n"]) -> Float[Tensor, "n 2 2"]:
    c, s = torch.cos(angle), torch.sin(angle)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


def _one_dim(values: Real[Tensor, " n"]) -> Float[Tensor, "n 1 1"]:
    return values.double().reshape(-1, 1, 1)


def _cyclic_irreps(g: Group) -> dict[str, Float[Tensor, "n _d _d"]]:
    n = g.degree
    i = torch.arange(n, dtype=torch.float64)
    out = {"trivial": _one_dim(torch.ones(n))}
    if n % 2 == 0:
        out["sign"] = _one_dim(1 - 2 * (torch.arange(n) % 2))
    for k in range(1, math.ceil(n / 2)):
        out[f"freq_{k}"] = _rotations(2 * math.pi * k * i / n)
    return out


def _dihedral_irreps(g: Group) -> dict[str, Float[Tensor, "n _d _d"]]:
    n = g.degree
    r = torch.arange(2 * n) % n
    s = torch.arange(2 * n) // n
    out = {"trivial": _one_dim(torch.ones(2 * n)), "sign": _one_dim(1 - 2 * s)}
    if n % 2 == 0:
        out["sign_r"] = _one_dim(1 - 2 * (r % 2))
        out["sign_rs"] = _one_dim(1 - 2 * ((r + s) % 2))
    flip = torch.stack([torch.eye(2, dtype=torch.float64), torch.diag(torch.tensor([1.0, -1.0],
                        dtype=torch.float64))])  # fmt: skip
    for k in range(1, (n - 1) // 2 + 1):
        out[f"freq_{k}"] = _rotations(2 * math.pi * k * r.double() / n) @ flip[s]
    return out


# ---- irreps: symmetric (Young's orthogonal form) and alternating ---------------------


def _partitions(n: int, largest: int | None = None) -> list[Partition]:
    """The partitions of n, in decreasing lexicographic order."""
    if n == 0:
        return [()]
    top = n if largest is None else min(n, largest)
    return [(k, *rest) for k in range(top, 0, -1) for rest in _partitions(n - k, k)]


def _conjugate(shape: Partition) -> Partition:
    return tuple(sum(1 for row in shape if row > j) for j in range(shape[0])) if shape else ()


def _tableaux(shape: Partition) -> list[tuple[tuple[int, int], ...]]:
    """The standard Young tableaux of ``shape``: for each, the (row, column) of the entries
    0 .. n-1."""

    def addable(rows: tuple[int, ...], r: int) -> bool:
        return rows[r] < shape[r] and (r == 0 or rows[r - 1] > rows[r])

    def grow(rows: tuple[int, ...], cells: tuple[tuple[int, int], ...]) -> list:
        if sum(rows) == sum(shape):
            return [cells]
        out = []
        for r in range(len(shape)):
            if addable(rows, r):
                out += grow(rows[:r] + (rows[r] + 1,) + rows[r + 1 :], cells + ((r, rows[r]),))
        return out

    return grow((0,) * len(shape), ())


def _young_generator(tableaux: list[tuple[tuple[int, int], ...]], k: int) -> Float[Tensor, "d d"]:
    """Young's orthogonal form of the transposition of entries k and k + 1: ``1/r`` on the
    diagonal and ``sqrt(1 - 1/r^2)`` between a tableau and its swap, with ``r`` the
    axial distance (content of k + 1 minus content of k)."""
    index = {t: a for a, t in enumerate(tableaux)}
    m = torch.zeros(len(tableaux), len(tableaux), dtype=torch.float64)
    for a, t in enumerate(tableaux):
        (r1, c1), (r2, c2) = t[k], t[k + 1]
        dist = (c2 - r2) - (c1 - r1)
        m[a, a] = 1 / dist
        swapped = t[:k] + (t[k + 1], t[k]) + t[k + 2 :]
        if swapped in index:
            m[index[swapped], a] = math.sqrt(1 - 1 / dist**2)
    return m


def _from_generators(g: Group, gens: dict[int, Float[Tensor, "d d"]]) -> Float[Tensor, "n d d"]:
    """The homomorphism fixed by the images of some generators (element index ->
    matrix), by breadth-first search over right multiplication:
    ``rho(x s) = rho(x) rho(s)``."""
    d = next(iter(gens.values())).shape[0]
    rho = torch.zeros(g.order, d, d, dtype=torch.float64)
    rho[g.identity] = torch.eye(d, dtype=torch.float64)
    known = torch.zeros(g.order, dtype=torch.bool)
    known[g.identity] = True
    frontier = torch.tensor([g.identity])
    while len(frontier):
        reached = []
        for s, m in gens.items():
            nxt = g.table[frontier, s]
            new = ~known[nxt]
            rho[nxt[new]] = rho[frontier[new]] @ m
            known[nxt[new]] = True
            reached.append(nxt[new])
        frontier = torch.cat(reached)
    return rho


def _specht(g: Group, shape: Partition) -> Float[Tensor, "n d d"]:
    """S_n's irrep of ``shape`` (Young's orthogonal form) on the symmetric group ``g``."""
    n = g.degree
    tableaux = _tableaux(shape)
    gens = {}
    for k in range(n - 1):
        swap = list(range(n))
        swap[k], swap[k + 1] = k + 1, k
        gens[g.index(tuple(swap))] = _young_generator(tableaux, k)
    if not gens:  # S1
        return torch.ones(1, 1, 1, dtype=torch.float64)
    return _from_generators(g, gens)


def _symmetric_name(n: int, shape: Partition) -> str:
    """A partition's name; where two names fit (S3's (2, 1) is standard and standard_sign,
    S2's (1, 1) sign and standard) the first of trivial, sign, standard, standard_sign."""
    special = [((n,), "trivial"), ((1,) * n, "sign"), ((n - 1, 1), "standard"),
               ((2,) + (1,) * (n - 2), "standard_sign")]  # fmt: skip
    for fits, name in special:
        if shape == fits:
            return name
    return _SYMMETRIC_NAMES[n][shape]


def _by_authors_order(irreps: dict[str, Tensor], named: list[str]) -> dict[str, Tensor]:
    """``irreps`` in the order of ``named`` (the authors' order, then ours)."""
    return {name: irreps[name] for name in named if name in irreps}


def _symmetric_order(n: int) -> list[str]:
    return ["trivial", "sign", "standard", "standard_sign", *_SYMMETRIC_NAMES.get(n, {}).values()]


def _symmetric_irreps(g: Group) -> dict[str, Float[Tensor, "n _d _d"]]:
    n = g.degree
    # the first partition to claim a name keeps it (S3: (2,1) is standard and standard_sign)
    found: dict[str, Tensor] = {}
    for shape in _partitions(n):
        found.setdefault(_symmetric_name(n, shape), _specht(g, shape))
    return _by_authors_order(found, _symmetric_order(n))


def _split(g: Group, rho: Float[Tensor, "n d d"]) -> tuple[Tensor, Tensor]:
    """The two halves of a real representation whose commutant is R + R: the eigenspaces
    of an invariant symmetric matrix ``sum_g rho(g) S rho(g)^T``; ``S`` is a fixed
    pseudo-random symmetric matrix, so the two eigenvalues differ."""
    d = rho.shape[-1]
    seed = torch.Generator().manual_seed(0)
    s = torch.randn(d, d, generator=seed, dtype=torch.float64)
    invariant = torch.einsum("gab,bc,gdc->ad", rho, s + s.T, rho)
    values, vectors = torch.linalg.eigh(invariant)
    half = d // 2
    if values[half] - values[half - 1] < 1e-6 * values.abs().max():
        raise ArithmeticError("could not split a representation: eigenvalues too close")
    lo, hi = vectors[:, :half], vectors[:, half:]
    return lo.T @ rho @ lo, hi.T @ rho @ hi


def _alternating_irreps(g: Group) -> dict[str, Float[Tensor, "n _d _d"]]:
    n = g.degree
    parent = symmetric(n)
    inside = torch.tensor([parent.index(x) for x in g.elements])
    found: dict[str, Tensor] = {}
    for shape in _partitions(n):
        conj = _conjugate(shape)
        if shape < conj:
            continue  # restricts as its conjugate, met first
        rho = _specht(parent, shape)[inside]
        chi = character(rho)
        if shape != conj or inner(chi, chi) < 1.5 or frobenius_schur(g, chi) < 1:
            name = _ALTERNATING_NAMES.get(shape) or _symmetric_name(n, shape)
            found[name] = rho
            continue
        first, second, witness = _SPLIT_NAMES[shape]
        halves = sorted(_split(g, rho), key=lambda h: -float(character(h)[g.index(witness)]))
        found[first], found[second] = halves
    named = ["trivial", "standard", "a5_5d_a", "a5_3d_a", "a5_3d_b", "a4_2d"]
    return _by_authors_order(found, named)


_IRREPS: dict[str, Callable[[Group], dict[str, Tensor]]] = {
    "cyclic": _cyclic_irreps,
    "dihedral": _dihedral_irreps,
    "symmetric": _symmetric_irreps,
    "alternating": _alternating_irreps,
}


# ---- Chughtai et al.'s element order ---------------------------------------------------


def _sympy_elements(name: str) -> list[tuple[int, ...]]:
    """Sympy's ``G._elements`` (array forms) for the groups in ``_SYMPY_TRANSVERSALS``:
    for each choice of one transversal element per base point, last base point's
    outermost, the composite ``u_0 o u_1 o ... o u_last`` (generate_schreier_sims)."""
    levels = [[tuple(int(c) for c in word) for word in level.split()]
              for level in _SYMPY_TRANSVERSALS[name]]  # fmt: skip
    out = []
    for choice in itertools.product(*reversed(levels)):
        p = tuple(range(len(choice[0])))
        for t in choice:
            p = tuple(t[i] for i in p)
        out.append(p)
    return out


def _inverse_perm(p: tuple[int, ...]) -> tuple[int, ...]:
    out = [0] * len(p)
    for i, j in enumerate(p):
        out[j] = i
    return tuple(out)


def chughtai_order(name: str) -> Int[Tensor, " n"]:
    """For each element index ``i`` in Chughtai et al.'s order, the index of the same
    element in ours (module docstring): ``ours = chughtai_order(name)[theirs]``, with
    ``ours[table_theirs[i, j]] == table[ours[i], ours[j]]``. Their cyclic and dihedral
    orders are ours; their permutation groups are sympy's, whose product is composed the
    other way, so their permutation ``p`` is our element ``p^-1``."""
    g = group(name)
    if g.family in ("cyclic", "dihedral"):
        return torch.arange(g.order)
    if g.name not in _SYMPY_TRANSVERSALS:
        raise ValueError(f"{name}: Chughtai et al.'s code has no {g.family} group of degree "
                         f"{g.degree} (it has {', '.join(_SYMPY_TRANSVERSALS)})")  # fmt: skip
    return torch.tensor([g.index(_inverse_perm(p)) for p in _sympy_elements(g.name)])
