"""Appendix D.3's sequence tasks: the generators, both data regimes through the trainer,
and the head scores on hand-built models."""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest
import torch

from grok_interp import RunSpec, TrainConfig, preset, tl
from grok_interp.analyses import sequence_heads
from grok_interp.analyses.sequence_heads import (
    big_token_attention,
    head_scores_over_training,
    induction_scores,
)
from grok_interp.runs import CheckpointError
from grok_interp.sequences import (
    IGNORE,
    SeqTask,
    accuracy_ceiling,
    bayes_accuracy,
    fresh_batch,
    sample_with_meta,
    training_set,
)
from grok_interp.sequences import test_set as seq_test_set
from grok_interp.training import train

from .conftest import full_and_resumed, hand_built, weights


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


def test_skip_trigram_keeps_the_big_token_off_the_last_position_when_asked():
    anywhere = sample_with_meta(SeqTask(kind="skip_trigram", length=3), 300, seed=4)[2][:, 0]
    assert set(anywhere.tolist()) == {0, 1, 2}  # the default: the last position too
    task = SeqTask(kind="skip_trigram", length=3, big_at="before_last")
    tokens, targets, where = sample_with_meta(task, 300, seed=4)
    assert set(where[:, 0].tolist()) == {0, 1}
    assert bool((tokens[:, -1] < 10).all())
    assert torch.equal(targets[:, -1], tokens[torch.arange(300), where[:, 0]])
    with pytest.raises(ValueError, match="big_at must be one of any, before_last"):
        SeqTask(kind="skip_trigram", big_at="last")


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
    with pytest.raises(CheckpointError, match="pair analyses"):
        _ = resumed.pairs_task


def test_head_scores_over_training_reads_each_snapshot_layer_and_head():
    # layer 1 head 0 of the step-10 snapshot made uniform (zero queries): its scores are
    # known in closed form, 1 / (t + 1) at query t; every other (step, layer, head) made
    # far from uniform (queries x 30)
    run = train(small_spec(), progress=False)
    for snap in run.snapshots.values():
        for layer in (0, 1):
            snap[f"blocks.{layer}.attn.W_Q"] *= 30
    for name in ("blocks.1.attn.W_Q", "blocks.1.attn.b_Q"):
        run.snapshots[10][name][0] = 0
    frame = head_scores_over_training(run, n=20)
    task = run.task
    _, _, starts = sample_with_meta(task, 20, 0)
    queries = (starts[:, 1:] + torch.arange(task.span - 1)).double()
    expected = {"induction": float((1 / (queries + 1)).mean()),
                "previous_token": float((1 / (torch.arange(1, task.n_ctx) + 1.0)).mean())}
    for score, value in expected.items():
        rows = frame[frame["score"] == score].set_index(["epoch", "layer", "head"])["value"]
        assert rows[(10.0, 1, 0)] == pytest.approx(value, abs=1e-6)
        others = rows.drop(index=(10.0, 1, 0))
        assert (others - value).abs().min() > 1e-4, score
    at = frame[frame["epoch"] == 10.0]["test_loss"]
    assert (at == run.history["test_loss"][run.history["epoch"].index(10.0)]).all()


def hand_built_induction(task: SeqTask) -> tl.Model:
    """Layer 0: a previous-token head by position (writes the previous token into its own
    slot); layer 1: a head whose query is the current token and whose key is that slot."""
    v, n = task.vocab, task.n_ctx
    d = v + n + v
    model = hand_built(n_layers=2, d_model=d, n_heads=1, d_head=max(v, n), attn_only=True,
                       d_vocab=v, d_vocab_out=v, n_ctx=n, normalization_type=None)  # fmt: skip
    big = 40.0
    with weights(model) as w:
        w["embed.W_E"][:, :v] = torch.eye(v)
        w["pos_embed.W_pos"][:, v : v + n] = torch.eye(n)
        for t in range(n):
            w["blocks.0.attn.W_Q"][0, v + t, t] = big
            if t + 1 < n:
                w["blocks.0.attn.W_K"][0, v + t, t + 1] = big
        w["blocks.0.attn.W_V"][0, :v, :v] = torch.eye(v)
        w["blocks.0.attn.W_O"][0, :v, v + n :] = torch.eye(v)
        w["blocks.1.attn.W_Q"][0, :v, :v] = torch.eye(v) * big
        w["blocks.1.attn.W_K"][0, v + n :, :v] = torch.eye(v) * big
    return model


def test_induction_score_finds_the_hand_built_induction_head():
    task = SeqTask(kind="repeat", vocab=40, length=16, span=4)
    scores = induction_scores(hand_built_induction(task), task, n=300)
    assert scores["previous_token"][0, 0] > 0.95  # layer 0 looks one back
    assert scores["induction"][1, 0] > 0.8  # layer 1 looks at the token after the match
    assert scores["induction"][0, 0] < 0.1 and scores["previous_token"][1, 0] < 0.3


def test_big_token_attention_on_a_hand_built_head():
    task = SeqTask(kind="skip_trigram")
    model = hand_built(n_layers=1, d_model=21, n_heads=2, d_head=4, attn_only=True,
                       d_vocab=20, d_vocab_out=20, n_ctx=task.n_ctx,
                       normalization_type=None)  # fmt: skip
    with weights(model) as w:
        w["embed.W_E"][:, :20] = torch.eye(20)
        w["embed.W_E"][:, 20] = 1.0  # a constant direction every query reads
        w["blocks.0.attn.W_Q"][0, 20, 0] = 30.0
        w["blocks.0.attn.W_K"][0, 10:20, 0] = 30.0  # keys: "am I >= 10"
    att = big_token_attention(model, task, n=200)
    assert att[0, 0] > 0.99 and att[0, 1] < 0.5  # head 1 attends uniformly


def test_induction_score_reads_the_positions_with_a_target(monkeypatch):
    # a hand-built pattern: every query attends to one key. Offsets 0..span-2 of the repeat
    # carry a target; the last offset (span - 1) carries none and must not count.
    task = SeqTask(kind="repeat", vocab=40, length=16, span=4)
    _, _, starts = sample_with_meta(task, 50, 0)

    def pattern(offsets):
        pat = torch.zeros(2, 50, 1, task.n_ctx, task.n_ctx)
        pat[..., 0] = 1.0  # by default every query attends to position 0
        for b, (i, j) in enumerate(starts.tolist()):
            for m in offsets:
                pat[1, b, 0, j + m] = 0.0
                pat[1, b, 0, j + m, i + m + 1] = 1.0
        return pat

    model = hand_built_induction(task)  # its own patterns are replaced by the hand-built ones
    for offsets, want in (([0, 1, 2], 1.0), ([0], 1 / 3), ([3], 0.0), ([1, 2, 3], 2 / 3)):
        monkeypatch.setattr(sequence_heads, "_patterns", lambda m, t, o=offsets: pattern(o))
        got = induction_scores(model, task, n=50)["induction"]
        assert got[1, 0] == pytest.approx(want), offsets
        assert got[0, 0] == 0.0  # layer 0 looks at position 0, never a key here


def brute_force_bayes(task: SeqTask) -> dict[tuple[int, tuple[int, ...]], float]:
    """The generator's joint distribution enumerated exactly: for each (t, tokens up to t)
    with a target at t, P(Bayes-optimal prediction right | them) = max_y P(y) / sum_y P(y)."""
    L, k, v = task.seq_len, task.span, task.vocab
    mass: dict = defaultdict(lambda: defaultdict(float))
    for base in itertools.product(range(v), repeat=L):
        for i in range(L - 2 * k + 1):
            for j in range(i + k, L - k + 1):
                prob = 1 / ((L - 2 * k + 1) * (L - k - (i + k) + 1) * v**L)
                s = list(base)
                s[j : j + k] = s[i : i + k]
                for t in range(j, j + k - 1):
                    mass[(t, tuple(s[: t + 1]))][s[t + 1]] += prob
    return {key: max(m.values()) / sum(m.values()) for key, m in mass.items()}


def test_bayes_accuracy_matches_the_enumerated_joint_distribution():
    task = SeqTask(kind="repeat", length=7, span=3, vocab=3)
    want = brute_force_bayes(task)
    keys = sorted(want)
    tokens = torch.tensor([list(prefix) + [0] * (7 - len(prefix)) for _, prefix in keys])
    got = bayes_accuracy(task, tokens)
    for row, (t, _) in enumerate(keys):
        assert float(got[row, t]) == pytest.approx(want[(t, _)], abs=1e-12)
    assert len({round(x, 9) for x in want.values()}) >= 3  # ambiguous prefixes, unequal weights


def test_accuracy_ceiling_of_each_task():
    # repeat (vocab 20, length 24, span 6): the start of the span is not in the input, so
    # the first target of the repeat is ambiguous; the other tasks' targets are functions
    # of their prefixes
    assert accuracy_ceiling(SeqTask(kind="repeat"), 0) == pytest.approx(0.9739, abs=1e-4)
    assert accuracy_ceiling(SeqTask(kind="five_digit_add"), 0) == 1.0
    assert accuracy_ceiling(SeqTask(kind="skip_trigram"), 0) == 1.0
    task = SeqTask(kind="repeat", vocab=40, length=16, span=4)
    tokens, targets = seq_test_set(task, 0)
    acc = bayes_accuracy(task, tokens)
    first = targets != IGNORE
    first &= torch.cumsum(first, 1) == 1  # the first target of each repeat
    assert float(acc[first].mean()) < 0.97 < float(acc[(targets != IGNORE) & ~first].mean())
    model = hand_built_induction(task)  # a real predictor cannot beat the ceiling
    hit = (model(tokens).argmax(-1) == targets)[targets != IGNORE].double().mean()
    assert float(hit) <= accuracy_ceiling(task, 0) + 0.01
    with pytest.raises(ValueError, match="length"):
        bayes_accuracy(task, tokens[:, :10])


def test_results_table_reads_generalisation_against_the_ceiling():
    from grok_interp.sweeps import results_table

    run = train(small_spec(), progress=False)
    top = accuracy_ceiling(run.task, run.seed)
    assert top < 0.98  # vocab 10, span 3: the first target of the repeat is often ambiguous
    epochs = run.history["epoch"]
    run.history["test_acc"] = [0.1] * (len(epochs) - 2) + [0.995 * top, top]
    row = results_table([run]).iloc[0]
    assert row["test_acc_ceiling"] == pytest.approx(top)
    assert row["epoch_test_acc_99"] == epochs[-2]  # 99.5% of the best possible counts
