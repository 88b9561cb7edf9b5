"""progress_measures and ``grok-interp progress`` take key frequencies by one rule and say
the same about them: found in W_L when it is sparse, and when it is not, a note (and a
warning in Python) that the restricted and excluded losses then describe no circuit. A run
whose learner is not a transformer gets one line naming the measures that apply to it."""

import warnings

import pytest

from grok_interp.analyses.common import AnalysisError
from grok_interp.analyses.progress import progress_measures
from grok_interp.cli import main
from grok_interp.cli.common import flags
from grok_interp.runs import load_run


@pytest.fixture(scope="module")
def unsparse(tmp_path_factory):
    """20 epochs of p = 11: nothing grokked, W_L without sparse structure."""
    out = tmp_path_factory.mktemp("pr") / "run.pt"
    assert main(["train", "--p", "11", "--preset", "small", "--eval-every", "10",
                 "--snapshot-every", "10", "--quiet", "--epochs", "20",
                 "--out", str(out)]) == 0  # fmt: skip
    return out


def test_python_and_cli_say_the_same_of_unsparse_keys(unsparse, capsys, tmp_path):
    with pytest.warns(UserWarning, match="no sparse structure") as caught:
        res = progress_measures(load_run(unsparse))
    said = str(caught[0].message)
    assert said in res.notes()
    capsys.readouterr()
    assert main(["progress", str(unsparse), "--out", str(tmp_path / "p.pt")]) == 0
    shown = capsys.readouterr()
    assert shown.out.splitlines()[1] == flags(said)  # "give --key-freqs to choose them"
    assert "--key-freqs to choose" in flags(said) and "Warning" not in shown.err


def test_given_keys_are_said_to_be_given(unsparse):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = progress_measures(load_run(unsparse), key_freqs=[1, 2])
    assert "key frequencies [1, 2] (given)" in res.notes()


def test_a_toy_run_is_told_what_applies(tmp_path, capsys):
    toy = tmp_path / "toy.pt"
    assert main(["train", "--family", "toy", "--set", "train.epochs=4", "--snapshot-every",
                 "2", "--eval-every", "2", "--out", str(toy), "--quiet"]) == 0  # fmt: skip
    with pytest.raises(AnalysisError) as e:
        progress_measures(load_run(toy))
    words = str(e.value)
    assert "\n" not in words and "run.family.progress(run)" in words
    assert "grok-interp progress" in words
