"""Appendix D.3's sequence tasks: the generators, both data regimes through the trainer,
and the head scores on hand-built models."""

from __future__ import annotations

import pytest
import torch
from transformer_lens import HookedTransformer, HookedTransformerConfig

from grok_interp import RunSpec, TrainConfig, preset
from grok_interp.analyses.sequence_heads import (
    big_token_attention,
    head_scores_over_training,
    induction_scores,
)
from grok_interp.runs import CheckpointError, load_run
from grok_interp.sequences import IGNORE, SeqTask, fresh_batch, sample_with_meta, training_set

from .conftest import full_and_resumed


def test_five_digit_addition_targets_are_the_sum_digits():
    task = SeqTask(kind="five_digit_add")
    tokens, targets, ab = sample_with_meta(task, 50, seed=0)
    assert ab[0].tolist() == [36044, 39840]  # a known seed gives a known sequence
    assert tokens[0].tolist() == [3, 6, 0, 4, 4, 10, 3, 9, 8, 4, 0, 11, 0, 7, 5, 8, 8]
    weights = 10 ** torch.arange(5, -1, -1)
    assert torch.equal((targets[:, 11:] * weights).sum(1), ab.sum(1))
    assert bool((targets[:, :11] == IGNORE).all())
    assert torch.equal(tokens[:, 12:], targets[:, 11:16])  # the sum so far is the input


def test_repeat_targets_are_the_repeated_tokens():
    task = SeqTask(kind="repeat")
    tokens, targets, starts = sample_with_meta(task, 100, seed=1)
    for seq, tgt, (i, j) in zip(tokens, targets, starts.tolist(), strict=True):
        assert j >= i + task.span and j + task.span <= task.n_ctx
        assert torch.equal(seq[j : j + task.span], seq[i : i + task.span])
        where = (tgt != IGNORE).nonzero().squeeze(1).tolist()
        assert where == list(range(j, j + task.span - 1))
        assert torch.equal(tgt[where], seq[j + 1 : j + task.span])


def test_skip_trigram_has_one_big_token_and_targets_it():
    task = SeqTask(kind="skip_trigram")
    tokens, targets, where = sample_with_meta(task, 100, seed=2)
    assert bool(((tokens >= 10).sum(1) == 1).all())
    assert torch.equal(targets[:, -1], tokens[torch.arange(100), where[:, 0]])
    with pytest.raises(ValueError, match="unknown sequence task"):
        SeqTask(kind="parity")


def test_data_regimes_are_functions_of_the_seed_and_step():
    task = SeqTask(kind="skip_trigram")
    assert torch.equal(fresh_batch(task, 8, 3, 5)[0], fresh_batch(task, 8, 3, 5)[0])
    assert not torch.equal(fresh_batch(task, 8, 3, 5)[0], fresh_batch(task, 8, 3, 6)[0])
    assert not torch.equal(training_set(task, 8, 3)[0], fresh_batch(task, 8, 3, 0)[0])


def small_spec(**train: object) -> RunSpec:
    cfg = TrainConfig(epochs=20, n_train=64, eval_every=5, snapshot_every=10, **train)  # type: ignore[arg-type]
    model = preset("small", attn_only=True, n_layers=2)
    return RunSpec(task=SeqTask(kind="repeat", length=12, span=3, vocab=10, n_test=50),
                   model=model, train=cfg)  # fmt: skip


@pytest.mark.parametrize("fresh", [False, True])
def test_both_regimes_resume_where_they_stopped(tmp_path, fresh):
    # the same batches, step for step, and bit for bit the same weights and history
    spec = small_spec(fresh_data=fresh)
    full, resumed = full_and_resumed(spec, 10, tmp_path / "r.pt")
    for k, v in full.weights.items():
        assert torch.equal(resumed.weights[k], v), k
    assert resumed.history["epoch"] == full.history["epoch"]
    assert resumed.history["train_loss"] == full.history["train_loss"]
    assert "test_acc" in full.history
    frame = head_scores_over_training(load_run(tmp_path / "r.pt"), n=20)
    assert set(frame["score"]) == {"induction", "previous_token"} and len(frame) == 3 * 2 * 2 * 4
    with pytest.raises(CheckpointError, match="pair analyses"):
        _ = resumed.pairs_task


def hand_built_induction(task: SeqTask) -> HookedTransformer:
    """Layer 0: a previous-token head by position (writes the previous token into its own
    slot); layer 1: a head whose query is the current token and whose key is that slot."""
    v, n = task.vocab, task.n_ctx
    d = v + n + v
    cfg = HookedTransformerConfig(n_layers=2, d_model=d, n_heads=1, d_head=max(v, n),
                                  attn_only=True, d_vocab=v, d_vocab_out=v, n_ctx=n,
                                  normalization_type=None)  # fmt: skip
    model = HookedTransformer(cfg)
    big = 40.0
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.W_E[:, :v] = torch.eye(v)
        model.W_pos[:, v : v + n] = torch.eye(n)
        a0, a1 = model.blocks[0].attn, model.blocks[1].attn
        for t in range(n):
            a0.W_Q[0, v + t, t] = big
            if t + 1 < n:
                a0.W_K[0, v + t, t + 1] = big
        a0.W_V[0, :v, :v] = torch.eye(v)
        a0.W_O[0, :v, v + n :] = torch.eye(v)
        a1.W_Q[0, :v, :v] = torch.eye(v) * big
        a1.W_K[0, v + n :, :v] = torch.eye(v) * big
    return model


def test_induction_score_finds_the_hand_built_induction_head():
    task = SeqTask(kind="repeat", vocab=40, length=16, span=4)
    scores = induction_scores(hand_built_induction(task), task, n=300)
    assert scores["previous_token"][0, 0] > 0.95  # layer 0 looks one back
    assert scores["induction"][1, 0] > 0.8  # layer 1 looks at the token after the match
    assert scores["induction"][0, 0] < 0.1 and scores["previous_token"][1, 0] < 0.3


def test_big_token_attention_on_a_hand_built_head():
    task = SeqTask(kind="skip_trigram")
    cfg = HookedTransformerConfig(n_layers=1, d_model=21, n_heads=2, d_head=4, attn_only=True,
                                  d_vocab=20, d_vocab_out=20, n_ctx=task.n_ctx,
                                  normalization_type=None)  # fmt: skip
    model = HookedTransformer(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.W_E[:, :20] = torch.eye(20)
        model.W_E[:, 20] = 1.0  # a constant direction every query reads
        model.blocks[0].attn.W_Q[0, 20, 0] = 30.0
        model.blocks[0].attn.W_K[0, 10:20, 0] = 30.0  # keys: "am I >= 10"
    att = big_token_attention(model, task, n=200)
    assert att[0, 0] > 0.99 and att[0, 1] < 0.5  # head 1 attends uniformly
