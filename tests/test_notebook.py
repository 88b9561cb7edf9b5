"""Every notebook in examples/ runs through a real Jupyter kernel (this checkout's
grok_interp) and shows its tables and figures without errors."""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from grok_interp.report import analyze

ROOT = Path(__file__).resolve().parents[1]

# Per paper notebook: the figures it draws (each as HTML and PNG).
PAPER_NOTEBOOKS = {"varma": 3, "liu": 3, "humayun": 3, "nanda_d3": 4, "vanrossem_parity": 4}


def execute(name: str, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    """The notebook ``name`` executed from examples/, as a reader runs it there."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [
        str(ROOT), os.environ.get("PYTHONPATH")])))  # fmt: skip
    nb = nbformat.read(ROOT / "examples" / f"{name}.ipynb", as_version=4)
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT / "examples")}},
    ).execute()
    return nb


def outputs(nb: nbformat.NotebookNode, mime: str) -> list[str]:
    return [
        o["data"][mime]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if mime in o.get("data", {})
    ]


def errors(nb: nbformat.NotebookNode) -> list[dict]:
    return [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


@pytest.mark.slow
def test_quickstart_notebook_executes(monkeypatch):
    nb = execute("quickstart", monkeypatch)
    html = outputs(nb, "text/html")
    joined = "\n".join(html)
    report = analyze(ROOT / "checkpoints" / "mainline.pt", over_training=False)
    keys = report.results["neuron_logit_map"].key_freqs
    assert f"<td>{', '.join(map(str, keys))}</td>" in joined  # Table 5, computed
    assert "Ablations" in joined and "Neuron-logit map" in joined
    assert "circuits-vis" in joined
    streams = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "('sign', 'standard_sign')" in streams  # the S5 group checkpoint's key irreps
    figures = [h for h in html if "plotly" in h and "Plotly.newPlot" in h]
    assert len(figures) == 3  # the figures are HTML too, so nbconvert's page shows them
    pngs = outputs(nb, "image/png")
    assert len(pngs) == 3 and all(len(p) > 1000 for p in pngs)  # and PNG, which GitHub shows
    assert not errors(nb)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PAPER_NOTEBOOKS))
def test_paper_notebook_executes(name, monkeypatch):
    nb = execute(name, monkeypatch)
    assert not errors(nb)
    figures = [h for h in outputs(nb, "text/html") if "Plotly.newPlot" in h]
    pngs = outputs(nb, "image/png")
    assert len(figures) >= PAPER_NOTEBOOKS[name]
    assert len(pngs) == len(figures) and all(len(p) > 1000 for p in pngs)
    assert all(not c.get("outputs") for c in nbformat.read(
        ROOT / "examples" / f"{name}.ipynb", as_version=4).cells if c.cell_type == "code")
    streams = ["".join(o.get("text", "")) for c in nb.cells for o in c.get("outputs", [])]
    assert not [s for s in streams if "IProgress" in s]  # tqdm.auto's warning, filtered
