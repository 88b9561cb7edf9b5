"""Zhong et al. (2023)'s saved models (fjzzq2002/pizza, code/save/): loaded from the raw
file in one call, logits equal to the authors' forward, and the clock/pizza measures equal
to the authors' notebook (code/eval-main.ipynb) on their two models."""

import json
import shutil

import pytest
import torch
import torch.nn.functional as F

from grok_interp.analyses.algorithm import algorithm
from grok_interp.cli import main
from grok_interp.report import analyze
from grok_interp.runs import CheckpointError, load_model
from grok_interp.zhong import read_config

from .conftest import EXTERNAL, external

ZHONG = EXTERNAL / "zhong_pizza"
A, B = "p99zdpze5l", "l8k1hzciux"  # the paper's models A (pizza) and B (clock)
# code/eval-main.ipynb on the two models: (gradient symmetricity, distance irrelevance)
AUTHORS = {A: (0.9937, 0.1717, "pizza"), B: (0.3336, 0.8483, "clock")}


def _path(runid):
    return external(ZHONG / f"model_{runid}.pt")


def _double(path):
    return {
        k: v.double() for k, v in torch.load(path, map_location="cpu", weights_only=True).items()
    }


def _config(runid):
    return json.loads((ZHONG / f"config_{runid}.json").read_text())


def authors_forward(sd, cfg, tokens):
    """Their Transformer.forward (code/train-main.py), written out: transposed weights,
    scores over every key (the registered mask is never applied), the pattern
    attn_coeff * softmax + (1 - attn_coeff), no LayerNorm, an MLP of 4 d_model."""
    x = sd["embed.W_E"][:, tokens].permute(1, 2, 0) + sd["pos_embed.W_pos"][: tokens.shape[1]]
    c, d_head = cfg["attn_coeff"], cfg["d_model"] // cfg["n_heads"]
    act = {"ReLU": F.relu, "GeLU": F.gelu}[cfg["act_fn"]]
    for i in range(cfg.get("n_layers", 1)):
        b = f"blocks.{i}."
        k, q, v = (torch.einsum("ihd,bpd->biph", sd[b + f"attn.W_{w}"], x) for w in "KQV")
        scores = torch.einsum("biph,biqh->biqp", k, q) / d_head**0.5
        pattern = F.softmax(scores, dim=-1) * c + (1 - c)
        z = torch.einsum("biph,biqp->biqh", v, pattern)
        z = z.permute(0, 2, 1, 3).reshape(z.shape[0], z.shape[2], -1)
        x = x + torch.einsum("df,bqf->bqd", sd[b + "attn.W_O"], z)
        h = act(torch.einsum("md,bpd->bpm", sd[b + "mlp.W_in"], x) + sd[b + "mlp.b_in"])
        x = x + torch.einsum("dm,bpm->bpd", sd[b + "mlp.W_out"], h) + sd[b + "mlp.b_out"]
    return x @ sd["unembed.W_U"]


def _authors_tokens(cfg):
    C = cfg["C"]
    a, b = torch.arange(C).repeat_interleave(C), torch.arange(C).repeat(C)
    cols = [a, b + (C if cfg["diff_vocab"] else 0)]
    vocab = C * (2 if cfg["diff_vocab"] else 1) + (1 if cfg["eqn_sign"] else 0)
    cols += [torch.full_like(a, vocab - 1)] if cfg["eqn_sign"] else []
    return torch.stack(cols, 1)


@pytest.mark.parametrize("runid", [A, B])
def test_raw_file_loads_with_the_authors_logits(runid):
    model, task = load_model(_path(runid))
    cfg = _config(runid)
    assert task.token_format == "a b, bidirectional" and task.p == 59
    assert model.cfg.attention_dir == "bidirectional" and model.cfg.normalization_type is None
    sd = _double(_path(runid))
    theirs = authors_forward(sd, cfg, _authors_tokens(cfg))[:, -1, :59]
    model.to(torch.float64)
    with torch.no_grad():
        ours = model(task.tokens())[:, task.answer_pos]
    assert torch.equal(task.tokens(), _authors_tokens(cfg))
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-9)


@pytest.mark.parametrize("runid", [A, B])
def test_measures_equal_the_authors(runid):
    model, task = load_model(_path(runid))
    res = algorithm(model, task, triples="authors", n_triples=100)
    sym, irr, verdict = AUTHORS[runid]
    assert res.gradient_symmetricity == pytest.approx(sym, abs=1e-3)
    assert res.distance_irrelevance == pytest.approx(irr, abs=1e-3)
    assert res.verdict == verdict


def test_analyze_in_one_call_python_and_cli(tmp_path, capsys):
    report = analyze(_path(B))
    assert report.results["algorithm"].verdict == "clock"
    assert any("attention rate 1" in a for a in report.assumptions)
    assert main(["analyze", str(_path(A)), "--out", str(tmp_path / "a")]) == 0
    md = (tmp_path / "a" / "report.md").read_text()
    assert "pizza" in md and "a b, bidirectional" in md


def _variant(tmp_path, runid, **changes):
    """A copy of the authors' file with its config edited (another run's settings)."""
    sd = torch.load(_path(runid), map_location="cpu", weights_only=True)
    cfg = {**_config(runid), **changes}
    C = cfg["C"]
    if cfg["diff_vocab"] or cfg["eqn_sign"]:
        vocab = C * (2 if cfg["diff_vocab"] else 1) + (1 if cfg["eqn_sign"] else 0)
        gen = torch.Generator().manual_seed(0)
        for key in ("embed.W_E", "unembed.W_U"):
            extra = torch.randn(128, vocab - C, generator=gen) * sd[key].std()
            sd[key] = torch.cat([sd[key], extra], 1)
        if cfg["eqn_sign"]:
            sd["pos_embed.W_pos"] = torch.cat([sd["pos_embed.W_pos"], sd["pos_embed.W_pos"][:1]])
    torch.save(sd, tmp_path / "model_x.pt")
    (tmp_path / "config_x.json").write_text(json.dumps({**cfg, "runid": "x"}))
    return tmp_path / "model_x.pt", cfg


@pytest.mark.parametrize(
    "changes",
    [
        dict(diff_vocab=1),
        dict(eqn_sign=1, attn_coeff=0.4),
        dict(diff_vocab=1, eqn_sign=1, act_fn="GeLU"),
    ],
)
def test_other_settings_follow_the_config(tmp_path, changes):
    path, cfg = _variant(tmp_path, B, **changes)
    model, task = load_model(path)
    assert task.layout.causal is False and task.layout.shared_vocab == (not cfg["diff_vocab"])
    assert task.n_ctx == (3 if cfg["eqn_sign"] else 2)
    sd = _double(path)
    theirs = authors_forward(sd, cfg, _authors_tokens(cfg))[:, -1, :59]
    model.to(torch.float64)
    with torch.no_grad():
        ours = model(task.tokens())[:, task.answer_pos]
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-9)


def test_a_bare_file_is_never_read_as_nanda_et_al(tmp_path):
    bare = tmp_path / "pizza.pt"
    shutil.copy(_path(A), bare)  # no config beside it
    with pytest.raises(CheckpointError, match="Zhong et al.'s.*config_<runid>.json"):
        load_model(bare)
    # with an '=', both readings fit: refused, naming both and what chooses
    path, _ = _variant(tmp_path, A, eqn_sign=1)
    (tmp_path / "config_x.json").unlink()
    with pytest.raises(CheckpointError, match="two readings.*Nanda et al.*Zhong et al.*Choose"):
        load_model(path)


def test_config_read():
    cfg = read_config(ZHONG / f"config_{A}.json")
    assert (cfg.attn_coeff, cfg.act_fn, cfg.n_layers, cfg.token_format) == (
        0.0,
        "relu",
        1,
        "a b, bidirectional",
    )
    with pytest.raises(CheckpointError, match="Tanh"):
        read_config({**_config(A), "act_fn": "Tanh"})
