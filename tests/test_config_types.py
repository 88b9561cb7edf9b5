"""A config given a value of the wrong type says so in one line, in the same words as a
sweep's TOML file or the command line (``train.epochs takes a whole number, got 'ten'``),
and a misspelt sweep field names the field that was probably meant.

The configs are built in a plain Python process: in the test suite jaxtyping's import
hook type-checks their ``__init__`` first (a TypeCheckError a user never sees)."""

import json
import subprocess
import sys

import pytest

from grok_interp.config import TrainConfig
from grok_interp.models import preset
from grok_interp.sweeps import SweepError, apply
from grok_interp.tasks import Task
from grok_interp.training import RunSpec

BUILD = """
import json, sys
import numpy as np
from grok_interp.config import ModelPreset, TrainConfig
out = []
for kind, kwargs in json.loads(sys.argv[1]):
    try:
        cfg = {"train": TrainConfig, "model": ModelPreset}[kind](**kwargs)
        out.append("ok")
    except Exception as e:
        out.append(f"{type(e).__name__}: {e}")
cfg = TrainConfig(epochs=np.int64(20), lr=1, weight_decay=np.float32(0.5), betas=[0.9, 0.99])
out.append(f"{cfg.epochs} {cfg.lr}")
print(json.dumps(out))
"""

CASES = [
    ("train", {"epochs": "ten"}, "ValueError: train.epochs takes a whole number, got 'ten'"),
    ("train", {"lr": "fast"}, "ValueError: train.lr takes a number, got 'fast'"),
    ("train", {"frac_train": "half"},
     "ValueError: train.frac_train takes a number or none, got 'half'"),
    ("train", {"sgd": "yes"}, "ValueError: train.sgd takes true or false, got 'yes'"),
    ("model", {"d_model": "big"}, "ValueError: model.d_model takes a whole number, got 'big'"),
    ("train", {"epochs": 5, "lr": 1}, "ok"),
]  # fmt: skip


def test_configs_name_a_wrong_type_in_one_line():
    arg = json.dumps([[k, kw] for k, kw, _ in CASES])
    out = subprocess.run([sys.executable, "-c", BUILD, arg], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert found[:-1] == [words for *_, words in CASES]
    assert found[-1] == "20 1"  # numpy numbers and an int for a float still fit


def test_the_same_words_as_a_sweep():
    base = RunSpec(task=Task(p=7), model=preset("small"), train=TrainConfig(epochs=10))
    with pytest.raises(SweepError) as swept:
        apply(base, {"train.epochs": "ten"})
    assert str(swept.value) == CASES[0][2].removeprefix("ValueError: ")


def test_a_misspelt_sweep_field_names_the_near_one():
    base = RunSpec(task=Task(p=7), model=preset("small"), train=TrainConfig(epochs=10))
    with pytest.raises(SweepError, match="did you mean 'train.weight_decay'"):
        apply(base, {"train.wieght_decay": 0.1})
