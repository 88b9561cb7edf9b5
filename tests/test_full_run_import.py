"""Nanda et al.'s full-run format (progress-measures-paper's final save: ``state_dicts``,
``epochs``, ``train_losses``, ``test_losses``, ``model``, ``config``) imports with every
snapshot at its epoch and the config's settings in the Run."""

import torch

from grok_interp import tl
from grok_interp.cli import main
from grok_interp.models import build_model
from grok_interp.runs import load_model, load_run, model_from_run
from grok_interp.snapshots import run_from_files
from grok_interp.tasks import Task, split

from .conftest import TINY

TASK = Task(p=11)
EPOCHS = [0, 100, 200, 300]


def _authors_layout(model):
    """A HookedTransformer's weights in the authors' transposed layout (fixtures README),
    the unembedding over all p + 1 tokens."""
    sd = tl.hooked_state_dict(model)
    out = {
        "embed.W_E": sd["embed.W_E"].T.clone(),
        "pos_embed.W_pos": sd["pos_embed.W_pos"].clone(),
        "unembed.W_U": torch.cat(
            [sd["unembed.W_U"], torch.zeros(sd["unembed.W_U"].shape[0], 1)], 1
        ),
    }
    b = "blocks.0."
    for w in ("W_Q", "W_K", "W_V"):
        out[b + "attn." + w] = sd[b + "attn." + w].transpose(1, 2).clone()
    w_o = sd[b + "attn.W_O"]  # (head, d_head, d_model) -> (d_model, head * d_head)
    out[b + "attn.W_O"] = w_o.permute(2, 0, 1).reshape(w_o.shape[2], -1).clone()
    out[b + "attn.mask"] = torch.ones(3, 3).tril()
    out[b + "mlp.W_in"], out[b + "mlp.W_out"] = sd[b + "mlp.W_in"].T, sd[b + "mlp.W_out"].T
    out[b + "mlp.b_in"], out[b + "mlp.b_out"] = sd[b + "mlp.b_in"], sd[b + "mlp.b_out"]
    return out


def _write(tmp_path):
    models = [build_model(TINY, TASK, seed=s) for s in range(len(EPOCHS) + 1)]
    obj = {
        "model": _authors_layout(models[-1]),  # the final weights, newer than the last snapshot
        "config": {
            "lr": 3e-3,
            "weight_decay": 0.5,
            "p": 11,
            "d_model": 32,
            "fn_name": "add",
            "frac_train": 0.4,
            "num_epochs": 400,
            "seed": 7,
            "save_every": 100,
        },
        "state_dicts": [_authors_layout(m) for m in models[:-1]],
        "epochs": EPOCHS,
        "train_losses": [1.0 / (e + 1) for e in range(400)],
        "test_losses": [2.0 / (e + 1) for e in range(400)],
    }
    path = tmp_path / "full_run.pth"
    torch.save(obj, path)
    idx = split(TASK, frac_train=0.4, seed=7)
    (tmp_path / "split.txt").write_text(" ".join(map(str, idx.tolist())))
    return path, models, idx


def test_every_snapshot_at_its_epoch(tmp_path):
    path, models, idx = _write(tmp_path)
    run = run_from_files([path], TASK, idx)
    assert sorted(run.snapshots) == [*EPOCHS, 399]  # the final model at the last epoch
    assert (run.seed, run.train.lr, run.train.weight_decay, run.train.frac_train) == (
        7,
        3e-3,
        0.5,
        0.4,
    )
    assert run.train.epochs == 400 and len(run.history["epoch"]) == 400
    for e, m in zip(EPOCHS, models, strict=False):
        ours = model_from_run(run, step=e)
        torch.testing.assert_close(ours(TASK.tokens())[:, -1], m(TASK.tokens())[:, -1])


def test_cli_import(tmp_path, capsys):
    path, _, idx = _write(tmp_path)
    out = tmp_path / "run.pt"
    assert (
        main(["import", str(path), "--split", str(tmp_path / "split.txt"), "--out", str(out)]) == 0
    )
    said = capsys.readouterr().out
    assert "5 snapshot(s) at epochs 0, 100, 200 ... 399" in said
    run = load_run(out)
    assert sorted(run.snapshots) == [*EPOCHS, 399] and run.seed == 7 and run.train.frac_train == 0.4
    assert torch.equal(run.train_idx, idx)
    assert load_model(path)[1] == TASK  # the file itself loads as its final model
