"""Checkpoints trained by other people, converted and checked against the fixtures README."""

import pytest
import torch

from grok_interp.runs import CheckpointError, load_model
from grok_interp.tasks import Task
from grok_interp.training import cross_entropy64

from .conftest import CHUGHTAI, NANDA_LOW_PRECISION, NANDA_NO_WD, external


def _loss_acc(model, task):
    with torch.no_grad():
        logits = model(task.tokens())[:, -1]
    loss = cross_entropy64(logits[None], task.labels()[None]).item()
    return loss, (logits.argmax(-1) == task.labels()).double().mean().item()


@pytest.mark.parametrize(
    "path, loss, acc",
    [
        (CHUGHTAI, 1.585e-7, 1.0),  # README: loss 1.585e-7, accuracy 100%
        (NANDA_LOW_PRECISION, 2.89e-3, 0.9995),  # README: 2.89e-3, 99.95%
    ],
)
def test_fixture_reaches_stated_accuracy(path, loss, acc):
    model, task = load_model(external(path))
    assert task == Task(op="add", p=113, token_format="a b =")
    ours_loss, ours_acc = _loss_acc(model, task)
    assert ours_loss == pytest.approx(loss, rel=0.01)
    assert ours_acc == pytest.approx(acc, abs=5e-5)


def test_no_weight_decay_fixture_generalises():
    model, task = load_model(external(NANDA_NO_WD))
    loss, acc = _loss_acc(model, task)
    assert acc == 1.0 and loss < 1e-5  # README: final test loss 1.1e-6


def _chughtai_state_dict():
    return torch.load(external(CHUGHTAI) / "model.pt", map_location="cpu", weights_only=True)


def test_trained_biases_are_kept(tmp_path):
    sd = _chughtai_state_dict()  # its biases are present (zero): give them values
    sd["unembed.b_U"] = torch.linspace(-1, 1, 113)
    sd["blocks.0.attn.b_V"] = torch.ones(4, 32)
    torch.save(sd, tmp_path / "biased.pt")
    model, _ = load_model(tmp_path / "biased.pt")
    torch.testing.assert_close(model.b_U, sd["unembed.b_U"])
    torch.testing.assert_close(model.blocks[0].attn.b_V, sd["blocks.0.attn.b_V"])


def test_authors_layout_conversion_is_exact():
    obj = torch.load(external(NANDA_NO_WD), map_location="cpu", weights_only=True)["model"]
    model, _ = load_model(NANDA_NO_WD)
    torch.testing.assert_close(model.W_E, obj["embed.W_E"].T)
    torch.testing.assert_close(model.W_U, obj["unembed.W_U"][:, :113])
    # head 2's W_O is columns 64..95 of the authors' (d_model, n_heads*d_head) matrix
    torch.testing.assert_close(model.W_O[0, 2], obj["blocks.0.attn.W_O"][:, 64:96].T)
    torch.testing.assert_close(model.W_Q[0, 1], obj["blocks.0.attn.W_Q"][1].T)


def test_task_override(tmp_path):
    model, task = load_model(external(CHUGHTAI), task=Task(op="sub", p=113))
    assert task.op == "sub"


def test_shapes_that_fit_no_layout(tmp_path):
    sd = _chughtai_state_dict()
    sd["blocks.0.mlp.W_out"] = torch.zeros(100, 128)
    path = tmp_path / "bad.pt"
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match="fit no supported layout"):
        load_model(path)
    sd = _chughtai_state_dict()
    sd["pos_embed.W_pos"] = torch.zeros(5, 128)
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match="cannot infer the task"):
        load_model(path)
