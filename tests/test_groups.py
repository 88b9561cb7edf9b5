"""Finite groups and their real irreps (grok_interp.groups): tables, homomorphisms,
character orthogonality, the real form of the squared-dimension sum, Chughtai et al.'s
names and element order."""

from __future__ import annotations

import json
import math

import pytest
import torch

from grok_interp import groups
from grok_interp.groups import Group, character, entry_basis, frobenius_schur, inner
from grok_interp.tasks import s5_table
from tests.conftest import EXTERNAL, external

NAMES = ["C7", "C8", "C113", "D4", "D5", "D59", "S4", "S5", "S6", "A4", "A5"]
CHUGHTAI_GROUPS = EXTERNAL / "chughtai_groups"

# The characters of Chughtai et al.'s representations per cycle type, computed from their
# definitions (rep_theory/utils/groups.py: the natural-representation construction of
# standard, the sign times it, and the generator matrices of s4_2d, s5_5d_a, s5_5d_b,
# s5_6d, s6_5d_a, s6_5d_b multiplied along sympy's generator words, on sympy 1.11.1).
# Cycle types in the order of ``_TYPES``.
_TYPES = {
    4: [(1, 1, 1, 1), (2, 1, 1), (2, 2), (3, 1), (4,)],
    5: [(1, 1, 1, 1, 1), (2, 1, 1, 1), (2, 2, 1), (3, 1, 1), (3, 2), (4, 1), (5,)],
    6: [(1, 1, 1, 1, 1, 1), (2, 1, 1, 1, 1), (2, 2, 1, 1), (2, 2, 2), (3, 1, 1, 1), (3, 2, 1),
        (3, 3), (4, 1, 1), (4, 2), (5, 1), (6,)],
}  # fmt: skip
AUTHORS_CHARACTERS = {
    4: {"sign": [1, -1, 1, 1, -1], "standard": [3, 1, -1, 0, -1],
        "standard_sign": [3, -1, -1, 0, 1], "s4_2d": [2, 0, 2, -1, 0]},
    5: {"sign": [1, -1, 1, 1, -1, -1, 1], "standard": [4, 2, 0, 1, -1, 0, -1],
        "standard_sign": [4, -2, 0, 1, 1, 0, -1], "s5_5d_a": [5, -1, 1, -1, -1, 1, 0],
        "s5_5d_b": [5, 1, 1, -1, 1, -1, 0], "s5_6d": [6, 0, -2, 0, 0, 0, 1]},
    6: {"sign": [1, -1, 1, -1, 1, -1, 1, -1, 1, 1, -1],
        "standard": [5, 3, 1, -1, 2, 0, -1, 1, -1, 0, -1],
        "standard_sign": [5, -3, 1, 1, 2, 0, -1, -1, -1, 0, 1],
        "s6_5d_a": [5, 1, 1, -3, -1, 1, 2, -1, -1, 0, 0],
        "s6_5d_b": [5, -1, 1, 3, -1, -1, 2, 1, -1, 0, 0]},
}  # fmt: skip


@pytest.fixture(scope="module", params=NAMES)
def named(request) -> tuple[Group, dict[str, torch.Tensor]]:
    g = groups.group(request.param)
    return g, g.irreps()


def _cycle_type(perm: tuple[int, ...]) -> tuple[int, ...]:
    seen, lengths = set(), []
    for start in range(len(perm)):
        k, i = 0, start
        while i not in seen:
            seen.add(i)
            i, k = perm[i], k + 1
        if k:
            lengths.append(k)
    return tuple(sorted(lengths, reverse=True))


def test_table_is_a_group(named):
    g, _ = named
    n, t = g.order, g.table
    ar = torch.arange(n)
    assert torch.equal(t[g.identity], ar) and torch.equal(t[:, g.identity], ar)
    assert torch.equal(t[ar, g.inverse], torch.full((n,), g.identity))
    assert torch.equal(t[g.inverse, ar], torch.full((n,), g.identity))
    assert torch.equal(t.sort(1).values, ar.expand(n, n))  # a Latin square
    x, y, z = torch.randint(0, n, (3, 20_000), generator=torch.Generator().manual_seed(0))
    assert torch.equal(t[t[x, y], z], t[x, t[y, z]])


def test_irreps_are_orthogonal_homomorphisms(named):
    g, irreps = named
    for name, rho in irreps.items():
        assert rho.dtype == torch.float64
        eye = torch.eye(rho.shape[-1], dtype=torch.float64)
        assert torch.allclose(rho @ rho.transpose(1, 2), eye.expand_as(rho), atol=1e-12), name
        # every x up to 200 elements; beyond (S6: 518,400 pairs) 64 seeded x against every y
        xs = torch.arange(g.order) if g.order <= 200 else torch.randperm(
            g.order, generator=torch.Generator().manual_seed(0))[:64]  # fmt: skip
        for x in xs.split(64):
            prod = torch.einsum("xab,ybc->xyac", rho[x], rho)
            want = rho[g.table[x].reshape(-1)].reshape(prod.shape)
            assert (prod - want).abs().max() < 1e-10, name


def test_irreducible_and_inequivalent_over_the_reals(named):
    """Character orthogonality; <chi, chi> = 1 with indicator 1 (real type) or 2 with
    indicator 0 (complex type, realised in 2-d); sum of d^2 / <chi, chi> = |G|."""
    g, irreps = named
    chars = {name: character(rho) for name, rho in irreps.items()}
    names = list(chars)
    total = 0.0
    for i, a in enumerate(names):
        norm, fs = inner(chars[a], chars[a]), frobenius_schur(g, chars[a])
        assert (round(norm), round(fs)) in {(1, 1), (2, 0)}, (a, norm, fs)
        assert abs(norm - round(norm)) < 1e-9 and abs(fs - round(fs)) < 1e-9
        d = irreps[a].shape[-1]
        assert entry_basis(irreps[a]).shape[1] == d * d // round(norm)
        total += d * d / norm
        for b in names[i + 1 :]:
            assert abs(inner(chars[a], chars[b])) < 1e-9, (a, b)
    assert abs(total - g.order) < 1e-9


def test_complex_type_irreps_are_where_expected():
    c = groups.cyclic(7)
    complex_type = {n for n, chi in c.characters().items() if abs(frobenius_schur(c, chi)) < 1e-9}
    assert complex_type == {"freq_1", "freq_2", "freq_3"}
    g = groups.alternating(4)
    assert frobenius_schur(g, g.characters()["a4_2d"]) == pytest.approx(0, abs=1e-12)
    d = groups.dihedral(5)
    assert all(frobenius_schur(d, c) == pytest.approx(1) for c in d.characters().values())


@pytest.mark.parametrize("n", [4, 5, 6])
def test_symmetric_names_match_the_authors_characters(n):
    g = groups.symmetric(n)
    chars = g.characters()
    types = [_cycle_type(p) for p in g.elements]  # type: ignore[arg-type]
    for name, row in AUTHORS_CHARACTERS[n].items():
        want = torch.tensor([float(row[_TYPES[n].index(t)]) for t in types], dtype=torch.float64)
        assert torch.allclose(chars[name], want, atol=1e-9), name


def test_standard_and_alternating_characters():
    s6 = groups.symmetric(6)
    fixed = torch.tensor([sum(i == p[i] for i in range(6)) for p in s6.elements])  # type: ignore
    assert torch.allclose(s6.characters()["standard"], fixed.double() - 1)
    a5 = groups.alternating(5)
    chars = a5.characters()
    cycle = a5.index((1, 2, 3, 4, 0))
    golden = (1 + math.sqrt(5)) / 2
    assert chars["a5_3d_a"][cycle] == pytest.approx(golden)
    assert chars["a5_3d_b"][cycle] == pytest.approx(1 - golden)
    # a5_3d_b is a5_3d_a twisted by the transposition (0 1), as the authors define it
    h = (1, 0, 2, 3, 4)
    twist = [a5.index(tuple(h[g[h[i]]] for i in range(5))) for g in a5.elements]  # type: ignore
    assert torch.allclose(chars["a5_3d_a"][twist], chars["a5_3d_b"])
    assert set(chars) == {"trivial", "standard", "a5_5d_a", "a5_3d_a", "a5_3d_b"}


def test_symmetric5_is_the_packages_s5():
    g = groups.symmetric(5)
    table, inverse = s5_table()
    assert torch.equal(g.table, table) and torch.equal(g.inverse, inverse)
    assert g.elements[0] == (0, 1, 2, 3, 4) and g.identity == 0


def test_cyclic_is_z_p_and_dihedral_is_the_authors():
    c = groups.cyclic(113)
    r = torch.arange(113)
    assert c.elements == tuple(range(113)) and torch.equal(c.table, (r[:, None] + r) % 113)
    d = groups.dihedral(7)

    def compose(x: int, y: int) -> int:  # their DihedralGroup.compose, written anew
        (xr, xs), (yr, ys) = (x % 7, x // 7), (y % 7, y // 7)
        return ((xr + yr) % 7 + 7 * ys) if xs == 0 else ((xr - yr) % 7 + 7 * ((1 + ys) % 2))

    assert d.table.tolist() == [[compose(x, y) for y in range(14)] for x in range(14)]


@pytest.mark.parametrize("run", ["S5_T_seed1", "D59_T_seed1", "A5_T_seed1"])
def test_names_match_the_authors_files(run):
    folder = external(CHUGHTAI_GROUPS / run)
    g = groups.group(run.split("_")[0])
    names = list(g.irreps())
    assert names == (folder / "irreps.txt").read_text().split()
    assert set((folder / "key_reps.txt").read_text().split()) <= set(names)
    assert _summary_names(folder) == set(names)


def test_c113_names_match_the_authors_summary():
    folder = external(EXTERNAL / "chughtai_C113_T_seed1")
    assert _summary_names(folder) == set(groups.cyclic(113).irreps())


def _summary_names(folder) -> set[str]:
    keys = json.loads((folder / "summary_metrics.json").read_text())
    prefix = "percent_x_embed_"
    found = [k for k in keys if k.startswith(prefix) and k.endswith("_rep")]
    return {k[len(prefix) : -len("_rep")] for k in found}


@pytest.mark.parametrize("name", ["S3", "S4", "S5", "S6", "A5"])
def test_chughtai_order_is_sympys_with_inverses(name):
    """Their element i is sympy's ``G._elements[i]`` (``generate()`` in newer sympy); their
    product is sympy's ``p*q`` (p first); ours maps i to the inverse permutation."""
    combinatorics = pytest.importorskip("sympy.combinatorics")
    n = int(name[1:])
    if name[0] == "S":
        theirs = combinatorics.named_groups.SymmetricGroup(n)
    else:
        perm = combinatorics.Permutation
        theirs = combinatorics.PermutationGroup(perm(0, 1, 2, 3, 4), perm(1, 2)(3, 4))
    perms = [tuple(p.array_form) for p in theirs.generate()]
    g, order = groups.group(name), groups.chughtai_order(name)
    inverse = [tuple(sorted(range(n), key=p.__getitem__)) for p in perms]
    assert order.tolist() == [g.index(q) for q in inverse]
    index = {p: i for i, p in enumerate(perms)}
    their_table = torch.tensor([[index[tuple(q[p[i]] for i in range(n))] for q in perms]
                                for p in perms])  # fmt: skip
    assert torch.equal(order[their_table], g.table[order[:, None], order[None, :]])


@pytest.mark.parametrize("name", ["C113", "D59"])
def test_chughtai_order_cyclic_dihedral_is_ours(name):
    assert torch.equal(groups.chughtai_order(name), torch.arange(groups.group(name).order))


@pytest.mark.parametrize("name", ["X5", "S7", "A6", "D2", "C0", "S", "s5 "])
def test_unknown_or_unsupported_names(name):
    with pytest.raises(ValueError) as err:
        groups.group(name)
    assert "\n" not in str(err.value)


def test_chughtai_order_refuses_groups_their_code_lacks():
    with pytest.raises(ValueError, match="A4"):
        groups.chughtai_order("A4")
