"""examples/quickstart.ipynb runs through a real Jupyter kernel and shows the tables."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

from grok_interp.report import analyze

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_notebook_executes():
    nb = nbformat.read(ROOT / "examples" / "quickstart.ipynb", as_version=4)
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT / "examples")}},
    ).execute()
    html = [
        o.get("data", {}).get("text/html", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    ]
    joined = "\n".join(html)
    keys = analyze(ROOT / "checkpoints" / "mainline.pt").results["neuron_logit_map"].key_freqs
    assert f"<td>{', '.join(map(str, keys))}</td>" in joined  # Table 5, computed
    assert "Ablations" in joined and "Neuron-logit map" in joined
    assert "circuits-vis" in joined
    figures = [h for h in html if "plotly" in h and "Plotly.newPlot" in h]
    assert len(figures) == 3  # the figures are HTML too, so nbconvert's page shows them
    pngs = [
        o["data"]["image/png"]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if "image/png" in o.get("data", {})
    ]
    assert len(pngs) == 3 and all(len(p) > 1000 for p in pngs)  # and PNG, which GitHub shows
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
