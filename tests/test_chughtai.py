"""Chughtai et al.'s checkpoints (grok_interp.chughtai) and their metrics
(grok_interp.analyses.irreps) on the authors' own files: the converted model gives their
model's logits, and the metrics give the numbers of their summary_metrics.json."""

from __future__ import annotations

import copy
import json
import math
import shutil

import pytest
import torch
import torch.nn.functional as F

from grok_interp import groups
from grok_interp.analyses.common import result_json
from grok_interp.analyses.irreps import (
    IrrepsResult,
    from_tensors,
    irrep_metrics,
    irreps,
    model_pairs,
)
from grok_interp.chughtai import chughtai_train_pairs, is_chughtai, load_chughtai
from grok_interp.errors import CheckpointError
from tests.conftest import EXTERNAL, external

RUNS = {
    "S5": EXTERNAL / "chughtai_groups" / "S5_T_seed1",
    "D59": EXTERNAL / "chughtai_groups" / "D59_T_seed1",
    "A5": EXTERNAL / "chughtai_groups" / "A5_T_seed1",
    "C113": EXTERNAL / "chughtai_C113_T_seed1",
}
# summary_metrics.json's key for each of our per-irrep metrics
THEIR_KEY = {"logit_trace_similarity": "logit_{}_rep_trace_similarity",
             "percent_hidden": "total_percent_hidden_{}_rep"}  # fmt: skip
# Their A5 3-d matrices are not representations (grok_interp.groups' docstring): every
# metric of those two differs, and only a5_3d_a is key on the true irreps.
NOT_REPRESENTATIONS = {"A5": {"a5_3d_a", "a5_3d_b"}}
# Their hidden-layer QR of C_n's 2-d irreps keeps two spurious columns (analyses.irreps).
CYCLIC_HIDDEN = ("percent_hidden", "hidden_")


@pytest.fixture(scope="module", params=list(RUNS))
def run(request):
    folder = external(RUNS[request.param])
    model, group, cfg = load_chughtai(folder)
    sd = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
    summary = json.loads((folder / "summary_metrics.json").read_text())
    return request.param, folder, model, group, cfg, sd, summary


@pytest.fixture(scope="module")
def result(run) -> IrrepsResult:
    _, _, model, group, cfg, _, _ = run
    return irreps(model, group, train=chughtai_train_pairs(group, cfg))


def their_forward(sd: dict[str, torch.Tensor], tokens: torch.Tensor) -> torch.Tensor:
    """Their model's forward, in float64, written from their code: the ``Transformer`` of
    rep_theory/utils/models.py is TransformerLens 0.2's HookedTransformer with n_layers 1,
    no LayerNorm, ReLU, default (causal) attention scaled by sqrt(d_head), the mask's
    ignored scores set to its IGNORE value, input ``x y =``, logits at the last position."""
    w = {k: v.double() for k, v in sd.items()}
    resid = w["embed.W_E"][tokens] + w["pos_embed.W_pos"][: tokens.shape[1]]
    a = "blocks.0.attn."
    q, k, v = (torch.einsum("bpd,hde->bphe", resid, w[a + f"W_{c}"]) + w[a + f"b_{c}"]
               for c in "QKV")  # fmt: skip
    scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(q.shape[-1])
    scores = torch.where(sd[a + "mask"], scores, w[a + "IGNORE"])
    z = torch.einsum("bkhe,bhqk->bqhe", v, scores.softmax(-1))
    resid = resid + torch.einsum("bqhe,hed->bqd", z, w[a + "W_O"]) + w[a + "b_O"]
    post = F.relu(resid @ w["blocks.0.mlp.W_in"] + w["blocks.0.mlp.b_in"])
    resid = resid + post @ w["blocks.0.mlp.W_out"] + w["blocks.0.mlp.b_out"]
    return (resid @ w["unembed.W_U"] + w["unembed.b_U"])[:, -1]


def _all_pairs(n: int) -> torch.Tensor:
    x, y = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    return torch.stack([x.flatten(), y.flatten(), torch.full((n * n,), n)], 1)


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-11)])
def test_converted_model_gives_their_logits(run, dtype, tol):
    """Their pair (i, j) and class c are ours at chughtai_order; all n^2 pairs, relative to
    the largest logit (float32 rounding; float64 agrees to 1e-13)."""
    _, _, model, group, _, sd, _ = run
    model = copy.deepcopy(model).to(dtype)
    n, order = group.order, groups.chughtai_order(group.name)
    theirs = _all_pairs(n)
    ours = torch.stack([order[theirs[:, 0]], order[theirs[:, 1]], theirs[:, 2]], 1)
    for chunk in torch.arange(n * n).split(4096):
        want = their_forward(sd, theirs[chunk])
        with torch.no_grad():
            got = model(ours[chunk])[:, -1][:, order].double()
        assert (got - want).abs().max() < tol * max(1.0, float(want.abs().max()))


def test_loss_over_all_pairs_on_our_table(run):
    _, _, model, group, _, _, summary = run
    n = group.order
    with torch.no_grad():
        logits = torch.cat([model(t)[:, -1] for t in _all_pairs(n).split(4096)]).double()
    loss = F.cross_entropy(logits, group.table.flatten())
    assert loss < 1e-3
    assert float(loss) == pytest.approx(summary["all_loss"], rel=1e-3)


def test_their_split_gives_their_train_and_test_loss(run, result):
    _, _, _, _, _, _, summary = run
    for name in ("train_loss", "test_loss"):
        assert result.totals[name] == pytest.approx(summary[name], rel=1e-3)


def test_key_irreps_are_the_authors(run, result):
    """key_reps.txt where the fixture has it; else the authors' rule on their similarities
    (above 0.005). A5: see NOT_REPRESENTATIONS."""
    name, folder, _, _, _, _, summary = run
    theirs = [k[len("logit_") : -len("_rep_trace_similarity")] for k, v in summary.items()
              if k.endswith("_rep_trace_similarity") and v > 0.005]  # fmt: skip
    key_file = folder / "key_reps.txt"
    if key_file.exists():
        assert theirs == key_file.read_text().split()
    if name == "A5":
        assert result.key == ("a5_3d_a",)
        assert result.per_irrep["a5_3d_b"]["logit_trace_similarity"] < 1e-3
    else:
        assert list(result.key) == theirs


def test_per_irrep_metrics_match_their_summary(run, result):
    name, _, _, group, _, _, summary = run
    skip = NOT_REPRESENTATIONS.get(name, set())
    compared = 0
    for irrep, vals in result.per_irrep.items():
        for metric, ours in vals.items():
            key = THEIR_KEY.get(metric, metric + "_{}_rep").format(irrep)
            cyclic_hidden = group.family == "cyclic" and metric.startswith(CYCLIC_HIDDEN)
            if irrep in skip or cyclic_hidden or key not in summary:
                continue
            assert ours == pytest.approx(summary[key], abs=1e-4, rel=1e-4), (irrep, metric)
            compared += 1
    assert compared >= 3 * len(result.per_irrep) - 2 * len(skip)
    for irrep in result.per_irrep:  # the brief's two, at the brief's tolerance
        if irrep in skip:
            continue
        for metric in ("percent_x_embed", "logit_excluded_loss"):
            key = f"{metric}_{irrep}_rep"
            if key in summary:
                assert abs(result.per_irrep[irrep][metric] - summary[key]) < 1e-2


def test_totals_match_their_summary(run, result):
    name, _, _, group, _, _, summary = run
    if name in NOT_REPRESENTATIONS:
        return
    for key, ours in result.totals.items():
        if key in summary and not (group.family == "cyclic" and "hidden" in key):
            assert ours == pytest.approx(summary[key], abs=1e-6, rel=1e-4), key


def _their_a5_3d(group: groups.Group) -> dict[str, torch.Tensor]:
    """Their a5_3d_a and a5_3d_b, rewritten from rep_theory/utils/groups.py: the rotation
    with rotation vector (2 pi / 5) a (1/2, (1 + sqrt 5)/5, 0), a = sqrt(8 / (5 + sqrt 5)),
    for (0 1 2 3 4), its inverse for (4 3 2 1 0), diag(-1, 1, -1) for (1 2)(3 4),
    multiplied along sympy's generator words; b is a at h g h, h = (0 1). Moved to our
    element order."""
    combinatorics = pytest.importorskip("sympy.combinatorics")
    perm = combinatorics.Permutation
    vec = torch.tensor([0.5, (1 + math.sqrt(5)) / 5, 0.0], dtype=torch.float64)
    vec = vec * 2 * math.pi / 5 * math.sqrt(8 / (5 + math.sqrt(5)))
    theta, (kx, ky, kz) = float(vec.norm()), (vec / vec.norm()).tolist()
    cross = torch.tensor([[0, -kz, ky], [kz, 0, -kx], [-ky, kx, 0]], dtype=torch.float64)
    rot = torch.eye(3, dtype=torch.float64) + math.sin(theta) * cross
    rot = rot + (1 - math.cos(theta)) * cross @ cross
    flip = torch.diag(torch.tensor([-1.0, 1.0, -1.0], dtype=torch.float64))
    gens = {perm(0, 1, 2, 3, 4): rot, perm(4, 3, 2, 1, 0): rot.T, perm(1, 2)(3, 4): flip}
    theirs = combinatorics.PermutationGroup(perm(0, 1, 2, 3, 4), perm(1, 2)(3, 4))
    elements = list(theirs.generate())
    eye = torch.eye(3, dtype=torch.float64)
    a = torch.stack([torch.linalg.multi_dot([eye, eye, *(gens[w] for w in
                     theirs.generator_product(p, original=True))]) for p in elements])  # fmt: skip
    h = perm(0, 1)
    b = a[[elements.index(h * p * h) for p in elements]]
    order = groups.chughtai_order("A5")
    out = {}
    for name, rep in (("a5_3d_a", a), ("a5_3d_b", b)):
        out[name] = torch.empty_like(rep)
        out[name][order] = rep
    return out


def test_their_a5_matrices_give_their_a5_numbers():
    """With their A5 3-d matrices in place of the irreps, the same metrics give every number
    of their A5 summary and their key irreps: the A5 differences are the matrices'."""
    folder = external(RUNS["A5"])
    model, group, cfg = load_chughtai(folder)
    reps = group.irreps() | _their_a5_3d(group)
    n = group.order
    w_e, w_l = model.W_E[:n], model.blocks[0].mlp.W_out @ model.W_U[:, :n]
    res = irrep_metrics(group, w_e, w_e, w_l, model_pairs(model, n),
                        train=chughtai_train_pairs(group, cfg), reps=reps)  # fmt: skip
    summary = json.loads((folder / "summary_metrics.json").read_text())
    assert list(res.key) == (folder / "key_reps.txt").read_text().split()
    for irrep, vals in res.per_irrep.items():
        for metric, ours in vals.items():
            key = THEIR_KEY.get(metric, metric + "_{}_rep").format(irrep)
            if key in summary:
                assert ours == pytest.approx(summary[key], abs=1e-4, rel=1e-4), (irrep, metric)


def _copy(folder, tmp_path, **changes):
    shutil.copy(folder / "model.pt", tmp_path / "model.pt")
    cfg = json.loads((folder / "cfg.json").read_text()) | changes
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    return tmp_path


@pytest.mark.parametrize("changes, words", [
    ({"group_parameter": 6}, "S6"),
    ({"group": "QuaternionGroup"}, "unknown group"),
    ({"group": "AlternatingGroup", "group_parameter": 7}, "A7"),
    ({"model": "OneLayerMLP"}, "OneLayerMLP"),
])  # fmt: skip
def test_refuses_a_cfg_that_disagrees(tmp_path, changes, words):
    folder = _copy(external(RUNS["S5"]), tmp_path, **changes)
    with pytest.raises(CheckpointError, match=words) as err:
        load_chughtai(folder)
    assert isinstance(err.value, ValueError) and "\n" not in str(err.value)


def test_recognised_by_content(tmp_path):
    assert is_chughtai(external(RUNS["D59"])) and is_chughtai(RUNS["D59"] / "model.pt")
    torch.save({"embed.W_E": torch.zeros(3, 2)}, tmp_path / "model.pt")
    (tmp_path / "cfg.json").write_text(json.dumps({"group": "CyclicGroup", "group_parameter": 2}))
    assert not is_chughtai(tmp_path)
    assert not is_chughtai(external(EXTERNAL / "zhong_pizza"))


def test_known_answer_on_a_built_irrep():
    """Logits ``10 chi(x y z^-1)``, embeddings and unembedding made of one irrep's entries,
    hidden activations its entries at ``xy``: that irrep explains everything."""
    group = groups.symmetric(4)
    rho = group.irreps()["standard"]
    n, chi = group.order, groups.character(rho)
    entries = rho.reshape(n, -1)
    products = group.table.reshape(-1)
    logits = 10 * chi[group.table[products][:, group.inverse]]
    res = irrep_metrics(group, entries, entries, entries.T,
                        from_tensors(logits, entries[products]))  # fmt: skip
    assert res.key == ("standard",) and res.accuracy == 1
    got = res.per_irrep["standard"]
    for metric in ("percent_x_embed", "percent_unembed", "percent_hidden_xy", "percent_hidden",
                   "logit_trace_similarity"):  # fmt: skip
        assert got[metric] == pytest.approx(1, abs=1e-12), metric
    assert got["percent_hidden_x"] == pytest.approx(0, abs=1e-12)
    assert got["logit_excluded_loss"] == pytest.approx(math.log(n))  # nothing is left
    assert got["logit_restricted_loss"] == pytest.approx(res.loss)  # everything is kept
    assert got["hidden_excluded_loss"] == pytest.approx(math.log(n))
    others = [v for k, v in res.per_irrep.items() if k != "standard"]
    assert max(abs(v["logit_trace_similarity"]) + v["percent_x_embed"] for v in others) < 1e-12
    assert list(res.table()["irrep"]) == list(group.irreps())
    assert res.figure().data and "standard" in res._repr_html_()
    assert result_json(res, "irreps", None)["values"]["key"] == ["standard"]


def test_irreps_refuses_a_group_larger_than_the_model(run):
    _, _, model, group, _, _, _ = run
    with pytest.raises(ValueError, match="S6 has 720 elements") as err:
        irreps(model, groups.symmetric(6))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("scale", [1.0, 40.0, 400.0])  # 400: past the exponent guard
def test_excluded_loss_shortcut_is_the_cross_entropy(scale):
    """The excluded losses' shortcut (exponentials taken once per chunk and once per
    part) gives ``cross_entropy(logits - P[z])`` summed, in the well-trained regime (a
    loss near 1e-12) too, and falls back to logsumexp where the ranges are large."""
    from grok_interp.analyses.irreps import _ce_minus, _Part, _shifted

    g = torch.Generator().manual_seed(0)
    n, batch = 12, 50
    labels = torch.randint(n, (batch,), generator=g)
    logits = scale * torch.randn(batch, n, generator=g, dtype=torch.float64)
    logits[torch.arange(batch), labels] += 30.0  # confident: a loss near e^-30
    part = scale / 4 * torch.randn(n, n, generator=g, dtype=torch.float64)
    for p in (part, torch.zeros(n, n, dtype=torch.float64)):
        want = F.cross_entropy(logits - p[labels], labels, reduction="sum")
        buf = torch.empty(batch, n, dtype=torch.float64)
        got = _ce_minus(logits, _shifted(logits, labels), _Part.of(p), labels, buf)
        # float64 rounding of losses read off logits near 30: about 1e-14 per row either way
        assert got == pytest.approx(float(want), rel=1e-9, abs=batch * 2e-14)
