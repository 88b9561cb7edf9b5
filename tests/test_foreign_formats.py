"""Foreign files recognised by what they are: Nanda et al.'s format by its keys and its
own layout rules, Chughtai et al.'s group files by their cfg.json, a bare transformer's
task by its n_ctx, vocabularies and attention direction."""

import shutil

import pytest
import torch

from grok_interp import tl
from grok_interp.foreign import guess_task, layouts_for
from grok_interp.models import build_model
from grok_interp.report import analyze
from grok_interp.runs import CheckpointError, load_model
from grok_interp.tasks import Task

from .conftest import CHUGHTAI, EXTERNAL, NANDA_NO_WD, TINY, external

S5 = EXTERNAL / "chughtai_groups" / "S5_T_seed1"


def _nanda():
    return torch.load(external(NANDA_NO_WD), map_location="cpu", weights_only=True)


def test_nanda_format_by_its_keys(tmp_path):
    model, task = load_model(NANDA_NO_WD)
    assert (
        task == Task(op="add", p=113, token_format="a b =") and model.cfg.attention_dir == "causal"
    )
    # their bare state dict (no train_losses beside it) fits two readings: refused
    torch.save(_nanda()["model"], tmp_path / "bare.pt")
    with pytest.raises(
        CheckpointError, match="two readings.*task=Task\\(p=113, token_format='a b ='\\)"
    ):
        load_model(tmp_path / "bare.pt")
    # and the argument named chooses Nanda et al.'s reading
    chosen, task = load_model(tmp_path / "bare.pt", task=Task(p=113))
    torch.testing.assert_close(chosen.W_E, model.W_E)


def test_nanda_keys_with_shapes_of_no_nanda_layout(tmp_path):
    obj = _nanda()
    obj["model"]["pos_embed.W_pos"] = obj["model"]["pos_embed.W_pos"][:2]
    torch.save(obj, tmp_path / "two.pth")
    with pytest.raises(CheckpointError, match="fit not their layout 'a b ='"):
        load_model(tmp_path / "two.pth")


def test_shapes_that_fit_no_layout_list_the_layouts_tried(tmp_path):
    sd = torch.load(external(CHUGHTAI) / "model.pt", map_location="cpu", weights_only=True)
    sd["pos_embed.W_pos"] = torch.zeros(5, 128)
    torch.save(sd, tmp_path / "five.pt")
    with pytest.raises(
        CheckpointError, match="tried 'a b =' \\(114 tokens, 3 positions\\).*'a o b ='"
    ):
        load_model(tmp_path / "five.pt")


def test_a_group_file_is_never_a_task_over_z_n(tmp_path):
    folder = external(S5)
    for source in (folder, folder / "model.pt"):
        try:  # read by the group loader where it is installed, else refused naming it
            model, task = load_model(source)
        except CheckpointError as e:
            assert "group SymmetricGroup 5" in str(e) and "\n" not in str(e)
            with pytest.raises(CheckpointError, match="SymmetricGroup 5"):
                analyze(source)
            continue
        assert not task.cyclic and task.elements.name == "S5" and task.op == "xy"
        with torch.no_grad():
            right = model(task.tokens())[:, -1].argmax(-1) == task.labels()
        assert bool(right.all())
    # without its cfg.json nothing tells the group: the shapes' guess, stated as one
    shutil.copy(folder / "model.pt", tmp_path / "model.pt")
    report_task = load_model(tmp_path / "model.pt")[1]
    assert report_task.p == 120
    # a cyclic group's cfg.json is Z_p
    assert load_model(external(CHUGHTAI))[1] == Task(op="add", p=113)


@pytest.mark.parametrize(
    "fmt",
    [
        "a b =",
        "a o b =",
        "a b",
        "a b, bidirectional",
        "a b, bidirectional, separate vocab",
        "a b =, bidirectional",
    ],
)
def test_guess_follows_the_shapes_and_direction(fmt):
    task = Task(p=11, token_format=fmt)
    model = build_model(TINY, task)
    guessed, said = guess_task(model)
    assert guessed == task
    assert ("bidirectional" in said[0]) == (not task.causal)


def test_guess_never_gives_a_layout_the_shapes_exclude():
    assert layouts_for(11, 11, 2) == ["a b"] and layouts_for(12, 11, 2) == []
    assert layouts_for(22, 11, 2, causal=False) == ["a b, bidirectional, separate vocab"]
    assert layouts_for(13, 11, 3) == []
    model = build_model(TINY, Task(p=11, token_format="a b"))
    model.cfg.n_ctx = 5  # shapes of no layout
    with pytest.raises(CheckpointError, match="tried"):
        guess_task(model)


def test_state_dict_of_a_two_token_model_loads_as_a_b(tmp_path):
    task = Task(p=11, token_format="a b")
    model = build_model(TINY, task)
    torch.save(tl.hooked_state_dict(model), tmp_path / "m.pt")
    loaded, found = load_model(tmp_path / "m.pt")
    assert found == task
