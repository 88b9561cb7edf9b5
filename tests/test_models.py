import pytest

from grok_interp import tl
from grok_interp.models import PRESETS, build_model, preset, to_config
from grok_interp.tasks import Task


def test_mainline_matches_paper():
    cfg = to_config(PRESETS["mainline"], Task(p=113))
    assert (cfg.n_layers, cfg.d_model, cfg.n_heads, cfg.d_head, cfg.d_mlp) == (1, 128, 4, 32, 512)
    assert cfg.act_fn == "relu" and cfg.normalization_type is None
    assert (cfg.d_vocab, cfg.d_vocab_out, cfg.n_ctx) == (114, 113, 3)


def test_biases_absent_from_paper_are_frozen_at_zero():
    model = build_model(PRESETS["mainline"], Task(p=13), seed=0)
    trainable = {n for n, _ in tl.trainable(model)}  # HookedTransformer names, either major
    weights = tl.hooked_params(model)
    for name in ("blocks.0.attn.b_Q", "blocks.0.attn.b_O", "unembed.b_U"):
        assert name not in trainable
        assert weights[name].abs().sum() == 0
    assert {"blocks.0.mlp.b_in", "blocks.0.mlp.b_out", "embed.W_E"} <= trainable


def test_seeded_init_and_overrides():
    t = Task(p=13)
    a = build_model(preset("small"), t, seed=1).W_E
    b = build_model(preset("small"), t, seed=1).W_E
    c = build_model(preset("small"), t, seed=2).W_E
    assert (a == b).all() and not (a == c).all()
    g = build_model(preset("small", act_fn="gelu", n_layers=2), Task(p=7, token_format="a o b ="))
    assert g.cfg.act_fn == "gelu" and g.cfg.n_layers == 2 and g.cfg.n_ctx == 4


def test_unknown_preset():
    with pytest.raises(ValueError, match="known presets: mainline"):
        preset("huge")
