"""The Report as a typed object and as files: report.json holds numbers, lists and nulls
under the Results' own field names (checked against the Results), tensors go to
tensors.safetensors, and the Report gives typed access by analysis name."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from grok_interp.analyses.ablations import AblationsResult
from grok_interp.analyses.catalog import PAIR_ANALYSES
from grok_interp.analyses.neurons import NeuronsResult
from grok_interp.report import SCHEMA_VERSION, analyze
from grok_interp.runs import load_run

ROOT = Path(__file__).resolve().parents[1]
MAINLINE = ROOT / "checkpoints" / "mainline.pt"


@pytest.fixture(scope="module")
def saved(tmp_path_factory, mainline_report):
    out = tmp_path_factory.mktemp("report")
    report = mainline_report
    report.save(out, figures=False)
    return (
        report,
        json.loads((out / "report.json").read_text()),
        load_file(out / "tensors.safetensors"),
    )


def _numbers_only(x):
    if isinstance(x, dict):
        return all(_numbers_only(v) for v in x.values())
    if isinstance(x, list):
        return all(_numbers_only(v) for v in x)
    return x is None or isinstance(x, (int, float, bool, str))


def test_json_is_typed_and_matches_the_results(saved):
    report, doc, tensors = saved
    assert doc["schema"] == "grok_interp.report" and doc["schema_version"] == SCHEMA_VERSION
    assert _numbers_only(doc)
    assert set(doc["results"]) == set(PAIR_ANALYSES)
    assert doc["losses"]["test"]["loss"] == report.losses["test"][0]
    fit = doc["results"]["logit_fit"]["values"]
    assert fit["fve"] == report.logit_fit.fve and isinstance(fit["fve"], float)
    assert fit["loss_model"] == report.logit_fit.loss_model  # per pair set, by name
    assert doc["results"]["logit_fit"]["notes"] == report.logit_fit.notes()
    wl = doc["results"]["neuron_logit_map"]["values"]
    assert wl["key_freqs"] == list(report.neuron_logit_map.key_freqs)
    heads = doc["results"]["attention"]["values"]["heads"]
    assert [h["score_fve"] for h in heads] == [h.score_fve for h in report.attention.heads]
    rows = doc["results"]["ablations"]["values"]["rows"]
    assert rows[0]["name"] == "none" and rows[0]["loss"] == report.ablations.rows[0].loss
    ref = doc["results"]["neurons"]["values"]["fve"]
    assert ref == {"tensor": "neurons.fve", "shape": list(report.neurons.fve.shape)}
    assert torch.equal(tensors["neurons.fve"], report.neurons.fve)
    assert torch.equal(tensors["embedding.norms"], report.embedding.norms)


def test_nan_is_null_not_a_string(tmp_path):
    task_run = load_run(MAINLINE)
    from grok_interp.tasks import Task

    report = analyze(task_run, Task(p=113, token_format="a b ="))
    doc = report.to_json({})
    assert "NaN" not in json.dumps(doc)
    report4 = report.to_json()
    assert isinstance(report4["results"]["embedding"]["values"]["norms"], list)


def test_typed_access(mainline_report):
    report = mainline_report
    assert isinstance(report.neurons, NeuronsResult) and report.neurons.clusters
    assert isinstance(report.ablations, AblationsResult)
    assert math.isfinite(report.ablations.get("none").loss["test"])
    assert "ran:" in repr(report) and len(repr(report)) < 300


@pytest.mark.slow
def test_mypy_sees_the_types_from_a_users_script(tmp_path):
    script = tmp_path / "user.py"
    script.write_text(
        "from grok_interp import analyze, load_run\n"
        "report = analyze('checkpoints/mainline.pt')\n"
        "assert report.neurons is not None\n"
        "n: int = len(report.neurons.clusters)\n"
        "run = load_run('checkpoints/mainline.pt')\n"
        "epoch: int = run.epoch\n"
        "wrong: str = report.neurons.clusters\n"
    )
    # the repository's own mypy cache (incremental mode rechecks what changed): the
    # package's and torch's types, read once here, serve `mypy grok_interp` after it
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(repo / "pyproject.toml"),
         "--cache-dir", str(repo / ".mypy_cache"), str(script)],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert "import-not-found" not in out.stdout and "import-untyped" not in out.stdout, out.stdout
    assert "user.py:7: error: Incompatible types in assignment" in out.stdout, out.stdout
    assert "Found 1 error in 1 file" in out.stdout, out.stdout  # only the planted one


def test_every_figure_has_a_title_with_its_section_and_axis_titles(mainline_report):
    report = mainline_report
    for name, fig in report.figures():
        title = fig.layout.title.text
        # Liu et al. as Kolber's slides; Chughtai et al. by their code's metric functions
        cites = ("Section", "Appendix", "Figure", "slide", "code")
        assert title and any(w in title for w in cites), name
        assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text, name
    assert "Section 4.2" in report.neuron_logit_map.figure().layout.title.text


def test_markdown_tables_keep_counts_whole():
    """A table of epochs, layers and sizes beside measured floats: the counts print as
    integers (pandas' own to_markdown turns a mixed frame into floats: epoch 12000 read
    '12000.00', or '1.2e+04' under a .3g format), the floats in the format asked for."""
    import pandas as pd

    from grok_interp.analyses.common import markdown

    def cells(text):
        return [[c.strip() for c in line.split("|")[1:-1]] for line in text.splitlines()[2:]]

    frame = pd.DataFrame({"epoch": [0, 12000], "layer": [0, 1], "density": [35.0, 8.1749]})
    assert cells(markdown(frame, ".2f")) == [["0", "0", "35.00"], ["12000", "1", "8.17"]]
    pivot = frame.set_index("epoch")[["density"]]
    assert cells(markdown(pivot, ".3g", index=True)) == [["0", "35"], ["12000", "8.17"]]
    steps = pd.DataFrame({"at": pd.array([46953, None], dtype="Int64"), "acc": [0.99, 0.5]})
    assert cells(markdown(steps)) == [["46953", "0.99"], ["", "0.5"]]  # not 4.695e+04
